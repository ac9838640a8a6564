//! Every way of spelling a Result whose error accepts a `Denied`.
#![deny(warnings)]
use std::error::Error;

use sentinel::Denied;

type BoxError = Box<dyn Error + Send + Sync>;

#[sentinel::guarded(policy = "p")]
fn boxed(n: u8) -> Result<u8, Box<dyn Error + Send + Sync>> {
    Ok(n)
}

#[sentinel::guarded(policy = "p")]
fn aliased_error(n: u8) -> Result<u8, BoxError> {
    Ok(n)
}

#[sentinel::guarded(policy = "p")]
fn io_result(n: u8) -> std::io::Result<u8> {
    Ok(n)
}

#[sentinel::guarded(policy = "p")]
async fn io_error(n: u8) -> Result<u8, std::io::Error> {
    Ok(n)
}

#[sentinel::guarded(policy = "p")]
fn denied(n: u8) -> Result<u8, sentinel::Denied> {
    Ok(n)
}

#[sentinel::guarded(policy = "p")]
fn qualified(n: u8) -> ::core::result::Result<u8, Denied> {
    Ok(n)
}

#[sentinel::guarded(policy = "p")]
#[allow(unused_parens)]
fn parenthesized(n: u8) -> (std::result::Result<u8, Denied>) {
    Ok(n)
}

/// An anyhow-style alias named `Result`.
mod app {
    #[derive(Debug)]
    pub struct AppError(pub String);
    impl From<sentinel::Denied> for AppError {
        fn from(denied: sentinel::Denied) -> Self {
            AppError(denied.to_string())
        }
    }
    pub type Result<T, E = AppError> = std::result::Result<T, E>;
}

#[sentinel::guarded(policy = "p")]
fn alias(n: u8) -> app::Result<u8> {
    Ok(n)
}

#[sentinel::guarded(policy = "p")]
fn alias_with_error(n: u8) -> app::Result<u8, BoxError> {
    Ok(n)
}

fn main() {
    assert!(boxed(1)
        .unwrap_err()
        .to_string()
        .starts_with("sentinel BLOCK boxed under p: "));
    assert!(aliased_error(1).is_err());
    let io = io_result(1).unwrap_err();
    assert_eq!(io.kind(), std::io::ErrorKind::PermissionDenied);
    assert!(io.get_ref().is_some_and(|e| e.is::<Denied>()));
    let _future = io_error(1);
    assert!(denied(1).is_err());
    assert!(qualified(1).is_err());
    assert!(parenthesized(1).is_err());
    assert!(alias(1)
        .unwrap_err()
        .0
        .contains("no Sentinel client is configured"));
    assert!(alias_with_error(1).is_err());
}
