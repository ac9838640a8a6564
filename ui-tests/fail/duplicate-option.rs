#[sentinel::guarded(
    policy = "fintech.payments",
    kind = "payment",
    policy = "other",
    skip(a),
    skip(b)
)]
fn pay(a: u64, b: u64) -> Result<(), sentinel::Denied> {
    let _ = (a, b);
    Ok(())
}

fn main() {}
