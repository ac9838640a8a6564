//! One conformance suite, run against `MockSidecar` always and against the real sidecar in a
//! test ignored unless asked for (`--ignored`, `SENTINEL_LIVE_ENDPOINT` set): every verdict,
//! escalations listed and resolved, a batch, records by id, the records listing and its
//! filters, the export pages, the sidecar's own chain check, its probes, and the whole chain
//! verified under the pinned key. What passes against one must pass against the other, so the
//! mock is held to the real thing.

mod live_support;

use std::time::Duration;

use live_support::{live_endpoint, pinned_keys};
use sentinel::provenance::{action_fingerprint, verify_chain, verify_record};
use sentinel::records::RecordQuery;
use sentinel::testing::{MockAnswer, MockSidecar};
use sentinel::{
    Action, Context, EscalationState, Resolution, ReviewStatus, SentinelClient, SidecarError, Verdict,
};
use serde_json::json;

/// The reference sidecar's `fintech.payments` pack as far as this suite's actions go.
fn fintech_like() -> MockSidecar {
    MockSidecar::start(|request| {
        if request.payload["to"] == "acct_evil" {
            MockAnswer::block("counterparty is sanctioned (ledger)")
        } else if request.payload["amount"].as_f64().unwrap_or(0.0) > 25_000.0 {
            MockAnswer::escalate("transfers above 25000 require dual-control sign-off")
                .with_approvers(["treasury_ops"])
        } else {
            MockAnswer::allow()
        }
    })
}

fn small(amount: u32) -> Action {
    Action::payment(json!({"amount": amount, "from": "acct_ops", "to": "vendor_42"}))
}
fn sanctioned() -> Action {
    Action::payment(json!({"amount": 10, "from": "acct_ops", "to": "acct_evil"}))
}
fn high_value() -> Action {
    Action::payment(json!({"amount": 42000, "from": "acct_ops", "to": "vendor_42"}))
}

const POLICY: &str = "fintech.payments";

/// Everything the client does with a sidecar, checked against what `endpoint` answers.
fn conformance(endpoint: &str) {
    let trusted = pinned_keys();
    let client = SentinelClient::builder(endpoint)
        .timeout(Duration::from_secs(10))
        .verify_decisions(trusted.clone())
        .build()
        .unwrap();
    let run = format!("conformance-{}", uuid_like());
    let context = Context::new(&run).with_provider("anthropic").with_model("m-1");

    // Probes.
    client.healthy().expect("GET /healthz");
    client.ready().expect("GET /readyz");

    // ALLOW, verified against its signed record.
    let allow_action = small(100);
    let allowed = client.guard(&allow_action, &context, POLICY);
    assert_eq!(allowed.verdict(), Verdict::Allow, "{allowed:?}");
    assert!(
        !allowed.is_fallback() && !allowed.checks().is_empty(),
        "{allowed:?}"
    );
    let record = client
        .record(allowed.record_id().unwrap())
        .expect("GET /v1/records/{id}");
    verify_record(&record, &trusted).expect("the ALLOW's record verifies under the pinned key");
    assert_eq!(Some(record.id()), allowed.record_id());
    assert_eq!(record.verdict(), "ALLOW");
    assert_eq!(
        record.action_fingerprint(),
        action_fingerprint("payment", allow_action.payload())
    );
    assert_eq!(record.action().id(), Some(allow_action.id()));
    assert_eq!(
        *record.context(),
        json!({"runId": run, "provider": "anthropic", "model": "m-1"})
    );
    assert_eq!(record.tenant(), None);

    // BLOCK.
    let blocked = client.guard(&sanctioned(), &context, POLICY);
    assert_eq!(blocked.verdict(), Verdict::Block, "{blocked:?}");
    assert!(!blocked.is_fallback() && !blocked.reason().unwrap_or_default().is_empty());

    // ESCALATE, listed, refused to an unlisted approver, approved once, then not again.
    let held_action = high_value();
    let held = client.guard(&held_action, &context, POLICY);
    assert_eq!(held.verdict(), Verdict::Escalate, "{held:?}");
    let escalation_id = held
        .escalation_id()
        .expect("an ESCALATE names its escalation")
        .to_owned();
    assert!(escalation_id.starts_with("esc_"));
    let pending = client.escalations(Some(EscalationState::Pending)).unwrap();
    let listed = pending
        .iter()
        .find(|e| e.id() == escalation_id)
        .expect("listed as pending");
    assert_eq!(Some(listed.record_id()), held.record_id());
    assert_eq!(listed.approvers(), ["treasury_ops"]);
    assert_eq!(listed.action()["id"], held_action.id());
    assert_eq!(listed.action()["payload"], *held_action.payload());
    assert_eq!(listed.status(), EscalationState::Pending);
    assert_eq!(
        client.escalation_status(&escalation_id).unwrap(),
        ReviewStatus::Pending
    );
    assert!(matches!(
        client.resolve(&escalation_id, Resolution::Approve, "mallory"),
        Err(SidecarError::NotAnApprover(_))
    ));
    let resolved = client
        .resolve_escalation(&escalation_id, Resolution::Approve, "treasury_ops")
        .unwrap();
    assert_eq!(resolved.escalation().id(), escalation_id);
    assert_eq!(resolved.escalation().status(), EscalationState::Approved);
    assert_eq!(resolved.escalation().resolved_by(), Some("treasury_ops"));
    assert_eq!(Some(resolved.escalation().record_id()), held.record_id());
    let review_id = resolved.record_id().to_owned();
    assert!(matches!(
        client.resolve(&escalation_id, Resolution::Approve, "treasury_ops"),
        Err(SidecarError::AlreadyResolved(_))
    ));
    assert!(matches!(
        client.resolve("esc_does_not_exist", Resolution::Deny, "treasury_ops"),
        Err(SidecarError::NotFound(_))
    ));
    let review = client.record(&review_id).unwrap();
    verify_record(&review, &trusted).expect("the human review is signed too");
    assert_eq!(review.verdict(), "ALLOW");
    assert_eq!(review.checks()[0]["check"], "human.review");
    assert_eq!(
        review.checks()[0]["details"]["escalationId"],
        escalation_id.as_str()
    );
    assert_eq!(
        review.checks()[0]["details"]["originalRecordId"].as_str(),
        held.record_id()
    );
    assert_eq!(
        review.reason(),
        Some(&*format!("human approve of escalation {escalation_id}"))
    );
    assert_eq!(review.context()["runId"], run.as_str());
    assert_eq!(
        review.action_fingerprint(),
        action_fingerprint("payment", held_action.payload())
    );
    let approved = client.escalations(Some(EscalationState::Approved)).unwrap();
    let approved = approved
        .iter()
        .find(|e| e.id() == escalation_id)
        .expect("listed as approved");
    assert_eq!(approved.resolved_by(), Some("treasury_ops"));
    assert!(approved.resolved_at().is_some());
    assert_eq!(
        client.escalation_status(&escalation_id).unwrap(),
        ReviewStatus::Approved {
            record_id: review_id.clone()
        }
    );

    // A batch: one decision per request, in order, each recorded.
    let batch = vec![
        (small(5), context.clone(), POLICY),
        (sanctioned(), context.clone(), POLICY),
        (high_value(), context.clone(), POLICY),
    ];
    let decisions = client.guard_batch(&batch);
    let verdicts: Vec<Verdict> = decisions.iter().map(|d| d.verdict()).collect();
    assert_eq!(
        verdicts,
        [Verdict::Allow, Verdict::Block, Verdict::Escalate],
        "{decisions:?}"
    );
    assert!(decisions.iter().all(|d| !d.is_fallback()));

    // An empty tenant is dropped by the sidecar; a verified ALLOW still stands.
    let no_tenant = client.guard(&small(6), &context.clone().with_tenant(""), POLICY);
    assert_eq!(no_tenant.verdict(), Verdict::Allow, "{no_tenant:?}");
    // A tenant is recorded and filtered on.
    let tenant = format!("tenant-{run}");
    let tenanted = client.guard(&small(7), &context.clone().with_tenant(&tenant), POLICY);
    assert_eq!(tenanted.verdict(), Verdict::Allow, "{tenanted:?}");

    // The records listing and its filters.
    let mine = client.records(&RecordQuery::new().run_id(&run)).unwrap();
    let ids: Vec<&str> = mine.iter().map(|r| r.id()).collect();
    assert_eq!(
        mine.len(),
        9,
        "3 guards, 1 review, 3 in the batch, 2 more guards: {ids:?}"
    );
    assert_eq!(Some(ids[0]), allowed.record_id());
    assert_eq!(ids[3], review_id);
    assert!(mine.windows(2).all(|w| w[0].seq() < w[1].seq()), "in chain order");
    for record in &mine {
        verify_record(record, &trusted).unwrap();
    }
    let allows = client
        .records(&RecordQuery::new().run_id(&run).verdict(Verdict::Allow))
        .unwrap();
    assert_eq!(allows.len(), 5, "100, the review, 5, 6 and 7");
    assert!(allows.iter().all(|r| r.verdict() == "ALLOW"));
    let window = client
        .records(&RecordQuery::new().run_id(&run).offset(1).limit(2))
        .unwrap();
    assert_eq!(window, mine[1..3]);
    let by_tenant = client.records(&RecordQuery::new().tenant(&tenant)).unwrap();
    assert_eq!(by_tenant.len(), 1);
    assert_eq!(Some(by_tenant[0].id()), tenanted.record_id());
    assert_eq!(by_tenant[0].tenant(), Some(tenant.as_str()));
    let first_ts = mine[0].ts().to_owned();
    let since = client
        .records(&RecordQuery::new().run_id(&run).since(&first_ts))
        .unwrap();
    assert_eq!(since.len(), mine.len());
    let until = client
        .records(&RecordQuery::new().run_id(&run).until(&first_ts))
        .unwrap();
    assert!(until.is_empty(), "until is exclusive");

    // The export, page by page, is the listing.
    let pages: Vec<Vec<_>> = client
        .export_pages(&RecordQuery::new().run_id(&run).limit(4))
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [4, 4, 1]);
    assert_eq!(pages.concat(), mine);

    // A record that does not exist.
    assert!(matches!(
        client.record("rec_00000000-0000-4000-8000-000000000000"),
        Err(SidecarError::NotFound(_))
    ));

    // The whole chain, from GENESIS, under the pinned key: independently, then by the sidecar.
    let verified = client
        .verify_export(&trusted)
        .expect("the sidecar's chain verifies");
    assert!(verified.records >= mine.len() as u64);
    let first_page = client.records(&RecordQuery::new().limit(50)).unwrap();
    verify_chain(&first_page, &trusted).unwrap();
    assert!(client.sidecar_verify().unwrap().ok);
}

fn uuid_like() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
    format!("{nanos:x}-{}", std::process::id())
}

#[test]
fn the_mock_sidecar_conforms() {
    let mock = fintech_like();
    conformance(&mock.endpoint());
}

#[test]
#[ignore = "needs a real sidecar (SENTINEL_LIVE_ENDPOINT; .ci/run starts one)"]
fn the_real_sidecar_conforms() {
    let Some(endpoint) = live_endpoint() else { return };
    conformance(&endpoint);
}
