//! Timeouts written as literals are read at compile time: a number and a unit (ms, s, m, h),
//! never zero, never too long to represent.
#[sentinel::guarded(policy = "p", on_escalate = wait(timeout = "10"))]
fn no_unit(n: u8) -> Result<u8, sentinel::Denied> {
    Ok(n)
}

#[sentinel::guarded(policy = "p", on_escalate = wait(timeout = 10))]
fn a_number(n: u8) -> Result<u8, sentinel::Denied> {
    Ok(n)
}

#[sentinel::guarded(policy = "p", on_escalate = wait(timeout = "0s"))]
fn zero(n: u8) -> Result<u8, sentinel::Denied> {
    Ok(n)
}

#[sentinel::guarded(policy = "p", on_escalate = wait(timeout = "2d"))]
fn days(n: u8) -> Result<u8, sentinel::Denied> {
    Ok(n)
}

#[sentinel::guarded(policy = "p", on_escalate = wait(timeout = "10 minutes"))]
fn spelled_out(n: u8) -> Result<u8, sentinel::Denied> {
    Ok(n)
}

#[sentinel::guarded(policy = "p", on_escalate = wait(timeout = "10M"))]
fn upper_case(n: u8) -> Result<u8, sentinel::Denied> {
    Ok(n)
}

#[sentinel::guarded(policy = "p", on_escalate = wait(timeout = "1h30m"))]
fn compound(n: u8) -> Result<u8, sentinel::Denied> {
    Ok(n)
}

#[sentinel::guarded(policy = "p", on_escalate = wait(timeout = "1.5h"))]
fn fraction(n: u8) -> Result<u8, sentinel::Denied> {
    Ok(n)
}

#[sentinel::guarded(policy = "p", on_escalate = wait(timeout = "5000000000000000h"))]
fn overflow(n: u8) -> Result<u8, sentinel::Denied> {
    Ok(n)
}

#[sentinel::guarded(policy = "p", on_escalate = wait(timeout = ""))]
fn empty(n: u8) -> Result<u8, sentinel::Denied> {
    Ok(n)
}

#[sentinel::guarded(policy = "p", on_escalate = wait(timeout = "ten minutes"))]
fn words(n: u8) -> Result<u8, sentinel::Denied> {
    Ok(n)
}

fn main() {}
