#[sentinel::guarded(policy = "fintech.payments", kind = payment)]
fn pay(amount: u64) -> Result<(), sentinel::Denied> {
    let _ = amount;
    Ok(())
}

fn main() {}
