//! `sentinelctl escalations` against a loopback mock sidecar with a long queue: the sidecar
//! pages neither its escalation list nor has a route for one escalation, so a list past the
//! library's default 1 MiB answer limit must still be read whole (the auditor's limit).

use std::process::Command;

use sentinel::testing::{MockAnswer, MockSidecar};
use sentinel::{Action, Context, SentinelClient, Verdict};
use serde_json::{json, Value};

#[test]
fn a_queue_longer_than_one_mebibyte_is_listed_and_shown_whole() {
    let sidecar = MockSidecar::start(|_| MockAnswer::escalate("over the review threshold"));
    let client = SentinelClient::builder(sidecar.endpoint()).build().unwrap();
    let context = Context::new("long-queue");
    // 2 KiB of memo an action: 600 escalations are ~1.3 MiB of list.
    let memo = "m".repeat(2048);
    let mut ids = Vec::new();
    for amount in 0..600 {
        let decision = client.guard(
            &Action::payment(json!({"amount": amount, "from": "acct_ops", "to": "vendor_42", "memo": memo})),
            &context,
            "fintech.payments",
        );
        assert_eq!(decision.verdict(), Verdict::Escalate);
        ids.push(decision.escalation_id().expect("an escalation id").to_owned());
    }
    let endpoint = sidecar.endpoint();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_sentinelctl"))
            .args(args)
            .args(["--endpoint", &endpoint, "--json"])
            .env_remove("SENTINEL_ENDPOINT")
            .output()
            .expect("sentinelctl runs")
    };

    let listed = run(&["escalations", "list"]);
    assert_eq!(
        listed.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    assert!(listed.stdout.len() > 1 << 20, "the list is over 1 MiB");
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 600);

    let last = ids.last().unwrap();
    let shown = run(&["escalations", "show", last]);
    assert_eq!(
        shown.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&shown.stderr)
    );
    let shown: Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(shown["id"], last.as_str());
    assert_eq!(shown["action"]["payload"]["amount"], 599);
}
