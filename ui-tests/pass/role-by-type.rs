//! `context = …` takes the context in every form a parameter can hold it (an alias, a
//! reference, a `Box`, an `Arc`, an `Option` whose `None` means the context in scope); a
//! type of the user's own that happens to be called `Context` is an argument like any other.
use std::sync::Arc;

use sentinel::Denied;

type RunContext = sentinel::Context;

mod app {
    /// The application's own context: a plain argument, sent in the payload.
    #[derive(serde::Serialize)]
    pub struct Context {
        pub tenant: String,
    }
}

#[sentinel::guarded(policy = "p", context = run)]
fn aliased(run: RunContext, n: u8) -> Result<u8, Denied> {
    let _ = run;
    Ok(n)
}

#[sentinel::guarded(policy = "p", context = ctx)]
fn optional(ctx: Option<&sentinel::Context>, n: u8) -> Result<u8, Denied> {
    Ok(n)
}

#[sentinel::guarded(policy = "p", context = ctx, skip(shared))]
fn boxed(ctx: Box<sentinel::Context>, shared: Arc<sentinel::Context>, n: u8) -> Result<u8, Denied> {
    let _ = shared;
    Ok(n)
}

#[sentinel::guarded(policy = "p", context = ctx)]
fn shared(ctx: Arc<sentinel::Context>, n: u8) -> Result<u8, Denied> {
    Ok(n)
}

// payload: {"ctx": {"tenant": …}, "n": …}
#[sentinel::guarded(policy = "p")]
fn own_context(ctx: app::Context, n: u8) -> Result<u8, Denied> {
    Ok(n + ctx.tenant.len() as u8)
}

fn main() {
    // No client is configured: every call is denied and no body runs.
    let run = || sentinel::Context::new("run-1");
    assert!(aliased(run(), 1).is_err());
    assert!(optional(None, 1).is_err());
    assert!(optional(Some(&run()), 1).is_err());
    assert!(boxed(Box::new(run()), Arc::new(run()), 1).is_err());
    assert!(shared(Arc::new(run()), 1).is_err());
    let tenant = app::Context {
        tenant: "acme".into(),
    };
    assert!(own_context(tenant, 1).is_err());
}
