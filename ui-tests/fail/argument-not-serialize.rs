pub struct Account {
    pub id: String,
}

#[sentinel::guarded(policy = "fintech.payments")]
fn pay(amount: u64, from: Account, to: &str) -> Result<(), sentinel::Denied> {
    let _ = (amount, from, to);
    Ok(())
}

fn main() {}
