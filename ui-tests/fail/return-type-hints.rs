//! A return type the attribute does not read as a `Result` gets the fix that applies: an
//! alias of `Result` under another name is to be named `…Result` (or written out); a
//! function returning a future is to be written as an `async fn`.
use std::future::Future;

use sentinel::Denied;

pub type Outcome<T> = Result<T, Denied>;

#[sentinel::guarded(policy = "p")]
fn aliased(n: u8) -> Outcome<u8> {
    Ok(n)
}

#[sentinel::guarded(policy = "p")]
fn future(n: u8) -> impl Future<Output = Result<u8, Denied>> {
    async move { Ok(n) }
}

fn main() {}
