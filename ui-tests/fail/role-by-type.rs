//! Whether a parameter is the call's context or client is decided by its type, not by how
//! it is spelt: an alias, a reference, a `Box`, an `Arc` or an `Option` of a
//! `sentinel::Context` is caught as surely as `Context` itself. Sent as an argument it
//! would not be the context the call is checked under (that is the one in scope), and
//! `skip(client)` would silently ask through the global client.
use std::sync::Arc;

use sentinel::{Context, Denied, SentinelClient};

type RunContext = sentinel::Context;

#[sentinel::guarded(policy = "p")]
fn borrowed(ctx: &Context, n: u8) -> Result<u8, Denied> {
    let _ = ctx;
    Ok(n)
}

#[sentinel::guarded(policy = "p")]
fn aliased(run: RunContext, n: u8) -> Result<u8, Denied> {
    let _ = run;
    Ok(n)
}

#[sentinel::guarded(policy = "p")]
fn optional(ctx: Option<&Context>, n: u8) -> Result<u8, Denied> {
    let _ = ctx;
    Ok(n)
}

#[sentinel::guarded(policy = "p")]
fn boxed(ctx: Box<Context>, shared: Arc<Context>, n: u8) -> Result<u8, Denied> {
    let _ = (ctx, shared);
    Ok(n)
}

#[sentinel::guarded(policy = "p")]
fn ask(client: &SentinelClient, n: u8) -> Result<u8, Denied> {
    let _ = client;
    Ok(n)
}

#[sentinel::guarded(policy = "p")]
fn ask_shared(client: Arc<SentinelClient>, n: u8) -> Result<u8, Denied> {
    let _ = client;
    Ok(n)
}

fn main() {}
