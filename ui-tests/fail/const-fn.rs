#[sentinel::guarded(policy = "p")]
const fn pay(amount: u64) -> Result<u64, sentinel::Denied> {
    Ok(amount)
}

fn main() {}
