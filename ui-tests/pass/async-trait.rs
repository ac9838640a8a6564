//! Methods of `#[async_trait]` impls: async_trait rewrites them before #[guarded] sees them.
#![deny(warnings)]
use async_trait::async_trait;
use sentinel::Denied;
use serde::Serialize;

#[derive(Serialize)]
pub struct Req {
    pub to: String,
}

pub struct Parameters<T>(pub T);

#[async_trait]
pub trait Tool {
    async fn call(&self, input: String, n: u8) -> Result<String, Denied>;
    async fn pay(&self, req: Parameters<Req>) -> Result<String, Denied>;
    async fn by_ref(&self, input: &str) -> Result<usize, Denied>;
}

pub struct Search;

#[async_trait]
impl Tool for Search {
    #[sentinel::guarded(policy = "p", kind = "search")]
    async fn call(&self, input: String, n: u8) -> Result<String, Denied> { Ok(format!("{input}{n}")) }

    #[sentinel::guarded(policy = "p", payload = req)]
    async fn pay(&self, Parameters(req): Parameters<Req>) -> Result<String, Denied> {
        Ok(req.to)
    }

    #[sentinel::guarded(policy = "p")]
    async fn by_ref(&self, input: &str) -> Result<usize, Denied> {
        Ok(input.len())
    }
}

fn assert_send<T: Send>(_: &T) {}

fn main() {
    let future = Search.call("x".into(), 1);
    assert_send(&future);
    let _future = Search.pay(Parameters(Req { to: "v".into() }));
    let _future = Search.by_ref("abc");
}
