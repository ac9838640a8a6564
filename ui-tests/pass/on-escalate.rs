//! `on_escalate`: a literal timeout in every unit, a per-call timeout (a `Duration`,
//! `&Duration` or `Option<Duration>` expression, a parameter named there being not sent),
//! `deny`, sync and async, free functions and methods; async futures stay `Send`.
#![deny(warnings)]
use std::time::Duration;

use sentinel::{Context, Denied, WithContextExt};

#[sentinel::guarded(policy = "fintech.payments", kind = "payment", on_escalate = wait(timeout = "10m"))]
fn pay(amount: u64, to: &str) -> Result<u64, Denied> {
    let _ = to;
    Ok(amount)
}

#[sentinel::guarded(policy = "p", on_escalate = wait(timeout = "500ms"))]
fn millis(n: u8) -> Result<u8, Denied> {
    Ok(n)
}

#[sentinel::guarded(policy = "p", on_escalate = wait(timeout = " 1_000 s "))]
fn seconds(n: u8) -> Result<u8, Denied> {
    Ok(n)
}

#[sentinel::guarded(policy = "p", on_escalate = wait(timeout = "1h"), skip(note))]
fn hours(n: u8, note: &str) -> Result<u8, Denied> {
    let _ = note;
    Ok(n)
}

// `patience` says how long to wait; it is not part of the action, so it is not sent.
#[sentinel::guarded(policy = "p", on_escalate = wait(timeout = patience))]
fn per_call(n: u8, patience: Duration) -> Result<u8, Denied> {
    Ok(n)
}

#[sentinel::guarded(policy = "p", on_escalate = wait(timeout = *patience))]
fn per_call_ref(n: u8, patience: &Duration) -> Result<u8, Denied> {
    let _ = patience;
    Ok(n)
}

#[sentinel::guarded(policy = "p", on_escalate = wait(timeout = patience))]
fn maybe_wait(n: u8, patience: Option<Duration>) -> Result<u8, Denied> {
    Ok(n)
}

// Computed from a sent argument, which stays sent.
#[sentinel::guarded(policy = "p", on_escalate = wait(timeout = Duration::from_secs(minutes * 60)))]
fn computed(minutes: u64) -> Result<u64, Denied> {
    Ok(minutes)
}

const PATIENCE: Duration = Duration::from_secs(30);

#[sentinel::guarded(policy = "p", on_escalate = wait(timeout = &PATIENCE))]
fn from_a_const(n: u8) -> Result<u8, Denied> {
    Ok(n)
}

#[sentinel::guarded(policy = "p", on_escalate = deny)]
fn explicit_default(n: u8) -> Result<u8, Denied> {
    Ok(n)
}

#[sentinel::guarded(policy = "p", on_escalate = wait(timeout = "30s"))]
async fn pay_async(amount: u64) -> Result<u64, Denied> {
    tokio::task::yield_now().await;
    Ok(amount)
}

#[sentinel::guarded(policy = "p", context = ctx, on_escalate = wait(timeout = patience))]
async fn per_call_async(ctx: &Context, patience: Duration, n: u8) -> Result<u8, Denied> {
    Ok(n)
}

struct Agent {
    patience: Duration,
}

impl Agent {
    #[sentinel::guarded(policy = "p", on_escalate = wait(timeout = self.patience))]
    fn act(&self, what: &str) -> Result<String, Denied> {
        Ok(what.to_owned())
    }

    #[sentinel::guarded(policy = "p", on_escalate = wait(timeout = self.patience))]
    async fn act_async(&self, what: &str) -> Result<String, Denied> {
        Ok(what.to_owned())
    }
}

fn assert_send<F: std::future::Future + Send>(f: F) -> F {
    f
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    // No client is configured: every call is denied at once, before any wait.
    assert!(pay(5, "vendor").unwrap_err().is_fallback());
    assert!(millis(1).is_err());
    assert!(seconds(1).is_err());
    assert!(hours(1, "n").is_err());
    assert!(per_call(1, Duration::from_secs(5)).is_err());
    assert!(per_call_ref(1, &Duration::from_secs(5)).is_err());
    assert!(maybe_wait(1, None).is_err());
    assert!(computed(2).is_err());
    assert!(from_a_const(1).is_err());
    assert!(explicit_default(1).is_err());
    let denied = assert_send(pay_async(5))
        .with_context(Context::new("run-1"))
        .await
        .unwrap_err();
    assert!(denied.is_fallback());
    let ctx = Context::new("run-2");
    assert!(assert_send(per_call_async(&ctx, Duration::from_secs(1), 1))
        .await
        .is_err());
    let agent = Agent {
        patience: Duration::from_secs(1),
    };
    assert!(agent.act("x").is_err());
    assert!(assert_send(agent.act_async("x")).await.is_err());
}
