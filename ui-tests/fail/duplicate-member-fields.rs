#[sentinel::guarded(policy = "fintech.payments", fields(currency = "USD", amount = 1))]
fn pay(amount: u64) -> Result<(), sentinel::Denied> {
    let _ = amount;
    Ok(())
}

#[sentinel::guarded(
    policy = "fintech.payments",
    fields(currency = "USD", currency = "EUR"),
    meta(a = 1, a = 2)
)]
fn refund(amount: u64) -> Result<(), sentinel::Denied> {
    let _ = amount;
    Ok(())
}

fn main() {}
