//! Proxy variables from the environment must not reroute calls to the sidecar. In its own
//! test binary: it changes the process environment.

mod support;

use std::time::Duration;

use sentinel::{Context, SentinelClient, Verdict};
use support::{http_response, pay, RawServer, ALLOW_BODY};

fn client(endpoint: &str, timeout_ms: u64) -> SentinelClient {
    SentinelClient::builder(endpoint)
        .timeout(Duration::from_millis(timeout_ms))
        .build()
        .unwrap()
}

#[test]
fn proxy_variables_do_not_reroute_the_sidecar() {
    // A "proxy" that would answer ALLOW to anything sent through it.
    let proxy = RawServer::answering(http_response("200 OK", ALLOW_BODY));
    let blocking = RawServer::answering(http_response(
        "200 OK",
        r#"{"verdict":"BLOCK","recordId":"rec_2","reason":"no","checks":[]}"#,
    ));
    // SAFETY: the only test in this binary; no other thread reads the environment now.
    unsafe {
        std::env::set_var("HTTP_PROXY", proxy.endpoint());
        std::env::set_var("http_proxy", proxy.endpoint());
        std::env::set_var("ALL_PROXY", proxy.endpoint());
    }
    let decision = client(&blocking.endpoint(), 2000).guard(&pay(100, "vendor_42"), &Context::new("r"), "p");
    unsafe {
        std::env::remove_var("HTTP_PROXY");
        std::env::remove_var("http_proxy");
        std::env::remove_var("ALL_PROXY");
    }
    assert_eq!(decision.verdict(), Verdict::Block);
    assert_eq!(decision.record_id(), Some("rec_2"));
    assert_eq!(proxy.accepted(), 0);
}
