//! In receipt mode the result is digested into the signed execution receipt and a failed
//! execution's receipt carries the error's message: a `T` that is not `Serialize` and an
//! `E` that is not `Display` are reported on the `T` and the `E` the user wrote.
use sentinel::Denied;

pub struct Report {
    pub total: u64,
}

#[derive(Debug)]
pub struct QuietError(Denied);

impl From<Denied> for QuietError {
    fn from(denied: Denied) -> Self {
        QuietError(denied)
    }
}

#[sentinel::guarded(policy = "p", kind = "report.build", receipt)]
fn build(total: u64) -> Result<Report, Denied> {
    Ok(Report { total })
}

#[sentinel::guarded(policy = "p", kind = "report.send", receipt)]
fn send(total: u64) -> Result<u64, QuietError> {
    Ok(total)
}

fn main() {}
