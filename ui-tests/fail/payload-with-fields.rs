//! With `payload = req`, `req`'s members are the payload, and they are known only when it
//! is serialized: a `fields(…)` constant beside them could repeat one, which could not be
//! caught before run time, so the two are not combined.
#[derive(serde::Serialize)]
pub struct Transfer {
    pub to: String,
    pub currency: String,
}

#[sentinel::guarded(policy = "p", payload = req, fields(currency = "USD"))]
fn pay(req: Transfer) -> Result<String, sentinel::Denied> {
    Ok(req.to)
}

fn main() {}
