pub struct Key(u64);

#[sentinel::guarded(policy = "fintech.payments", id = Key(amount))]
fn pay(amount: u64) -> Result<(), sentinel::Denied> {
    Ok(())
}

fn main() {}
