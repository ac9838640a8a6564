//! A per-call timeout is a `Duration` (or `Option<Duration>`), and the parameter it names
//! is not sent.
use std::time::Duration;

#[sentinel::guarded(policy = "p", on_escalate = wait(timeout = secs))]
fn seconds_as_u64(n: u8, secs: u64) -> Result<u8, sentinel::Denied> {
    Ok(n)
}

#[sentinel::guarded(policy = "p", on_escalate = wait(timeout = patience), rename(patience = "wait"))]
fn renamed(n: u8, patience: Duration) -> Result<u8, sentinel::Denied> {
    let _ = patience;
    Ok(n)
}

fn main() {}
