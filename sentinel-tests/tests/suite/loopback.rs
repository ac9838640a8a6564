//! The default transport against real loopback servers, well-behaved and not.

use std::io::Write;
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::{http_response, idle, pay, read_request, RawServer, ALLOW_BODY};
use sentinel::{Context, SentinelClient, Verdict};

fn client(endpoint: &str, timeout_ms: u64) -> SentinelClient {
    SentinelClient::builder(endpoint)
        .timeout(Duration::from_millis(timeout_ms))
        .build()
        .unwrap()
}

/// Guards once; asserts a fail-safe BLOCK within the deadline plus a margin; returns the reason.
fn assert_fails_closed(client: &SentinelClient) -> String {
    let started = Instant::now();
    let decision = client.guard(&pay(100, "vendor_42"), &Context::new("run_1"), "fintech.payments");
    let elapsed = started.elapsed();
    assert!(
        elapsed < client.timeout() + Duration::from_millis(500),
        "took {elapsed:?}"
    );
    assert_eq!(decision.verdict(), Verdict::Block, "{decision:?}");
    assert!(decision.is_fallback(), "{decision:?}");
    assert_eq!(decision.record_id(), None);
    decision.reason().unwrap().to_owned()
}

#[test]
fn a_well_behaved_server_is_honoured() {
    let server = RawServer::answering(http_response("200 OK", ALLOW_BODY));
    let decision = client(&server.endpoint(), 2000).guard(&pay(100, "vendor_42"), &Context::new("r"), "p");
    assert!(decision.allowed());
    assert!(!decision.is_fallback());
    assert_eq!(decision.record_id(), Some("rec_1"));
}

#[test]
fn connection_refused_fails_closed() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let reason = assert_fails_closed(&client(&format!("http://127.0.0.1:{port}"), 2000));
    assert!(
        reason.contains("refused") || reason.contains("connect"),
        "{reason}"
    );
}

#[test]
fn a_server_that_never_answers_is_cut_off_at_the_deadline() {
    let server = RawServer::start(|mut stream, stop| {
        let _ = read_request(&mut stream, stop);
        idle(stop, Duration::from_secs(5));
    });
    let reason = assert_fails_closed(&client(&server.endpoint(), 300));
    assert!(
        reason.contains("deadline") || reason.contains("timed out"),
        "{reason}"
    );
}

#[test]
fn a_body_trickled_past_the_deadline_is_cut_off() {
    let server = RawServer::start(|mut stream, stop| {
        let _ = read_request(&mut stream, stop);
        let _ = stream
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 400\r\n\r\n");
        for byte in ALLOW_BODY.bytes().cycle().take(400) {
            if stop.load(Ordering::SeqCst) || stream.write_all(&[byte]).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    assert_fails_closed(&client(&server.endpoint(), 400));
}

#[test]
fn every_malformed_decision_fails_closed() {
    let bodies = [
        "",
        "null",
        "[]",
        "\"ALLOW\"",
        "42",
        "{}",
        "not json",
        r#"{"verdict":"allow","recordId":"rec_1","checks":[]}"#,
        r#"{"verdict":" ALLOW","recordId":"rec_1","checks":[]}"#,
        r#"{"verdict":"MAYBE","recordId":"rec_1","checks":[]}"#,
        r#"{"verdict":1,"recordId":"rec_1","checks":[]}"#,
        r#"{"verdict":"BLOCK","verdict":"ALLOW","recordId":"rec_1","checks":[]}"#,
        r#"{"verdict":"ALLOW","checks":[]}"#,
        r#"{"verdict":"ALLOW","recordId":"","checks":[]}"#,
        r#"{"verdict":"ALLOW","recordId":7,"checks":[]}"#,
        r#"{"verdict":"ESCALATE","recordId":"rec_1","checks":[]}"#,
        r#"{"verdict":"ALLOW","recordId":"rec_1","checks":{}}"#,
        r#"{"verdict":"ALLOW","recordId":"rec_1","checks":[{"check":"x","outcome":"maybe","verdict":"ALLOW"}]}"#,
        r#"{"verdict":"ALLOW","recordId":"rec_1","checks":[]} trailing"#,
        r#"{"verdict":"ALLOW","recordId":"rec_1","checks":[],"reason":5}"#,
        "\u{feff}{\"verdict\":\"ALLOW\",\"recordId\":\"rec_1\",\"checks\":[]}",
    ];
    for body in bodies {
        let server = RawServer::answering(http_response("200 OK", body));
        let reason = assert_fails_closed(&client(&server.endpoint(), 2000));
        assert!(reason.contains("malformed decision"), "{body:?}: {reason}");
    }
}

#[test]
fn a_redirect_to_an_allowing_server_is_not_followed() {
    let allowing = RawServer::answering(http_response("200 OK", ALLOW_BODY));
    for status in [
        "301 Moved Permanently",
        "302 Found",
        "307 Temporary Redirect",
        "308 Permanent Redirect",
    ] {
        let redirect = format!(
            "HTTP/1.1 {status}\r\nlocation: {}/v1/guard\r\ncontent-length: 0\r\n\r\n",
            allowing.endpoint()
        );
        let server = RawServer::answering(redirect);
        let reason = assert_fails_closed(&client(&server.endpoint(), 2000));
        assert!(reason.contains(&status[..3]), "{reason}");
    }
    assert_eq!(allowing.accepted(), 0, "the allowing server was never contacted");
}

#[test]
fn a_body_over_the_limit_fails_closed() {
    let huge = format!(
        r#"{{"verdict":"ALLOW","recordId":"rec_1","checks":[],"pad":"{}"}}"#,
        "x".repeat(2 * 1024 * 1024)
    );
    let server = RawServer::answering(http_response("200 OK", &huge));
    let reason = assert_fails_closed(&client(&server.endpoint(), 3000));
    assert!(reason.contains("exceeds"), "{reason}");

    // The same body is honoured under a limit that fits it.
    let roomy = SentinelClient::builder(server.endpoint())
        .body_limit(4 * 1024 * 1024)
        .build()
        .unwrap();
    assert!(roomy
        .guard(&pay(100, "vendor_42"), &Context::new("r"), "p")
        .allowed());
}

#[test]
fn status_429_then_200_is_retried_to_a_real_allow() {
    let requests = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&requests);
    let server = RawServer::start(move |mut stream, stop| {
        while read_request(&mut stream, stop).is_some() {
            let response = if seen.fetch_add(1, Ordering::SeqCst) == 0 {
                http_response("429 Too Many Requests", r#"{"error":"rate limited"}"#)
            } else {
                http_response("200 OK", ALLOW_BODY)
            };
            if stream.write_all(&response).is_err() {
                return;
            }
        }
    });
    let decision = client(&server.endpoint(), 2000).guard(&pay(100, "vendor_42"), &Context::new("r"), "p");
    assert!(decision.allowed(), "{decision:?}");
    assert!(!decision.is_fallback());
    assert_eq!(requests.load(Ordering::SeqCst), 2);
}

#[test]
fn status_500_is_not_retried() {
    let requests = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&requests);
    let server = RawServer::start(move |mut stream, stop| {
        while read_request(&mut stream, stop).is_some() {
            seen.fetch_add(1, Ordering::SeqCst);
            let response = http_response("500 Internal Server Error", r#"{"error":"internal error"}"#);
            if stream.write_all(&response).is_err() {
                return;
            }
        }
    });
    let reason = assert_fails_closed(&client(&server.endpoint(), 2000));
    assert!(reason.contains("HTTP 500: internal error"), "{reason}");
    assert_eq!(requests.load(Ordering::SeqCst), 1);
}

#[test]
fn an_idle_connection_closed_by_the_server_is_not_a_spurious_block() {
    // The server closes keep-alive connections idle for 200 ms.
    let server = RawServer::start(|mut stream, stop| {
        while read_request(&mut stream, stop).is_some() {
            if stream.write_all(&http_response("200 OK", ALLOW_BODY)).is_err() {
                return;
            }
            let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
            let mut probe = [0u8; 1];
            match stream.peek(&mut probe) {
                Ok(n) if n > 0 => continue, // the next request arrived in time
                _ => return,                // idle for 200 ms (or closed): close
            }
        }
    });
    let client = client(&server.endpoint(), 2000);
    assert!(client
        .guard(&pay(100, "vendor_42"), &Context::new("r"), "p")
        .allowed());
    std::thread::sleep(Duration::from_millis(500));
    let decision = client.guard(&pay(100, "vendor_42"), &Context::new("r"), "p");
    assert!(decision.allowed(), "{decision:?}");
    assert!(!decision.is_fallback());
}

#[test]
fn a_pooled_connection_closed_as_the_request_arrives_is_resent_once_on_a_fresh_one() {
    // Each connection answers its first request, then closes without answering when the
    // next request arrives: what a client sees when the server's idle timer fires between
    // ureq's liveness probe and its write.
    let server = RawServer::start(|mut stream, stop| {
        if read_request(&mut stream, stop).is_some() {
            let _ = stream.write_all(&http_response("200 OK", ALLOW_BODY));
            let mut byte = [0u8; 1];
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let _ = std::io::Read::read(&mut stream, &mut byte);
        }
    });
    let client = client(&server.endpoint(), 2000);
    assert!(client
        .guard(&pay(100, "vendor_42"), &Context::new("r"), "p")
        .allowed());
    let decision = client.guard(&pay(100, "vendor_42"), &Context::new("r"), "p");
    assert!(decision.allowed(), "{decision:?}");
    assert!(!decision.is_fallback());
    assert_eq!(server.accepted(), 2, "the resend went out on a second connection");
}

#[test]
fn a_response_nobody_asked_for_is_never_read_as_the_next_answer() {
    // A server that, after its answer, writes a second response on the same connection
    // (an ALLOW for nobody): together with the answer, or a moment later. Were that
    // connection reused, the next guard would read this ALLOW as its own answer.
    const REAL: &str = r#"{"verdict":"BLOCK","recordId":"rec_real","checks":[]}"#;
    const UNSOLICITED: &str = r#"{"verdict":"ALLOW","recordId":"rec_unsolicited","checks":[]}"#;
    for delay in [None, Some(Duration::from_millis(50))] {
        let server = RawServer::start(move |mut stream, stop| {
            while read_request(&mut stream, stop).is_some() {
                let mut answer = http_response("200 OK", REAL);
                match delay {
                    None => answer.extend(http_response("200 OK", UNSOLICITED)),
                    Some(delay) => {
                        let _ = stream.write_all(&answer);
                        std::thread::sleep(delay);
                        answer = http_response("200 OK", UNSOLICITED);
                    }
                }
                if stream.write_all(&answer).is_err() {
                    return;
                }
            }
        });
        let client = client(&server.endpoint(), 2000);
        for _ in 0..2 {
            let decision = client.guard(&pay(100, "vendor_42"), &Context::new("r"), "p");
            assert_eq!(decision.verdict(), Verdict::Block, "{delay:?}: {decision:?}");
            assert_eq!(decision.record_id(), Some("rec_real"), "{delay:?}");
            std::thread::sleep(Duration::from_millis(200));
        }
        assert_eq!(
            server.accepted(),
            2,
            "{delay:?}: the spoiled connection was not reused"
        );
    }
}

#[test]
fn a_fresh_connection_that_breaks_is_not_resent() {
    let server = RawServer::start(|mut stream, stop| {
        let _ = read_request(&mut stream, stop);
    });
    let reason = assert_fails_closed(&client(&server.endpoint(), 2000));
    assert!(reason.contains("connection"), "{reason}");
    assert_eq!(server.accepted(), 1);
}

#[test]
fn a_hundred_guards_reuse_one_connection() {
    let server = RawServer::answering(http_response("200 OK", ALLOW_BODY));
    let client = client(&server.endpoint(), 2000);
    for _ in 0..100 {
        assert!(client
            .guard(&pay(100, "vendor_42"), &Context::new("r"), "p")
            .allowed());
    }
    assert_eq!(server.accepted(), 1);
    assert_eq!(client.connections_opened(), Some(1));
}

#[test]
fn an_unresolvable_host_fails_closed() {
    let reason = assert_fails_closed(&client("http://sentinel-sidecar.invalid:4000", 1500));
    assert!(reason.contains("host") || reason.contains("deadline"), "{reason}");
}

#[test]
fn a_host_name_is_looked_up_once_not_on_every_guard() {
    let server = RawServer::answering(http_response("200 OK", ALLOW_BODY));
    let transport = std::sync::Arc::new(sentinel::unversioned::transport::UreqTransport::new(4));
    let client = SentinelClient::builder(format!("http://localhost:{}", server.addr.port()))
        .timeout(Duration::from_secs(2))
        .transport(std::sync::Arc::clone(&transport))
        .build()
        .unwrap();
    for _ in 0..100 {
        assert!(client
            .guard(&pay(100, "vendor_42"), &Context::new("r"), "p")
            .allowed());
    }
    // Each lookup would be a resolver thread; on a warm connection there are none.
    assert_eq!(transport.name_lookups(), 1);
    let by_ip = client_for_ip(&server);
    assert!(by_ip
        .0
        .guard(&pay(100, "vendor_42"), &Context::new("r"), "p")
        .allowed());
    assert_eq!(by_ip.1.name_lookups(), 0, "an IP address is never looked up");
}

fn client_for_ip(
    server: &RawServer,
) -> (
    SentinelClient,
    std::sync::Arc<sentinel::unversioned::transport::UreqTransport>,
) {
    let transport = std::sync::Arc::new(sentinel::unversioned::transport::UreqTransport::new(4));
    let client = SentinelClient::builder(server.endpoint())
        .transport(std::sync::Arc::clone(&transport))
        .build()
        .unwrap();
    (client, transport)
}
