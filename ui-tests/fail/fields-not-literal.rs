const CURRENCY: &str = "USD";

#[sentinel::guarded(policy = "fintech.payments", fields(currency = CURRENCY, rate = 1.0 / 3.0), meta(tags = ["a"]))]
fn pay(amount: u64) -> Result<(), sentinel::Denied> {
    let _ = amount;
    Ok(())
}

fn main() {}
