//! The body is untouched: `return`, `?`, early exits, shadowing, closures, items and
//! locals that look like the macro's own all behave as written.
#![deny(warnings)]
use sentinel::Denied;

#[derive(Debug)]
enum Error {
    Denied(Denied),
    Parse(std::num::ParseIntError),
}

impl From<Denied> for Error {
    fn from(d: Denied) -> Self {
        Error::Denied(d)
    }
}

impl From<std::num::ParseIntError> for Error {
    fn from(e: std::num::ParseIntError) -> Self {
        Error::Parse(e)
    }
}

#[sentinel::guarded(policy = "p")]
fn parse(text: &str, limit: u32) -> Result<u32, Error> {
    if text.is_empty() {
        return Ok(0);
    }
    let text = text.trim(); // shadows the argument
    let limit = limit + 1;
    let value: u32 = text.parse()?;
    let doubled = (|| {
        return value * 2; // returns from the closure only
    })();
    for i in 0.. {
        if i > limit {
            break;
        }
    }
    fn helper(x: u32) -> u32 {
        x
    }
    let __sentinel_payload = helper(doubled);
    let __sentinel_denied = __sentinel_payload;
    Ok(__sentinel_denied)
}

#[sentinel::guarded(policy = "p")]
fn payload_named_like_the_macro(__sentinel_payload: u8, __sentinel_denied: u8) -> Result<u8, Denied> {
    Ok(__sentinel_payload + __sentinel_denied)
}

#[sentinel::guarded(policy = "p")]
fn calls_another(n: u8) -> Result<u8, Denied> {
    let inner = payload_named_like_the_macro(n, n)?;
    Ok(inner)
}

#[sentinel::guarded(policy = "p")]
fn diverges(n: u8) -> Result<std::convert::Infallible, Denied> {
    loop {
        let _ = n;
        std::process::abort();
    }
}

fn main() {
    assert!(matches!(parse("12", 3), Err(Error::Denied(_))));
    assert!(payload_named_like_the_macro(1, 2).is_err());
    assert!(calls_another(1).is_err());
    assert!(diverges(1).is_err());
}
