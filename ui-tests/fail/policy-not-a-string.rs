#[sentinel::guarded(policy = fintech.payments)]
fn pay(amount: u64) -> Result<(), sentinel::Denied> {
    let _ = amount;
    Ok(())
}

const POLICY: &str = "fintech.payments";

#[sentinel::guarded(policy = POLICY)]
fn refund(amount: u64) -> Result<(), sentinel::Denied> {
    let _ = amount;
    Ok(())
}

#[sentinel::guarded(policy = "")]
fn empty(amount: u64) -> Result<(), sentinel::Denied> {
    let _ = amount;
    Ok(())
}

fn main() {}
