#[sentinel::guarded(policy = "fintech.payments")]
fn pay(amount: u64) {
    let _ = amount;
}

fn main() {}
