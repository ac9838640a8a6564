use sentinel::Denied;

#[sentinel::guarded(policy = "p")]
#[sentinel::guarded(policy = "p", kind = "again")]
fn pay(amount: u64) -> Result<u64, Denied> {
    Ok(amount)
}

fn main() {}
