#[derive(Debug)]
pub enum PayError {
    Insufficient,
}

#[sentinel::guarded(policy = "fintech.payments")]
fn pay(amount: u64) -> Result<u64, PayError> {
    if amount > 10 {
        return Err(PayError::Insufficient);
    }
    Ok(amount)
}

mod app {
    /// An alias that hides the error type: the error is reported on `Result`.
    pub type Result<T> = std::result::Result<T, super::PayError>;
}

#[sentinel::guarded(policy = "fintech.payments")]
fn refund(amount: u64) -> app::Result<u64> {
    Ok(amount)
}

#[sentinel::guarded(policy = "fintech.payments")]
async fn charge(amount: u64) -> Result<u64, PayError> {
    Ok(amount)
}

// A foreign error type: the note says what to return instead (an impl would break the
// orphan rule).
#[sentinel::guarded(policy = "fintech.payments")]
fn describe(amount: u64) -> Result<u64, String> {
    Ok(amount)
}

fn main() {}
