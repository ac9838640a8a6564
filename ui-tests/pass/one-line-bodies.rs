//! One-expression bodies on one line: the attribute must not make rustc suggest removing
//! braces (`unused_braces`), sync or async, free function or method.
#![deny(warnings)]
use sentinel::Denied;

#[sentinel::guarded(policy = "p")]
fn f(n: u8) -> Result<u8, Denied> { Ok(n) }

#[sentinel::guarded(policy = "p")]
async fn g(n: u8) -> Result<u8, Denied> { Ok(n) }

#[sentinel::guarded(policy = "p")]
fn unit() -> Result<(), Denied> { Ok(()) }

struct Tool;

impl Tool {
    #[sentinel::guarded(policy = "p")]
    fn call(&self, n: u8) -> Result<u8, Denied> { Ok(n) }
}

fn main() {
    assert!(f(1).is_err());
    assert!(unit().is_err());
    assert!(Tool.call(1).is_err());
    let _future = g(1);
}
