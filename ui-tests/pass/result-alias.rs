//! An alias of `Result` whose name ends in `Result` is read as one: its error type is
//! converted from the `Denied` (reported on the alias when it cannot be).
use sentinel::Denied;

#[derive(Debug)]
pub enum ApiError {
    Denied(Denied),
}

impl From<Denied> for ApiError {
    fn from(denied: Denied) -> Self {
        ApiError::Denied(denied)
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[sentinel::guarded(policy = "p")]
fn fetch(id: u64) -> ApiResult<u64> {
    Ok(id)
}

#[sentinel::guarded(policy = "p")]
async fn fetch_later(id: u64) -> ApiResult<u64> {
    Ok(id)
}

fn main() {
    // No client is configured: denied, the body not run.
    assert!(matches!(fetch(7), Err(ApiError::Denied(_))));
    let later = fetch_later(7);
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    assert!(matches!(runtime.block_on(later), Err(ApiError::Denied(_))));
}
