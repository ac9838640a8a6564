#[sentinel::guarded(policy = "fintech.payments", client = "http://127.0.0.1:4000")]
fn pay(amount: u64) -> Result<(), sentinel::Denied> {
    let _ = amount;
    Ok(())
}

fn main() {}
