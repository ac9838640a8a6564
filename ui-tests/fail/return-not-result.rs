#[sentinel::guarded(policy = "fintech.payments")]
fn pay(amount: u64) -> u64 {
    amount
}

#[sentinel::guarded(policy = "fintech.payments")]
fn refund(amount: u64) -> Option<u64> {
    Some(amount)
}

fn main() {}
