//! The decision parser on arbitrary bytes, directly and through a client whose transport
//! answers `200` with those bytes.
//!
//! Invariants (a violation aborts, so libFuzzer records a crash):
//! - nothing panics;
//! - a decision that parses is well formed: a non-empty `recordId`, an `escalationId` on
//!   `ESCALATE`, not a fallback; serialized back and parsed again it is the same decision;
//! - the client's decision is exactly the strict parse, or else the fail-safe BLOCK.
#![no_main]

use std::cell::RefCell;
use std::sync::LazyLock;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use sentinel_runtime::unversioned::transport::{HttpRequest, HttpResponse};
use sentinel_runtime::{Action, Context, GuardDecision, SentinelClient, Verdict};

thread_local! {
    static BODY: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

static CLIENT: LazyLock<SentinelClient> = LazyLock::new(|| {
    SentinelClient::builder("http://127.0.0.1:4000")
        .timeout(Duration::from_millis(100))
        .transport(|_: &HttpRequest| Ok(HttpResponse::new(200, BODY.with(|b| b.borrow().clone()))))
        .build()
        .expect("a client")
});

static ACTION: LazyLock<Action> =
    LazyLock::new(|| Action::payment(serde_json::json!({"amount": 1, "from": "a", "to": "b"})));
static CONTEXT: LazyLock<Context> = LazyLock::new(|| Context::new("run_fuzz"));

fuzz_target!(|data: &[u8]| {
    let parsed = GuardDecision::from_json(data);
    if let Ok(decision) = &parsed {
        assert!(!decision.is_fallback());
        assert!(decision.record_id().is_some());
        if decision.verdict() == Verdict::Escalate {
            assert!(decision.escalation_id().is_some_and(|id| !id.is_empty()));
        }
        let again = serde_json::to_vec(decision).expect("a decision serializes");
        let reparsed = GuardDecision::from_json(&again).expect("a serialized decision parses");
        assert_eq!(
            &reparsed,
            decision,
            "round trip through {:?}",
            String::from_utf8_lossy(&again)
        );
    }

    BODY.with(|b| *b.borrow_mut() = data.to_vec());
    let decision = CLIENT.guard(&ACTION, &CONTEXT, "fintech.payments");
    match parsed {
        Ok(strict) => assert_eq!(decision, strict),
        Err(_) => {
            assert!(decision.is_fallback());
            assert_eq!(decision.verdict(), Verdict::Block);
            assert_eq!(decision.record_id(), None);
            assert_eq!(decision.checks().len(), 1);
            assert_eq!(decision.checks()[0].check, GuardDecision::TRANSPORT_CHECK);
        }
    }
});
