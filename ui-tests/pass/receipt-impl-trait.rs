//! Receipt mode keeps the function's return type as written, `impl Trait` included (the
//! body's closure leaves it to inference), and `?` inside the body still converts into the
//! function's error type.
use std::fmt::Display;

use sentinel::Denied;

#[derive(Debug)]
pub enum ShowError {
    Denied(Denied),
    Parse(std::num::ParseIntError),
}

impl From<Denied> for ShowError {
    fn from(denied: Denied) -> Self {
        ShowError::Denied(denied)
    }
}

impl From<std::num::ParseIntError> for ShowError {
    fn from(error: std::num::ParseIntError) -> Self {
        ShowError::Parse(error)
    }
}

impl std::fmt::Display for ShowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

#[sentinel::guarded(policy = "p", kind = "report.show", receipt)]
fn show(raw: &str) -> Result<impl Display, ShowError> {
    let n: u32 = raw.parse()?;
    Ok(n * 2)
}

#[sentinel::guarded(policy = "p", kind = "report.list", receipt)]
fn list(n: u8) -> Result<Vec<impl Display + serde::Serialize>, Denied> {
    Ok(vec![n])
}

fn main() {
    // No receipt client is configured: denied, the body not run.
    assert!(matches!(show("21"), Err(ShowError::Denied(_))));
    assert!(list(1).is_err());
}
