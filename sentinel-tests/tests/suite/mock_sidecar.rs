//! `sentinel::testing::MockSidecar`: the loopback sidecar users test their tools against.

use crate::support::pay;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use sentinel::testing::{MockAnswer, MockSidecar};
use sentinel::{Context, SentinelClient, Verdict};

#[test]
fn answers_from_the_rule_and_records_every_request() {
    let sidecar = MockSidecar::start(|request| match request.payload["to"].as_str() {
        Some("acct_evil") => MockAnswer::block("sanctioned counterparty"),
        Some("vendor_big") => MockAnswer::escalate("needs sign-off"),
        _ => MockAnswer::allow(),
    });
    let client = SentinelClient::builder(sidecar.endpoint())
        .header("authorization", "Bearer t")
        .build()
        .unwrap();
    let context = Context::new("run-mock").with_tenant("acme");

    let allowed = client.guard(&pay(100, "vendor_42"), &context, "fintech.payments");
    let blocked = client.guard(&pay(100, "acct_evil"), &context, "fintech.payments");
    let escalated = client.guard(&pay(100, "vendor_big"), &context, "fintech.payments");

    assert!(allowed.allowed());
    assert!(allowed.record_id().is_some_and(|id| id.starts_with("rec_")));
    assert_eq!(blocked.verdict(), Verdict::Block);
    assert_eq!(blocked.reason(), Some("sanctioned counterparty"));
    assert_eq!(escalated.verdict(), Verdict::Escalate);
    assert!(escalated.escalation_id().unwrap().starts_with("esc_"));
    assert_ne!(allowed.record_id(), blocked.record_id());

    let requests = sidecar.requests();
    assert_eq!(requests.len(), 3);
    assert_eq!(requests[1].payload["to"], "acct_evil");
    assert_eq!(requests[1].policy, "fintech.payments");
    assert_eq!(requests[1].run_id, "run-mock");
    assert_eq!(requests[1].kind, "payment");
    assert!(requests[1].action_id.starts_with("act_"));
    assert!(requests[1]
        .headers
        .contains(&("authorization".into(), "Bearer t".into())));
    assert_eq!(
        sidecar.connections(),
        1,
        "keep-alive: one connection carried all three"
    );
}

#[test]
fn after_stop_guards_fail_closed_promptly() {
    let sidecar = MockSidecar::allow_all();
    let client = SentinelClient::builder(sidecar.endpoint())
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    assert!(client.guard(&pay(100, "v"), &Context::new("r"), "p").allowed());
    sidecar.stop();
    let started = Instant::now();
    let decision = client.guard(&pay(100, "v"), &Context::new("r"), "p");
    assert_eq!(decision.verdict(), Verdict::Block);
    assert!(decision.is_fallback());
    // Stopping closed the pooled connection: the client did not sit out its 5 s deadline.
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn a_restarted_sidecar_on_the_same_port_is_used_again_without_a_new_client() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let sidecar = MockSidecar::start_on(listener, |_| MockAnswer::allow());
    let client = SentinelClient::builder(sidecar.endpoint())
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    assert!(client.guard(&pay(100, "v"), &Context::new("r"), "p").allowed());
    drop(sidecar);
    assert!(client
        .guard(&pay(100, "v"), &Context::new("r"), "p")
        .is_fallback());
    let sidecar = MockSidecar::start_on(TcpListener::bind(addr).unwrap(), |_| MockAnswer::allow());
    let decision = client.guard(&pay(100, "v"), &Context::new("r"), "p");
    assert!(decision.allowed(), "{decision:?}");
    assert!(!decision.is_fallback());
    assert_eq!(sidecar.requests().len(), 1);
}

#[test]
fn escalations_can_be_listed_resolved_and_waited_on() {
    use sentinel::{EscalationState, Resolution, ReviewStatus, SidecarError};

    let sidecar =
        MockSidecar::start(|_| MockAnswer::escalate("needs sign-off").with_approvers(["treasury_ops"]));
    let client = SentinelClient::builder(sidecar.endpoint())
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let decision = client.guard(&pay(100, "vendor_42"), &Context::new("r"), "fintech.payments");
    let escalation_id = decision.escalation_id().unwrap().to_owned();

    let pending = client.escalations(Some(EscalationState::Pending)).unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].id(), escalation_id);
    assert_eq!(Some(pending[0].record_id()), decision.record_id());
    assert_eq!(pending[0].action()["payload"]["to"], "vendor_42");
    assert_eq!(
        client.escalation_status(&escalation_id).unwrap(),
        ReviewStatus::Pending
    );

    let refused = client.resolve(&escalation_id, Resolution::Approve, "mallory");
    assert!(
        matches!(refused, Err(SidecarError::NotAnApprover(_))),
        "{refused:?}"
    );

    // A human approves while the agent waits.
    let approver = {
        let (client, id) = (client.clone(), escalation_id.clone());
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            client.resolve(&id, Resolution::Approve, "treasury_ops")
        })
    };
    let waited = client.wait_for_resolution(&escalation_id, Duration::from_secs(5));
    let review_record = approver.join().unwrap().unwrap();
    assert!(waited.allowed(), "{waited:?}");
    assert_eq!(waited.record_id(), Some(review_record.as_str()));
    assert_eq!(
        client.escalation_status(&escalation_id).unwrap(),
        ReviewStatus::Approved {
            record_id: review_record
        }
    );
    let again = client.resolve(&escalation_id, Resolution::Deny, "treasury_ops");
    assert!(
        matches!(again, Err(SidecarError::AlreadyResolved(_))),
        "{again:?}"
    );
    let unknown = client.resolve("esc_nope", Resolution::Deny, "treasury_ops");
    assert!(matches!(unknown, Err(SidecarError::NotFound(_))), "{unknown:?}");
}

#[test]
fn guard_and_wait_by_hand_waits_as_the_attribute_does() {
    use sentinel::{EscalationState, Resolution};

    let sidecar = MockSidecar::start(|_| MockAnswer::escalate("needs sign-off"));
    let client = SentinelClient::builder(sidecar.endpoint())
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let ask = |timeout| {
        client.guard_and_wait(
            &pay(100, "vendor_42"),
            &Context::new("r"),
            "fintech.payments",
            timeout,
        )
    };

    // No wait: the ESCALATE as it came.
    let at_once = ask(Duration::ZERO);
    assert_eq!(at_once.verdict(), Verdict::Escalate);
    assert!(!at_once.is_fallback());

    // Nobody answers: a BLOCK that keeps the escalation id to report and resume with.
    let unanswered = ask(Duration::from_millis(300));
    assert_eq!(unanswered.verdict(), Verdict::Block);
    assert!(unanswered.is_fallback());
    assert!(
        unanswered.reason().unwrap().contains("still pending"),
        "{unanswered:?}"
    );
    let left_pending = unanswered.escalation_id().unwrap().to_owned();
    assert!(left_pending.starts_with("esc_"), "{left_pending}");

    // A human approves the new escalation while the call waits: an ALLOW on the review.
    let approver = {
        let client = client.clone();
        let earlier = [at_once.escalation_id().unwrap().to_owned(), left_pending];
        std::thread::spawn(move || {
            for _ in 0..200 {
                let pending = client.escalations(Some(EscalationState::Pending)).unwrap();
                if let Some(new) = pending.iter().find(|e| !earlier.iter().any(|id| id == e.id())) {
                    return client
                        .resolve(new.id(), Resolution::Approve, "treasury_ops")
                        .unwrap();
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            panic!("the waiting call's escalation never appeared");
        })
    };
    let approved = ask(Duration::from_secs(5));
    let review_record = approver.join().unwrap();
    assert!(approved.allowed() && !approved.is_fallback(), "{approved:?}");
    assert_eq!(approved.record_id(), Some(review_record.as_str()));
}
