//! `guard_batch` against a scripted sidecar: a chunk the rate limiter refuses whole is split
//! (never failed), chunks shrink after one ran out of time, and every action gets its own
//! verdict, in order.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sentinel::transport::{HttpRequest, HttpResponse, TransportError};
use sentinel::{Action, Context, SentinelClient, Verdict};
use serde_json::{json, Value};

fn pay(i: u64) -> Action {
    Action::payment(json!({"amount": i, "from": "a", "to": "b"})).with_id(format!("act_{i}"))
}

/// Answers each batch with one ALLOW per request, recordId naming the action, unless
/// `refuse` says otherwise; records each batch's size.
fn sidecar(
    sizes: Arc<Mutex<Vec<usize>>>,
    refuse: impl Fn(usize) -> Option<HttpResponse> + Send + Sync + 'static,
) -> SentinelClient {
    SentinelClient::builder("http://sidecar.test")
        .timeout(Duration::from_secs(2))
        .transport(move |request: &HttpRequest| -> Result<HttpResponse, TransportError> {
            let body: Value = serde_json::from_slice(&request.body).unwrap();
            let requests = body["requests"].as_array().unwrap();
            sizes.lock().unwrap().push(requests.len());
            if let Some(refusal) = refuse(requests.len()) {
                return Ok(refusal);
            }
            let decisions: Vec<Value> = requests
                .iter()
                .map(|r| json!({"verdict": "ALLOW", "recordId": format!("rec_{}", r["action"]["id"].as_str().unwrap()), "checks": []}))
                .collect();
            Ok(HttpResponse::new(200, json!({ "decisions": decisions }).to_string()))
        })
        .build()
        .unwrap()
}

#[test]
fn a_batch_refused_whole_by_the_rate_limiter_is_split_not_failed() {
    let sizes = Arc::new(Mutex::new(Vec::new()));
    // A bucket of 10 tokens: any batch of more is refused whole, every time.
    let client = sidecar(Arc::clone(&sizes), |n| {
        (n > 10).then(|| HttpResponse::new(429, r#"{"error":"rate limit exceeded (batch)"}"#))
    });
    let requests: Vec<_> = (0..40).map(|i| (pay(i), Context::new("r"), "p")).collect();
    let decisions = client.guard_batch(&requests);
    assert_eq!(decisions.len(), 40);
    for (i, decision) in decisions.iter().enumerate() {
        assert!(!decision.is_fallback(), "{i}: {decision:?}");
        assert_eq!(decision.verdict(), Verdict::Allow);
        assert_eq!(decision.record_id(), format!("rec_act_{i}"), "in order");
    }
    let sizes = sizes.lock().unwrap().clone();
    assert_eq!(sizes[0], 32, "the first chunk, refused whole");
    assert!(
        sizes.contains(&16) && sizes.contains(&8),
        "split in halves: {sizes:?}"
    );
    assert_eq!(
        sizes.iter().filter(|n| **n <= 10).sum::<usize>(),
        40,
        "each action answered once"
    );
}

#[test]
fn an_empty_bucket_is_waited_for_not_split() {
    let sizes = Arc::new(Mutex::new(Vec::new()));
    let calls = Arc::new(Mutex::new(0));
    let counted = Arc::clone(&calls);
    let client = sidecar(Arc::clone(&sizes), move |_| {
        let mut calls = counted.lock().unwrap();
        *calls += 1;
        (*calls == 1).then(|| HttpResponse::new(429, r#"{"error":"rate limit exceeded"}"#))
    });
    let requests: Vec<_> = (0..5).map(|i| (pay(i), Context::new("r"), "p")).collect();
    let decisions = client.guard_batch(&requests);
    assert!(decisions.iter().all(|d| d.allowed() && !d.is_fallback()));
    assert_eq!(*sizes.lock().unwrap(), [5, 5], "the same batch again");
}

#[test]
fn after_a_chunk_runs_out_of_time_the_next_is_smaller() {
    let sizes = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&sizes);
    let client = SentinelClient::builder("http://sidecar.test")
        .timeout(Duration::from_millis(200))
        .transport(
            move |request: &HttpRequest| -> Result<HttpResponse, TransportError> {
                let body: Value = serde_json::from_slice(&request.body).unwrap();
                seen.lock()
                    .unwrap()
                    .push(body["requests"].as_array().unwrap().len());
                // Stands for a sidecar slower than the deadline: the transport gives up at it.
                std::thread::sleep(request.timeout);
                Err(TransportError::Timeout)
            },
        )
        .build()
        .unwrap();
    let requests: Vec<_> = (0..40).map(|i| (pay(i), Context::new("r"), "p")).collect();
    let decisions = client.guard_batch(&requests);
    assert!(decisions
        .iter()
        .all(|d| d.is_fallback() && d.verdict() == Verdict::Block));
    let sizes = sizes.lock().unwrap().clone();
    assert_eq!(sizes[0], 32);
    assert!(sizes[1] <= 16, "half the first or less: {sizes:?}");
    assert_eq!(sizes.iter().sum::<usize>(), 40);
}
