//! One warning per event whatever the logging stack (issue 22): with a log-to-tracing bridge
//! (`tracing-log`'s `LogTracer`) and a tracing subscriber, a fail-open fallback is one WARN,
//! not one through `log` and another through `tracing`; with or without the `tracing`
//! feature. (Its own test binary: it installs the global logger and subscriber.)

use std::sync::{Arc, Mutex};

use sentinel::unversioned::transport::HttpRequest;
use sentinel::TransportError;
use sentinel::{Action, Context, FailMode, SentinelClient};
use serde_json::json;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context as LayerContext, SubscriberExt};
use tracing_subscriber::Layer;

/// Every WARN event: its target and its fields written out.
#[derive(Default, Clone)]
struct Warnings(Arc<Mutex<Vec<(String, String)>>>);

struct Text<'a>(&'a mut String);

impl Visit for Text<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!("{}={value:?} ", field.name()));
    }
}

impl<S: Subscriber> Layer<S> for Warnings {
    fn on_event(&self, event: &Event<'_>, _: LayerContext<'_, S>) {
        if *event.metadata().level() == Level::WARN {
            let mut text = String::new();
            event.record(&mut Text(&mut text));
            self.0
                .lock()
                .unwrap()
                .push((event.metadata().target().to_owned(), text));
        }
    }
}

impl Warnings {
    fn take(&self) -> Vec<(String, String)> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

fn refusing_client(fail_mode: FailMode) -> SentinelClient {
    SentinelClient::builder("http://localhost:4000")
        .fail_mode(fail_mode)
        .transport(|_: &HttpRequest| {
            Err(TransportError::Connect(std::io::Error::new(
                std::io::ErrorKind::ConnectionRefused,
                "connection refused",
            )))
        })
        .build()
        .unwrap()
}

fn payment() -> Action {
    Action::payment(json!({"amount": 1}))
}

#[test]
fn a_fallback_is_one_warning_through_a_log_to_tracing_bridge() {
    let warnings = Warnings::default();
    tracing_log::LogTracer::init().unwrap();
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(warnings.clone())).unwrap();

    // Building a fail-open client: one warning (through `log`, bridged).
    let open = refusing_client(FailMode::Open);
    let building = warnings.take();
    assert_eq!(building.len(), 1, "{building:?}");
    assert!(building[0].1.contains("fails OPEN"), "{building:?}");

    // Each fail-open fallback: exactly one warning, naming the fail mode.
    for _ in 0..3 {
        let decision = open.guard(&payment(), &Context::new("r"), "p");
        assert!(decision.allowed() && decision.is_fallback());
    }
    let fallbacks = warnings.take();
    assert_eq!(fallbacks.len(), 3, "{fallbacks:?}");
    assert!(
        fallbacks
            .iter()
            .all(|(target, text)| target == "sentinel" && text.contains("failing open")),
        "{fallbacks:?}"
    );

    // A batch: one warning per fallback decision.
    let requests = vec![
        (payment(), Context::new("r"), "p"),
        (payment(), Context::new("r"), "p"),
    ];
    assert!(open
        .guard_batch(&requests)
        .iter()
        .all(|d| d.allowed() && d.is_fallback()));
    assert_eq!(warnings.take().len(), 2);

    // Failing closed: at most one per fallback (the `tracing` feature warns on every
    // fallback; without it, a BLOCK needs no warning).
    let closed = refusing_client(FailMode::Closed);
    let _ = closed.guard(&payment(), &Context::new("r"), "p");
    let expected = if cfg!(feature = "tracing") { 1 } else { 0 };
    assert_eq!(warnings.take().len(), expected);
}
