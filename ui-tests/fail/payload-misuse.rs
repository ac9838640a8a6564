use sentinel::Denied;

pub struct Json<T>(pub T);
pub struct State<S>(pub S);

#[sentinel::guarded(policy = "p", payload = rq)]
fn unknown(req: u64) -> Result<(), Denied> {
    let _ = req;
    Ok(())
}

#[sentinel::guarded(policy = "p", payload = req)]
fn other_parameter_not_sent(req: u64, amount: u64) -> Result<(), Denied> {
    let _ = (req, amount);
    Ok(())
}

#[sentinel::guarded(policy = "p", payload = body)]
fn other_pattern_not_sent(State(db): State<u8>, Json(body): Json<u64>) -> Result<(), Denied> {
    let _ = (db, body);
    Ok(())
}

#[sentinel::guarded(policy = "p", payload = req, rename(req = "request"))]
fn renamed(req: u64) -> Result<(), Denied> {
    let _ = req;
    Ok(())
}

#[sentinel::guarded(policy = "p", payload = req, skip(req))]
fn skipped(req: u64) -> Result<(), Denied> {
    let _ = req;
    Ok(())
}

#[sentinel::guarded(policy = "p", payload = "req")]
fn not_a_name(req: u64) -> Result<(), Denied> {
    let _ = req;
    Ok(())
}

fn main() {}
