//! (e) Park and resume, against `MockSidecar` and, in a test ignored unless asked for
//! (`--ignored`, `SENTINEL_LIVE_ENDPOINT` set), the real sidecar: asking again opens a new
//! escalation every time, so the rerun names the approved escalation, and the body runs only on
//! a human approval of the identical action, verified under the pinned key, once per client.

mod live_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use live_support::{live_endpoint, pinned_keys};
use sentinel::provenance::TrustedKeys;
use sentinel::testing::{MockAnswer, MockSidecar};
use sentinel::{Action, Context, Denied, Resolution, SentinelClient, Verdict};
use serde_json::json;

static PAID: AtomicUsize = AtomicUsize::new(0);

#[sentinel::guarded(policy = "fintech.payments", kind = "payment", client = client)]
fn pay(client: &SentinelClient, amount: u64, from: &str, to: &str) -> Result<u64, Denied> {
    PAID.fetch_add(1, Ordering::SeqCst);
    Ok(amount)
}

fn client(endpoint: &str) -> SentinelClient {
    SentinelClient::builder(endpoint)
        .timeout(Duration::from_secs(10))
        .verify_decisions(pinned_keys())
        .build()
        .unwrap()
}

fn park(client: &SentinelClient, context: &Context, amount: u64) -> String {
    let denied = context
        .scope(|| pay(client, amount, "acct_ops", "vendor_42"))
        .expect_err("a high-value payment escalates");
    assert!(denied.is_escalated(), "{denied}");
    denied.escalation_id().unwrap().to_owned()
}

fn park_and_resume(endpoint: &str) {
    let client = client(endpoint);
    let run = format!("resume-{}", std::process::id());
    let context = Context::new(&run);
    let paid_before = PAID.load(Ordering::SeqCst);

    // What the README used to say: asking again opens another escalation.
    let first = park(&client, &context, 42_000);
    client
        .resolve(&first, Resolution::Approve, "treasury_ops")
        .unwrap();
    let again = park(&client, &context, 42_000);
    assert_ne!(
        again, first,
        "a plain rerun is a new escalation, even after an approval"
    );

    // Park, and resume before anyone answered: refused.
    let parked = park(&client, &context, 43_000);
    let early = context
        .clone()
        .resuming(&parked)
        .scope(|| pay(&client, 43_000, "acct_ops", "vendor_42"))
        .unwrap_err();
    assert!(
        !early.is_escalated() && early.to_string().contains("still pending"),
        "{early}"
    );

    client
        .resolve(&parked, Resolution::Approve, "treasury_ops")
        .unwrap();
    let resumed = context.clone().resuming(&parked);

    // The approval is for 43 000 to vendor_42; it lets nothing else through: another action
    // in the same scope is guarded as usual (so it escalates again, a new escalation).
    let other = resumed
        .scope(|| pay(&client, 43_001, "acct_ops", "vendor_42"))
        .unwrap_err();
    assert!(other.is_escalated(), "{other}");
    assert_ne!(other.escalation_id(), Some(parked.as_str()), "{other}");
    let elsewhere = resumed
        .scope(|| pay(&client, 43_000, "acct_ops", "acct_evil"))
        .unwrap_err();
    assert!(
        !elsewhere.to_string().contains("resume"),
        "a guard of its own: {elsewhere}"
    );
    assert_ne!(elsewhere.escalation_id(), Some(parked.as_str()), "{elsewhere}");
    let other_tenant = resumed
        .clone()
        .with_tenant("someone-else")
        .scope(|| pay(&client, 43_000, "acct_ops", "vendor_42"));
    assert!(other_tenant.unwrap_err().to_string().contains("another tenant"));
    assert_eq!(PAID.load(Ordering::SeqCst), paid_before, "no body ran yet");

    // A small payment the tool also makes in that scope is guarded on its own, and allowed.
    assert_eq!(
        resumed
            .scope(|| pay(&client, 100, "acct_ops", "vendor_42"))
            .unwrap(),
        100
    );
    let paid_before = paid_before + 1;

    // The identical action runs, once.
    assert_eq!(
        resumed
            .scope(|| pay(&client, 43_000, "acct_ops", "vendor_42"))
            .unwrap(),
        43_000
    );
    assert_eq!(PAID.load(Ordering::SeqCst), paid_before + 1);
    let twice = resumed
        .scope(|| pay(&client, 43_000, "acct_ops", "vendor_42"))
        .unwrap_err();
    assert!(twice.to_string().contains("already used"), "{twice}");
    assert_eq!(
        PAID.load(Ordering::SeqCst),
        paid_before + 1,
        "an approval is used once"
    );

    // By hand: the decision is the human review's ALLOW.
    let by_hand = park(&client, &context, 44_000);
    client
        .resolve(&by_hand, Resolution::Approve, "treasury_ops")
        .unwrap();
    let action = Action::payment(json!({"amount": 44_000, "from": "acct_ops", "to": "vendor_42"}));
    // Under another policy than the escalation was opened under: refused, however approved.
    let elsewhere = client.resume(&by_hand, &action, &context, "healthcare.record_write");
    assert_eq!(elsewhere.verdict(), Verdict::Block, "{elsewhere:?}");
    assert!(
        elsewhere
            .reason()
            .unwrap()
            .contains("not opened under policy healthcare.record_write"),
        "{elsewhere:?}"
    );
    let decision = client.resume(&by_hand, &action, &context, "fintech.payments");
    assert_eq!(decision.verdict(), Verdict::Allow, "{decision:?}");
    assert_eq!(decision.escalation_id(), Some(by_hand.as_str()));
    assert_eq!(decision.checks()[0].check, "human.review");

    // A denial, an unknown escalation, and a key that is not the sidecar's: refused.
    let denied = park(&client, &context, 45_000);
    client.resolve(&denied, Resolution::Deny, "treasury_ops").unwrap();
    let refused = context
        .clone()
        .resuming(&denied)
        .scope(|| pay(&client, 45_000, "acct_ops", "vendor_42"))
        .unwrap_err();
    assert!(refused.to_string().contains("denied by a human"), "{refused}");
    let unknown = client.resume(
        "esc_00000000-0000-4000-8000-000000000000",
        &action,
        &context,
        "fintech.payments",
    );
    assert!(unknown.is_fallback() && unknown.reason().unwrap().contains("no such escalation"));
    let stranger = SentinelClient::builder(endpoint)
        .verify_decisions(TrustedKeys::new().with_key_bytes([7; 32]))
        .build()
        .unwrap();
    let approved = park(&client, &context, 46_000);
    client
        .resolve(&approved, Resolution::Approve, "treasury_ops")
        .unwrap();
    let payment = Action::payment(json!({"amount": 46_000, "from": "acct_ops", "to": "vendor_42"}));
    let unverified = stranger.resume(&approved, &payment, &context, "fintech.payments");
    assert_eq!(unverified.verdict(), Verdict::Block);
    assert!(
        unverified.reason().unwrap().contains("untrusted"),
        "{unverified:?}"
    );

    // Not guaranteed: single use across clients (another process). A second client may
    // resume on an approval the first one used; receipts are the protocol's answer to that.
    let another_process = client_of(endpoint);
    assert!(another_process
        .resume(&by_hand, &action, &context, "fintech.payments")
        .allowed());
}

fn client_of(endpoint: &str) -> SentinelClient {
    client(endpoint)
}

#[test]
fn resume_runs_the_body_only_on_the_approval_of_the_identical_action() {
    let mock = MockSidecar::start(|request| {
        if request.payload["amount"].as_u64().unwrap_or(0) > 25_000 {
            MockAnswer::escalate("transfers above 25000 require dual-control sign-off")
                .with_approvers(["treasury_ops"])
        } else {
            MockAnswer::allow()
        }
    });
    park_and_resume(&mock.endpoint());
}

#[test]
#[ignore = "needs a real sidecar (SENTINEL_LIVE_ENDPOINT; .ci/run starts one)"]
fn resume_runs_the_body_only_on_the_approval_of_the_identical_action_on_the_real_sidecar() {
    let Some(endpoint) = live_endpoint() else { return };
    park_and_resume(&endpoint);
}

static FEES: AtomicUsize = AtomicUsize::new(0);

#[sentinel::guarded(policy = "fintech.payments", kind = "payment", client = client)]
fn fee(client: &SentinelClient, amount: u64, from: &str, to: &str) -> Result<u64, Denied> {
    FEES.fetch_add(1, Ordering::SeqCst);
    Ok(amount)
}

#[test]
fn resuming_applies_to_the_approved_action_only_and_other_guards_in_the_scope_ask_the_sidecar() {
    let mock = MockSidecar::start(|request| {
        if request.payload["amount"].as_u64().unwrap_or(0) > 25_000 {
            MockAnswer::escalate("transfers above 25000 require dual-control sign-off")
                .with_approvers(["treasury_ops"])
        } else {
            MockAnswer::allow()
        }
    });
    let client = client(&mock.endpoint());
    let context = Context::new("resume-scope");
    let denied = context
        .scope(|| fee(&client, 50_000, "acct_ops", "vendor_42"))
        .expect_err("a high-value payment escalates");
    let parked = denied.escalation_id().unwrap().to_owned();
    client
        .resolve(&parked, Resolution::Approve, "treasury_ops")
        .unwrap();
    let guards_before = mock.requests().len();

    // One tool run, resumed: the approved transfer, then a fee the tool also charges.
    let (transfer, charge) = context.resuming(&parked).scope(|| {
        (
            fee(&client, 50_000, "acct_ops", "vendor_42"),
            fee(&client, 12, "acct_ops", "fees"),
        )
    });
    assert_eq!(transfer.unwrap(), 50_000, "resumed on the approval");
    assert_eq!(charge.unwrap(), 12, "the fee is guarded as usual, not refused");
    assert_eq!(FEES.load(Ordering::SeqCst), 2);
    // The sidecar was asked about the fee only: the approved transfer did not open a new
    // escalation.
    let asked: Vec<_> = mock.requests()[guards_before..]
        .iter()
        .map(|request| request.payload["amount"].clone())
        .collect();
    assert_eq!(asked, [json!(12)]);
}
