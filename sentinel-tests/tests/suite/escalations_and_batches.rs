//! Batches and escalations against a scripted sidecar built from the recorded answers.

use crate::support::pay;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sentinel::unversioned::transport::{HttpRequest, HttpResponse};
use sentinel::{Context, EscalationState, Resolution, ReviewStatus, SentinelClient, SidecarError, Verdict};
use serde_json::{json, Value};

const CASES: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/cases.json"));
const RECORDS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/records.json"
));

fn case(name: &str) -> Value {
    let cases: Vec<Value> = serde_json::from_str(CASES).unwrap();
    cases.into_iter().find(|c| c["name"] == name).unwrap()
}

fn scripted(route: impl Fn(&HttpRequest) -> HttpResponse + Send + Sync + 'static) -> SentinelClient {
    SentinelClient::builder("http://sidecar.test")
        .timeout(Duration::from_secs(2))
        .transport(move |req: &HttpRequest| Ok(route(req)))
        .build()
        .unwrap()
}

#[test]
fn a_recorded_batch_gives_one_decision_per_request_in_order() {
    let recorded = case("batch_two");
    let answer = serde_json::to_vec(&recorded["response"]["body"]).unwrap();
    let sent: Arc<Mutex<Value>> = Arc::default();
    let record = Arc::clone(&sent);
    let client = scripted(move |req| {
        assert_eq!(&*req.url, "http://sidecar.test/v1/guard/batch");
        *record.lock().unwrap() = serde_json::from_slice(&req.body).unwrap();
        HttpResponse::new(200, answer.clone())
    });
    let ctx = Context::new("run_conf_1");
    let decisions = client.guard_batch(&[
        (pay(1, "vendor_42"), ctx.clone(), "fintech.payments"),
        (pay(30000, "vendor_42"), ctx, "fintech.payments"),
    ]);
    assert_eq!(decisions.len(), 2);
    assert_eq!(decisions[0].verdict(), Verdict::Allow);
    assert_eq!(decisions[1].verdict(), Verdict::Escalate);
    assert_eq!(
        decisions[0].record_id(),
        recorded["response"]["body"]["decisions"][0]["recordId"].as_str()
    );
    let body = sent.lock().unwrap().clone();
    assert_eq!(body["requests"].as_array().unwrap().len(), 2);
    assert_eq!(body["requests"][1]["action"]["payload"]["amount"], 30000);
    assert_eq!(body["requests"][0]["policy"], "fintech.payments");
}

#[test]
fn more_than_256_requests_are_split_into_several_calls() {
    let calls = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&calls);
    let client = scripted(move |req| {
        count.fetch_add(1, Ordering::SeqCst);
        let body: Value = serde_json::from_slice(&req.body).unwrap();
        let n = body["requests"].as_array().unwrap().len();
        assert!(n <= 256);
        let decisions: Vec<Value> = (0..n)
            .map(|i| json!({"verdict": "ALLOW", "recordId": format!("rec_{i}"), "checks": []}))
            .collect();
        HttpResponse::new(200, json!({ "decisions": decisions }).to_string())
    });
    let requests: Vec<_> = (0..600)
        .map(|i| (pay(i + 1, "vendor_42"), Context::new("r"), "p"))
        .collect();
    let decisions = client.guard_batch(&requests);
    assert_eq!(decisions.len(), 600);
    assert!(decisions.iter().all(|d| d.allowed()));
    // A first chunk of 32 (no pace known yet), then 256 at a time (this sidecar is fast).
    assert_eq!(calls.load(Ordering::SeqCst), 4);
    assert_eq!(
        decisions[32].record_id(),
        Some("rec_0"),
        "the second call starts a new batch"
    );
    assert_eq!(decisions[288].record_id(), Some("rec_0"), "the third call too");
}

#[test]
fn a_wrong_count_fails_every_request_and_a_malformed_one_fails_only_itself() {
    let short = scripted(|_| {
        HttpResponse::new(
            200,
            r#"{"decisions":[{"verdict":"ALLOW","recordId":"rec_1","checks":[]}]}"#,
        )
    });
    let decisions = short.guard_batch(&[
        (pay(1, "vendor_42"), Context::new("r"), "p"),
        (pay(2, "vendor_42"), Context::new("r"), "p"),
    ]);
    assert!(decisions
        .iter()
        .all(|d| d.verdict() == Verdict::Block && d.is_fallback()));
    assert!(decisions[0]
        .reason()
        .unwrap()
        .contains("1 decisions for 2 requests"));

    let one_bad = scripted(|_| {
        HttpResponse::new(
            200,
            r#"{"decisions":[{"verdict":"ALLOW","recordId":"rec_1","checks":[]},{"verdict":"allow","recordId":"rec_2","checks":[]}]}"#,
        )
    });
    let decisions = one_bad.guard_batch(&[
        (pay(1, "vendor_42"), Context::new("r"), "p"),
        (pay(2, "vendor_42"), Context::new("r"), "p"),
    ]);
    assert!(decisions[0].allowed() && !decisions[0].is_fallback());
    assert!(decisions[1].is_fallback() && decisions[1].verdict() == Verdict::Block);

    let down = scripted(|_| HttpResponse::new(503, "{}"));
    let decisions = down.guard_batch(&[(pay(1, "vendor_42"), Context::new("r"), "p")]);
    assert!(decisions[0].is_fallback() && !decisions[0].allowed());
}

#[test]
fn the_recorded_escalation_queue_is_listed() {
    let pending = serde_json::to_vec(&case("escalations_pending")["response"]["body"]).unwrap();
    let client = scripted(move |req| {
        assert_eq!(&*req.url, "http://sidecar.test/v1/escalations?status=pending");
        HttpResponse::new(200, pending.clone())
    });
    let escalations = client.escalations(Some(EscalationState::Pending)).unwrap();
    assert_eq!(escalations.len(), 3);
    assert!(escalations.iter().all(|e| e.status() == EscalationState::Pending));
    assert_eq!(escalations[0].approvers(), vec!["treasury_ops".to_owned()]);
    assert_eq!(escalations[0].action()["payload"]["amount"], 42000);
}

#[test]
fn resolve_refusals_are_typed_errors_with_the_sidecars_message() {
    for (name, expected) in [
        ("resolve_wrong_approver_403", "NotAnApprover"),
        ("resolve_unknown_404", "NotFound"),
        ("resolve_again_409", "AlreadyResolved"),
    ] {
        let recorded = case(name);
        let status = recorded["response"]["status"].as_u64().unwrap() as u16;
        let body = serde_json::to_vec(&recorded["response"]["body"]).unwrap();
        let client = scripted(move |_| HttpResponse::new(status, body.clone()));
        let err = client
            .resolve("esc_x", Resolution::Approve, "mallory")
            .unwrap_err();
        let message = recorded["response"]["body"]["error"].as_str().unwrap();
        match (&err, expected) {
            (SidecarError::NotAnApprover(m), "NotAnApprover")
            | (SidecarError::NotFound(m), "NotFound")
            | (SidecarError::AlreadyResolved(m), "AlreadyResolved") => assert_eq!(m, message),
            _ => panic!("{name}: unexpected {err:?}"),
        }
    }
    let approved = case("resolve_approve");
    let body = serde_json::to_vec(&approved["response"]["body"]).unwrap();
    let client = scripted(move |req| {
        assert!(req
            .url
            .ends_with("/v1/escalations/esc_a6e0f5aa-3258-45b4-a41b-8746107b8f09/resolve"));
        let sent: Value = serde_json::from_slice(&req.body).unwrap();
        assert_eq!(sent, json!({"decision": "approve", "approver": "treasury_ops"}));
        HttpResponse::new(200, body.clone())
    });
    let record = client
        .resolve(
            "esc_a6e0f5aa-3258-45b4-a41b-8746107b8f09",
            Resolution::Approve,
            "treasury_ops",
        )
        .unwrap();
    assert_eq!(record, approved["response"]["body"]["recordId"]);
}

/// The recorded records as the sidecar serves them: `GET /v1/records/{id}` (that record, or
/// a 404) and `GET /v1/records?…` (all of them; the client finds the one it needs).
fn records_route(url: &str) -> Option<HttpResponse> {
    if let Some(id) = url.split("/v1/records/").nth(1) {
        let records: Vec<Value> = serde_json::from_str(RECORDS).unwrap();
        return Some(match records.into_iter().find(|r| r["id"] == id) {
            Some(record) => HttpResponse::new(200, record.to_string()),
            None => HttpResponse::new(404, r#"{"error":"record not found"}"#),
        });
    }
    url.contains("/v1/records?")
        .then(|| HttpResponse::new(200, RECORDS.as_bytes().to_vec()))
}

/// A sidecar whose one escalation turns `final_state` after `polls_pending` polls.
fn escalation_sidecar(final_state: &'static str, polls_pending: usize) -> (SentinelClient, Arc<AtomicUsize>) {
    let polls = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&polls);
    let approved = case("escalations_approved")["response"]["body"][0].clone();
    let client = scripted(move |req| {
        if let Some(answer) = records_route(&req.url) {
            return answer;
        }
        let mut escalation = approved.clone();
        if seen.fetch_add(1, Ordering::SeqCst) < polls_pending {
            escalation["status"] = json!("pending");
        } else {
            escalation["status"] = json!(final_state);
        }
        HttpResponse::new(200, json!([escalation]).to_string())
    });
    (client, polls)
}

const ESC: &str = "esc_a6e0f5aa-3258-45b4-a41b-8746107b8f09";
const HUMAN_REVIEW_RECORD: &str = "rec_365529f7-c195-4e51-b0b3-be24d526a09a";

#[test]
fn waiting_for_an_approval_gives_an_allow_on_the_human_review_record() {
    let (client, polls) = escalation_sidecar("approved", 2);
    let decision = client.wait_for_resolution(ESC, Duration::from_secs(5));
    assert!(decision.allowed(), "{decision:?}");
    assert!(!decision.is_fallback());
    assert_eq!(decision.record_id(), Some(HUMAN_REVIEW_RECORD));
    assert_eq!(decision.checks()[0].check, "human.review");
    assert_eq!(polls.load(Ordering::SeqCst), 3);
}

#[test]
fn waiting_for_a_denial_gives_a_block() {
    let (client, _) = escalation_sidecar("denied", 1);
    let decision = client.wait_for_resolution(ESC, Duration::from_secs(5));
    assert_eq!(decision.verdict(), Verdict::Block);
    assert!(!decision.is_fallback());
}

#[test]
fn still_pending_at_the_timeout_is_never_an_allow_even_failing_open() {
    let polls = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&polls);
    let pending = serde_json::to_vec(&case("escalations_pending")["response"]["body"]).unwrap();
    let client = SentinelClient::builder("http://sidecar.test")
        .fail_mode(sentinel::FailMode::Open)
        .transport(move |_: &HttpRequest| {
            seen.fetch_add(1, Ordering::SeqCst);
            Ok(HttpResponse::new(200, pending.clone()))
        })
        .build()
        .unwrap();
    let decision = client.wait_for_resolution(ESC, Duration::from_millis(400));
    assert_eq!(decision.verdict(), Verdict::Block);
    assert!(decision.is_fallback());
    assert!(decision.reason().unwrap().contains("still pending"));
    let n = polls.load(Ordering::SeqCst);
    assert!((2..=6).contains(&n), "polled with backoff, {n} times");
}

#[test]
fn status_without_waiting_reports_pending_then_approved() {
    let (client, _) = escalation_sidecar("approved", 1);
    assert_eq!(client.escalation_status(ESC).unwrap(), ReviewStatus::Pending);
    assert_eq!(
        client.escalation_status(ESC).unwrap(),
        ReviewStatus::Approved {
            record_id: HUMAN_REVIEW_RECORD.into()
        }
    );
    assert!(matches!(
        client.escalation_status("esc_unknown"),
        Err(SidecarError::NotFound(_))
    ));
}

#[sentinel::guarded(policy = "fintech.payments", kind = "payment", client = client, on_escalate = wait(timeout = "2s"))]
fn pay_waiting(client: &SentinelClient, amount: u64, to: &str) -> Result<u64, sentinel::Denied> {
    Ok(amount)
}

#[test]
fn an_escalate_naming_someone_elses_approved_escalation_does_not_run_the_body() {
    // The sidecar (or a path in front of it) answers a new $1M payment with ESCALATE, naming
    // yesterday's escalation, which a human approved for another action.
    let approved = case("escalations_approved")["response"]["body"].clone();
    let client = scripted(move |req| {
        if req.url.ends_with("/v1/guard") {
            return HttpResponse::new(
                200,
                json!({"verdict": "ESCALATE", "recordId": "rec_today", "escalationId": ESC, "checks": []})
                    .to_string(),
            );
        }
        if let Some(answer) = records_route(&req.url) {
            return answer;
        }
        if req.url.ends_with("status=approved") {
            return HttpResponse::new(200, approved.to_string());
        }
        HttpResponse::new(200, "[]")
    });
    let denied = pay_waiting(&client, 1_000_000, "acct_evil").unwrap_err();
    assert_eq!(denied.verdict(), Verdict::Block);
    assert!(
        denied.reason().contains("does not belong to this call"),
        "{denied}"
    );
}

#[sentinel::guarded(
    policy = "fintech.payments",
    kind = "payment",
    client = client,
    id = "act_c2",
    on_escalate = wait(timeout = "2s")
)]
fn pay_as_act_c2(
    client: &SentinelClient,
    amount: u64,
    from: &str,
    to: &str,
) -> Result<u64, sentinel::Denied> {
    Ok(amount)
}

/// A verifying client whose sidecar answers ESCALATE naming the recorded, approved
/// escalation: its original record, and (in the listing) this call's action id. Only the
/// signed human-review record can tell whose approval it is.
fn sidecar_replaying_the_recorded_approval() -> SentinelClient {
    let approved = case("escalations_approved")["response"]["body"].clone();
    let original_record = approved[0]["recordId"].clone();
    let records: Vec<Value> = serde_json::from_str(RECORDS).unwrap();
    let signer: Value = serde_json::from_str(include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/signer.json"
    )))
    .unwrap();
    let trusted = sentinel::provenance::TrustedKeys::new()
        .with_key_base64(signer["signerPublicKey"].as_str().unwrap())
        .unwrap();
    SentinelClient::builder("http://sidecar.test")
        .timeout(Duration::from_secs(2))
        .verify_decisions(trusted)
        .transport(move |req: &HttpRequest| {
            let reply = if req.url.ends_with("/v1/guard") {
                json!({"verdict": "ESCALATE", "recordId": original_record, "escalationId": ESC, "checks": []})
            } else if let Some(id) = req.url.split("/v1/records/").nth(1) {
                match records.iter().find(|r| r["id"] == id) {
                    Some(record) => record.clone(),
                    None => return Ok(HttpResponse::new(404, r#"{"error":"not found"}"#)),
                }
            } else if req.url.contains("/v1/records") {
                json!(records)
            } else if req.url.contains("/v1/escalations") {
                approved.clone()
            } else {
                return Ok(HttpResponse::new(404, "{}"));
            };
            Ok(HttpResponse::new(200, reply.to_string()))
        })
        .build()
        .unwrap()
}

#[test]
fn a_waited_approval_must_sign_off_this_very_action_and_lets_one_call_through() {
    let client = sidecar_replaying_the_recorded_approval();
    let ctx = sentinel::Context::new("run_conf_1").with_tenant("acme");

    // Another payment under the approved escalation's ids: the signed approval is for a
    // different action fingerprint, so the body never runs.
    let other = ctx.scope(|| pay_as_act_c2(&client, 1_000_000, "acct_ops", "acct_evil"));
    let denied = other.unwrap_err();
    assert_eq!(denied.verdict(), Verdict::Block, "{denied}");
    assert!(denied.reason().contains("another action"), "{denied}");

    // The very action the human approved runs once; the same approval again is a replay.
    let first = ctx.scope(|| pay_as_act_c2(&client, 42_000, "acct_ops", "vendor_42"));
    assert_eq!(first.unwrap(), 42_000);
    let again = ctx.scope(|| pay_as_act_c2(&client, 42_000, "acct_ops", "vendor_42"));
    let denied = again.unwrap_err();
    assert!(denied.reason().contains("already used"), "{denied}");
}

#[test]
fn the_human_review_is_looked_up_by_the_original_run_and_resolution_time_not_by_pages() {
    // A busy sidecar: unfiltered, page after page of other runs' ALLOWs for ever. Only a
    // query naming the original record's run, the review's verdict and the resolution time
    // reaches the review.
    let approved = case("escalations_approved")["response"]["body"][0].clone();
    let pages = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&pages);
    let client = scripted(move |req| {
        if req.url.contains("/v1/records?") {
            seen.fetch_add(1, Ordering::SeqCst);
            let narrowed = req.url.contains("runId=run_conf_1")
                && req.url.contains("verdict=ALLOW")
                && req.url.contains("since=2026-11-24T10%3A59%3A27.036Z");
            if !narrowed {
                let busy: Vec<Value> = (0..100)
                    .map(|i| json!({"id": format!("rec_other_{i}"), "checks": []}))
                    .collect();
                return HttpResponse::new(200, Value::Array(busy).to_string());
            }
        }
        if let Some(answer) = records_route(&req.url) {
            return answer;
        }
        HttpResponse::new(200, json!([approved]).to_string())
    });
    assert_eq!(
        client.escalation_status(ESC).unwrap(),
        ReviewStatus::Approved {
            record_id: HUMAN_REVIEW_RECORD.into()
        }
    );
    assert_eq!(pages.load(Ordering::SeqCst), 1, "one page of the narrowed query");
}
