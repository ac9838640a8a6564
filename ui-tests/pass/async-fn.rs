//! `async fn`s, free and methods, stay `async`, and their futures stay `Send`.
#![deny(warnings)]
use sentinel::{Context, Denied, WithContextExt};

#[sentinel::guarded(policy = "fintech.payments", kind = "payment")]
async fn pay(amount: u64, to: String) -> Result<u64, Denied> {
    let _ = to;
    tokio::task::yield_now().await;
    Ok(amount)
}

#[sentinel::guarded(policy = "p", context = ctx)]
async fn with_ctx(ctx: &Context, n: u8) -> Result<u8, Denied> {
    Ok(n)
}

struct Agent {
    name: String,
}

impl Agent {
    #[sentinel::guarded(policy = "p")]
    async fn act(&self, what: &str) -> Result<String, Denied> {
        Ok(format!("{} {what}", self.name))
    }

    #[sentinel::guarded(policy = "p")]
    async fn finish(self) -> Result<String, Denied> {
        Ok(self.name)
    }
}

fn assert_send<F: std::future::Future + Send>(f: F) -> F {
    f
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let denied = assert_send(pay(5, "vendor".into()))
        .with_context(Context::new("run-1"))
        .await
        .unwrap_err();
    assert!(denied.is_fallback());
    let ctx = Context::new("run-2");
    assert!(assert_send(with_ctx(&ctx, 1)).await.is_err());
    let agent = Agent { name: "a".into() };
    assert!(assert_send(agent.act("x")).await.is_err());
    assert!(assert_send(agent.finish()).await.is_err());
}
