//! `guard_batch` against a scripted sidecar: a chunk the rate limiter refuses whole is split
//! (never failed), chunks shrink after one ran out of time, and every action gets its own
//! verdict, in order.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sentinel::unversioned::transport::{HttpRequest, HttpResponse};
use sentinel::TransportError;
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
        assert_eq!(
            decision.record_id(),
            Some(format!("rec_act_{i}").as_str()),
            "in order"
        );
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

/// A client whose sidecar takes `per_request` for each batch request and answers it with
/// one ALLOW per action, unless the batch holds more than `bucket` actions (then it is
/// refused whole, as the rate limiter does); records the time each request was given.
fn slow_limited(
    timeout: Duration,
    per_request: Duration,
    bucket: usize,
    given: Arc<Mutex<Vec<Duration>>>,
) -> SentinelClient {
    SentinelClient::builder("http://sidecar.test")
        .timeout(timeout)
        .transport(move |request: &HttpRequest| -> Result<HttpResponse, TransportError> {
            given.lock().unwrap().push(request.timeout);
            std::thread::sleep(per_request.min(request.timeout));
            if per_request > request.timeout {
                return Err(TransportError::Timeout);
            }
            let body: Value = serde_json::from_slice(&request.body).unwrap();
            let requests = body["requests"].as_array().unwrap();
            if requests.len() > bucket {
                return Ok(HttpResponse::new(429, r#"{"error":"rate limit exceeded (batch)"}"#));
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
fn the_whole_batch_shares_one_deadline_and_the_rest_is_a_fallback() {
    // 300 actions, a bucket of 4 per batch request, 20 ms per request, 400 ms for all:
    // answering them all would take 75 requests (1.5 s).
    let given = Arc::new(Mutex::new(Vec::new()));
    let client = slow_limited(
        Duration::from_millis(400),
        Duration::from_millis(20),
        4,
        Arc::clone(&given),
    );
    let requests: Vec<_> = (0..300).map(|i| (pay(i), Context::new("r"), "p")).collect();
    let decisions = client.guard_batch(&requests);
    assert_eq!(decisions.len(), 300);

    // Every request was given only the time left of the one deadline: each less than the
    // one before, none more than the batch's timeout.
    let given = given.lock().unwrap().clone();
    assert!(given.len() > 2, "{given:?}");
    assert!(given[0] <= Duration::from_millis(400), "{given:?}");
    assert!(given.windows(2).all(|w| w[1] < w[0]), "{given:?}");

    let answered = decisions.iter().filter(|d| !d.is_fallback()).count();
    assert!(answered > 0 && answered < 300, "{answered} answered");
    for (i, decision) in decisions.iter().enumerate() {
        if decision.is_fallback() {
            assert_eq!(decision.verdict(), Verdict::Block, "{i}");
        } else {
            assert_eq!(
                decision.record_id(),
                Some(format!("rec_act_{i}").as_str()),
                "in order"
            );
        }
    }
    let last = decisions.last().unwrap();
    assert!(
        last.reason().unwrap().contains("the batch's deadline"),
        "{last:?}"
    );
}

#[test]
fn after_a_chunk_runs_out_of_time_the_rest_is_not_asked_and_the_next_batch_is_smaller() {
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
    assert_eq!(
        *sizes.lock().unwrap(),
        [32],
        "the first chunk used up the deadline"
    );
    assert!(decisions[39].reason().unwrap().contains("the batch's deadline"));

    let _ = client.guard_batch(&requests);
    let sizes = sizes.lock().unwrap().clone();
    assert!(sizes[1] <= 16, "half the first or less: {sizes:?}");
}
