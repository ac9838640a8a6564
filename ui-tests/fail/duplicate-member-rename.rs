#[sentinel::guarded(policy = "fintech.payments", rename(to = "from"))]
fn pay(amount: u64, from: &str, to: &str) -> Result<(), sentinel::Denied> {
    let _ = (amount, from, to);
    Ok(())
}

fn main() {}
