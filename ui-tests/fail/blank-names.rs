// Blank names are refused everywhere, as a blank policy or kind is.
#[sentinel::guarded(policy = "p", rename(to = ""))]
fn pay(to: &str) -> Result<(), sentinel::Denied> {
    let _ = to;
    Ok(())
}

#[sentinel::guarded(policy = "p", fields(" " = 1))]
fn refund(amount: u64) -> Result<u64, sentinel::Denied> {
    Ok(amount)
}

#[sentinel::guarded(policy = " ", kind = "")]
fn charge(amount: u64) -> Result<u64, sentinel::Denied> {
    Ok(amount)
}

fn main() {}
