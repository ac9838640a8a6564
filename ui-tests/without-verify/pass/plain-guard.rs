//! Without `verify`, a guarded function that is not in receipt mode compiles and runs
//! (denied: no client is installed, and the guard fails closed).
#![deny(warnings)]

#[sentinel::guarded(policy = "fintech.payments", kind = "payment")]
fn pay(amount: u64, to: &str) -> Result<u64, sentinel::Denied> {
    let _ = to;
    Ok(amount)
}

fn main() {
    assert!(pay(1, "vendor_42").is_err());
}
