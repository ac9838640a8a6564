//! The `tracing` feature: one `sentinel.guard` span per guard with the decision's fields,
//! a warning per fallback, and never a payload or header value.
#![cfg(feature = "tracing")]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use sentinel::unversioned::transport::{HttpRequest, HttpResponse};
use sentinel::TransportError;
use sentinel::{Action, Context, SentinelClient};
use serde_json::json;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context as LayerContext, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// Recorded field values by field name.
type FieldMap = BTreeMap<String, String>;

#[derive(Default, Clone)]
struct Captured {
    /// Span id → (span name, fields).
    spans: Arc<Mutex<BTreeMap<u64, (String, FieldMap)>>>,
    events: Arc<Mutex<Vec<(Level, FieldMap)>>>,
}

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Captured {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, _: LayerContext<'_, S>) {
        let mut fields = BTreeMap::new();
        attrs.record(&mut Fields(&mut fields));
        self.spans
            .lock()
            .unwrap()
            .insert(id.into_u64(), (attrs.metadata().name().to_owned(), fields));
    }
    fn on_record(&self, id: &Id, values: &Record<'_>, _: LayerContext<'_, S>) {
        if let Some((_, fields)) = self.spans.lock().unwrap().get_mut(&id.into_u64()) {
            values.record(&mut Fields(fields));
        }
    }
    fn on_event(&self, event: &Event<'_>, _: LayerContext<'_, S>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        self.events
            .lock()
            .unwrap()
            .push((*event.metadata().level(), fields));
    }
}

fn guard_with(transport: impl sentinel::unversioned::transport::Transport) -> Captured {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::registry().with(captured.clone());
    let client = SentinelClient::builder("http://localhost:4000")
        .header("authorization", "Bearer SECRET-TOKEN")
        .transport(transport)
        .build()
        .unwrap();
    let action = Action::payment(json!({"amount": 100, "from": "acct_ops", "to": "acct_private_payee"}))
        .with_id("act_traced");
    tracing::subscriber::with_default(subscriber, || {
        let _ = client.guard(&action, &Context::new("run-t"), "fintech.payments");
    });
    captured
}

fn everything_recorded(captured: &Captured) -> String {
    format!(
        "{:?}{:?}",
        captured.spans.lock().unwrap(),
        captured.events.lock().unwrap()
    )
}

#[test]
fn one_span_per_guard_carries_the_decision() {
    let captured = guard_with(|_: &HttpRequest| {
        Ok(HttpResponse::new(
            200,
            r#"{"verdict":"ALLOW","recordId":"rec_9","checks":[]}"#,
        ))
    });
    let spans = captured.spans.lock().unwrap();
    let guards: Vec<_> = spans
        .values()
        .filter(|(name, _)| name == "sentinel.guard")
        .collect();
    assert_eq!(guards.len(), 1);
    let fields = &guards[0].1;
    assert_eq!(fields["policy"], "fintech.payments");
    assert_eq!(fields["action.kind"], "payment");
    assert_eq!(fields["action.id"], "act_traced");
    assert_eq!(fields["verdict"], "ALLOW");
    assert_eq!(fields["record_id"], "rec_9");
    assert_eq!(fields["fallback"], "false");
    assert_eq!(fields["attempts"], "1");
    assert!(fields.contains_key("latency_ms"));
    assert!(captured
        .events
        .lock()
        .unwrap()
        .iter()
        .all(|(level, _)| *level != Level::WARN));
}

#[test]
fn every_fallback_is_a_warning_and_no_secret_is_recorded() {
    let captured = guard_with(|_: &HttpRequest| {
        Err(TransportError::Connect(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "connection refused",
        )))
    });
    let events = captured.events.lock().unwrap().clone();
    let warnings: Vec<_> = events.iter().filter(|(level, _)| *level == Level::WARN).collect();
    assert_eq!(warnings.len(), 1);
    assert!(warnings[0].1["reason"].contains("connection refused"));
    let spans = captured.spans.lock().unwrap().clone();
    let (_, fields) = spans.values().find(|(name, _)| name == "sentinel.guard").unwrap();
    assert_eq!(fields["fallback"], "true");
    assert_eq!(fields["verdict"], "BLOCK");
    let all = everything_recorded(&captured);
    assert!(
        !all.contains("acct_private_payee"),
        "payload values are never recorded"
    );
    assert!(!all.contains("SECRET-TOKEN"), "header values are never recorded");
}
