//! Resuming an escalation is bound to the policy the call asks under: an approval of an
//! escalation opened under one policy does not let the action through under another.
//! Against the mock sidecar, whose records carry the `policy:<name>` check like the real
//! one's.

use crate::support::pay;

use sentinel::testing::{MockAnswer, MockSidecar};
use sentinel::{Context, Resolution, SentinelClient, Verdict};

#[test]
fn a_resume_under_another_policy_than_the_escalations_is_a_block() {
    let sidecar = MockSidecar::start(|_| MockAnswer::escalate("needs sign-off"));
    let client = SentinelClient::builder(sidecar.endpoint()).build().unwrap();
    let context = Context::new("run-resume-policy");
    let action = pay(5000, "vendor_big");

    let escalated = client.guard(&action, &context, "fintech.payments");
    let escalation_id = escalated.escalation_id().unwrap().to_owned();
    client
        .resolve(&escalation_id, Resolution::Approve, "treasury_ops")
        .unwrap();

    // The same approval, asked for under another policy: refused, saying why.
    let elsewhere = client.resume(&escalation_id, &action, &context, "fintech.refunds");
    assert_eq!(elsewhere.verdict(), Verdict::Block, "{elsewhere:?}");
    let reason = elsewhere.reason().unwrap();
    assert!(
        reason.contains("not opened under policy fintech.refunds"),
        "{reason}"
    );
    // Through a guarded call's context too.
    let guarded = client.guard(
        &action,
        &context.clone().resuming(&escalation_id),
        "fintech.refunds",
    );
    assert_eq!(guarded.verdict(), Verdict::Block, "{guarded:?}");
    assert!(
        guarded
            .reason()
            .unwrap()
            .contains("not opened under policy fintech.refunds"),
        "{guarded:?}"
    );

    // Under the policy it was opened under, the approval lets it through (once).
    let resumed = client.resume(&escalation_id, &action, &context, "fintech.payments");
    assert!(resumed.allowed(), "{resumed:?}");
}
