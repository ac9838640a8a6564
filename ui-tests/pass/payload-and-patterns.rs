//! `payload = param` and pattern parameters, as agent-tool frameworks write them.
#![deny(warnings)]
use sentinel::Denied;
use serde::Serialize;

#[derive(Serialize)]
pub struct Transfer {
    pub to: String,
    pub amount: u64,
}

/// rmcp's wrapper.
pub struct Parameters<T>(pub T);
/// axum's extractors.
pub struct Json<T>(pub T);
pub struct State<S>(pub S);

pub struct Server;

impl Server {
    #[sentinel::guarded(policy = "fintech.payments", kind = "payment", payload = req)]
    pub async fn pay(&self, Parameters(req): Parameters<Transfer>) -> Result<String, Denied> {
        Ok(req.to)
    }
}

#[sentinel::guarded(policy = "fintech.payments", payload = body, skip(db), meta(channel = "http"))]
async fn refund(State(db): State<String>, Json(body): Json<Transfer>) -> Result<u64, Denied> {
    Ok(body.amount + db.len() as u64)
}

#[sentinel::guarded(policy = "fintech.payments", payload = req)]
fn plain(req: Transfer) -> Result<u64, Denied> { Ok(req.amount) }

#[sentinel::guarded(policy = "p", payload = req, skip(verbose))]
fn with_skipped(req: &Transfer, verbose: bool) -> Result<bool, Denied> {
    let _ = req;
    Ok(verbose)
}

/// A pattern parameter kept out of the payload by skipping one of its names.
#[sentinel::guarded(policy = "p", skip(db))]
fn skipped_pattern(State(db): State<u8>, amount: u64) -> Result<u64, Denied> {
    Ok(amount + u64::from(db))
}

fn main() {
    let t = || Transfer { to: "v".into(), amount: 1 };
    let _future = Server.pay(Parameters(t()));
    let _future = refund(State(String::new()), Json(t()));
    assert!(plain(t()).is_err());
    assert!(with_skipped(&t(), true).is_err());
    assert!(skipped_pattern(State(1), 2).is_err());
}
