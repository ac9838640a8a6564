//! Every option at once, sync and async.
#![deny(warnings)]
use std::sync::{Arc, LazyLock};

use sentinel::{Context, Denied, SentinelClient};

static CLIENT: LazyLock<SentinelClient> =
    LazyLock::new(|| SentinelClient::builder("http://127.0.0.1:9").build().unwrap());

struct Db;

#[sentinel::guarded(
    policy = "fintech.payments",
    kind = "payment",
    skip(db),
    rename(to = "recipient", r#type = "method"),
    fields(currency = "USD", live = true, retries = 3, ratio = -0.5, big = 18446744073709551615, "x-source" = "agent"),
    meta(source = "planner", version = 2),
    id = format!("pay-{invoice}"),
    client = &CLIENT,
    context = ctx,
)]
fn pay(db: &Db, ctx: &Context, invoice: u64, amount: u64, to: &str, r#type: &str) -> Result<u64, Denied> {
    let _ = db;
    Ok(amount)
}

#[sentinel::guarded(policy = "p", client = client, context = ctx, id = 7, meta(a = "b"))]
async fn pay_async(client: Arc<SentinelClient>, ctx: Context, amount: u64) -> Result<u64, Denied> {
    Ok(amount)
}

#[sentinel::guarded(policy = "p", client = &*CLIENT)]
fn plain_ref(amount: u64) -> Result<u64, Denied> {
    Ok(amount)
}

#[sentinel::guarded(policy = "p", client = SentinelClient::builder("http://127.0.0.1:9").build().unwrap())]
fn temporary_client(amount: u64) -> Result<u64, Denied> {
    Ok(amount)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let ctx = Context::new("run-1");
    // Port 9 on loopback: nothing listens, so the client fails closed.
    let denied = pay(&Db, &ctx, 7, 100, "vendor", "wire").unwrap_err();
    assert!(denied.is_fallback());
    let client = Arc::new(CLIENT.clone());
    assert!(pay_async(client, ctx, 5).await.is_err());
    assert!(plain_ref(1).is_err());
    assert!(temporary_client(1).is_err());
}
