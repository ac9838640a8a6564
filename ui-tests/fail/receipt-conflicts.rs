//! `receipt` runs the body inside the protected executor: not for an `async fn`, and not
//! with the options that have no meaning there; each is reported where `receipt` is written.
#[sentinel::guarded(policy = "p", kind = "k", receipt)]
async fn not_async(n: u8) -> Result<u8, sentinel::Denied> {
    Ok(n)
}

#[sentinel::guarded(policy = "p", kind = "k", id = n, meta(source = "planner"), receipt)]
fn id_and_meta(n: u8) -> Result<u8, sentinel::Denied> {
    Ok(n)
}

#[sentinel::guarded(policy = "p", kind = "k", on_escalate = wait(timeout = "1m"), receipt)]
fn waiting(n: u8) -> Result<u8, sentinel::Denied> {
    Ok(n)
}

fn main() {}
