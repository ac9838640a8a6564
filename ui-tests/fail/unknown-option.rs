#[sentinel::guarded(policy = "fintech.payments", polcy = "x", action = "payment", retries = 3)]
fn pay(amount: u64) -> Result<(), sentinel::Denied> {
    let _ = amount;
    Ok(())
}

fn main() {}
