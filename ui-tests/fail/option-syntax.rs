#[sentinel::guarded(policy("fintech.payments"), skip = amount, kind =, id)]
fn pay(amount: u64) -> Result<(), sentinel::Denied> {
    let _ = amount;
    Ok(())
}

#[sentinel::guarded(policy = "p" kind = "k")]
fn refund(amount: u64) -> Result<(), sentinel::Denied> {
    let _ = amount;
    Ok(())
}

#[sentinel::guarded("fintech.payments")]
fn charge(amount: u64) -> Result<(), sentinel::Denied> {
    let _ = amount;
    Ok(())
}

fn main() {}
