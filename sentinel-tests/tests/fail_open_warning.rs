//! Fail open is loud: building a fail-open client warns once per process, and every
//! fail-open ALLOW is a warning too. (Its own test binary: it installs the global logger.)

use std::sync::Mutex;

use sentinel::unversioned::transport::HttpRequest;
use sentinel::TransportError;
use sentinel::{Action, Context, FailMode, SentinelClient};
use serde_json::json;

static WARNINGS: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.target() == "sentinel"
    }
    fn log(&self, record: &log::Record<'_>) {
        if record.target() == "sentinel" && record.level() == log::Level::Warn {
            WARNINGS.lock().unwrap().push(record.args().to_string());
        }
    }
    fn flush(&self) {}
}

fn fail_open_client() -> SentinelClient {
    SentinelClient::builder("http://localhost:4000")
        .fail_mode(FailMode::Open)
        .header("authorization", "Bearer SECRET-TOKEN")
        .transport(|_: &HttpRequest| {
            Err(TransportError::Connect(std::io::Error::new(
                std::io::ErrorKind::ConnectionRefused,
                "connection refused",
            )))
        })
        .build()
        .unwrap()
}

#[test]
fn fail_open_warns_when_built_once_and_on_every_fallback_allow() {
    log::set_logger(&Capture).unwrap();
    log::set_max_level(log::LevelFilter::Warn);

    let first = fail_open_client();
    let _second = fail_open_client();
    let building: Vec<String> = WARNINGS.lock().unwrap().drain(..).collect();
    assert_eq!(building.len(), 1, "{building:?}");
    assert!(building[0].contains("fails OPEN"), "{building:?}");

    for _ in 0..3 {
        let decision = first.guard(&Action::payment(json!({"amount": 1})), &Context::new("r"), "p");
        assert!(decision.allowed() && decision.is_fallback());
    }
    let fallbacks: Vec<String> = WARNINGS.lock().unwrap().drain(..).collect();
    assert_eq!(fallbacks.len(), 3, "{fallbacks:?}");
    assert!(
        fallbacks
            .iter()
            .all(|w| w.contains("failing open") && !w.contains("SECRET")),
        "{fallbacks:?}"
    );

    // Failing closed: without `tracing` it stays quiet (a BLOCK needs no warning).
    let closed = SentinelClient::builder("http://localhost:4000")
        .transport(|_: &HttpRequest| {
            Err(TransportError::Connect(std::io::Error::new(
                std::io::ErrorKind::ConnectionRefused,
                "connection refused",
            )))
        })
        .build()
        .unwrap();
    let _ = closed.guard(&Action::payment(json!({"amount": 1})), &Context::new("r"), "p");
    // With the `tracing` feature every fallback is one warning, which reaches a `log`
    // logger when no tracing subscriber is set (tracing's `log` feature).
    let expected = if cfg!(feature = "tracing") { 1 } else { 0 };
    assert_eq!(WARNINGS.lock().unwrap().len(), expected);
}
