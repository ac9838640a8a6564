#[sentinel::guarded(policy = "fintech.payments", context = run_id)]
fn pay(run_id: &str, amount: u64) -> Result<(), sentinel::Denied> {
    let _ = (run_id, amount);
    Ok(())
}

fn main() {}
