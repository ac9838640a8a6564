#[sentinel::guarded(policy = "fintech.payments")]
fn pay((amount, to): (u64, String), _: bool, Wrapper(n): Wrapper) -> Result<(), sentinel::Denied> {
    let _ = (amount, to, n);
    Ok(())
}

pub struct Wrapper(u8);

fn main() {}
