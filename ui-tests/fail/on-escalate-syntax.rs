//! Everything but `on_escalate = wait(timeout = …)` or `on_escalate = deny`.
#[sentinel::guarded(policy = "p", on_escalate = wait)]
fn no_timeout(n: u8) -> Result<u8, sentinel::Denied> {
    Ok(n)
}

#[sentinel::guarded(policy = "p", on_escalate = wait())]
fn empty_wait(n: u8) -> Result<u8, sentinel::Denied> {
    Ok(n)
}

#[sentinel::guarded(policy = "p", on_escalate = "10m")]
fn bare_duration(n: u8) -> Result<u8, sentinel::Denied> {
    Ok(n)
}

#[sentinel::guarded(policy = "p", on_escalate = block)]
fn unknown_word(n: u8) -> Result<u8, sentinel::Denied> {
    Ok(n)
}

#[sentinel::guarded(policy = "p", on_escalate = wait("10m"))]
fn unnamed_timeout(n: u8) -> Result<u8, sentinel::Denied> {
    Ok(n)
}

#[sentinel::guarded(policy = "p", on_escalate = wait(timout = "10m"))]
fn misspelled_setting(n: u8) -> Result<u8, sentinel::Denied> {
    Ok(n)
}

#[sentinel::guarded(policy = "p", on_escalate = wait(timeout = "1m", timeout = "2m"))]
fn twice(n: u8) -> Result<u8, sentinel::Denied> {
    Ok(n)
}

#[sentinel::guarded(policy = "p", on_escalate = wait(timeout: "10m"))]
fn colon(n: u8) -> Result<u8, sentinel::Denied> {
    Ok(n)
}

#[sentinel::guarded(policy = "p", on_escalate)]
fn no_value(n: u8) -> Result<u8, sentinel::Denied> {
    Ok(n)
}

#[sentinel::guarded(policy = "p", on_escalate = deny, on_escalate = wait(timeout = "1m"))]
fn given_twice(n: u8) -> Result<u8, sentinel::Denied> {
    Ok(n)
}

#[sentinel::guarded(policy = "p", escalate = wait(timeout = "1m"))]
fn misspelled_option(n: u8) -> Result<u8, sentinel::Denied> {
    Ok(n)
}

#[sentinel::guarded(policy = "p", on_escalate = wait(timeout = "1m") kind = "k")]
fn missing_comma(n: u8) -> Result<u8, sentinel::Denied> {
    Ok(n)
}

fn main() {}
