//! The auditor's commands against the real sidecar: its records listed and read, an
//! escalation listed, shown and approved, its chain exported (and the export resumed) and
//! verified from the file and live, with a checkpoint carried from one run to the next; and
//! the protocol's audit of a sidecar holding an execution that no authorization covers.

use std::path::Path;
use std::process::{Command, Output};

use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey};
use sentinel::adjudication::{
    AdjudicationRequest, CanonicalAction, ExecutionReceipt, ExecutorKey, ReceiptClient,
};
use sentinel::provenance::TrustedKeys;
use sentinel::testing::SignedChain;
use sentinel::{Action, Context, SentinelClient, Verdict};
use serde_json::{json, Value};

/// The key the sidecar script signs with by default: the seed 0, 1, …, 31.
fn pinned_key_id() -> String {
    SignedChain::new(std::array::from_fn(|i| i as u8))
        .key_id()
        .to_owned()
}

fn live_endpoint() -> Option<String> {
    match std::env::var("SENTINEL_LIVE_ENDPOINT") {
        Ok(endpoint) if !endpoint.trim().is_empty() => Some(endpoint.trim().trim_end_matches('/').to_owned()),
        _ => {
            println!("skipped: SENTINEL_LIVE_ENDPOINT not set");
            None
        }
    }
}

fn sentinelctl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sentinelctl"))
        .args(args)
        .env_remove("SENTINEL_TRUSTED_KEY_IDS")
        .output()
        .expect("sentinelctl runs")
}

fn json_of(output: &Output) -> Value {
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("one JSON value")
}

fn run_id() -> String {
    format!("audit-cli-{}", uuid_like())
}

fn uuid_like() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    format!(
        "{}-{}",
        std::process::id(),
        SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos()
    )
}

fn pay(client: &SentinelClient, run: &str, amount: u64) -> sentinel::GuardDecision {
    client.guard(
        &Action::payment(json!({"amount": amount, "from": "acct_ops", "to": "vendor_42"})),
        &Context::new(run),
        "fintech.payments",
    )
}

#[test]
#[ignore = "needs a real sidecar (SENTINEL_LIVE_ENDPOINT; .ci/run starts one)"]
fn records_and_escalations_as_a_person_and_a_script_see_them() {
    let Some(endpoint) = live_endpoint() else { return };
    let client = SentinelClient::builder(&endpoint).build().unwrap();
    let run = run_id();
    let small = pay(&client, &run, 100);
    assert_eq!(small.verdict(), Verdict::Allow, "{small:?}");
    let small_id = small.record_id().expect("a record").to_owned();
    let large = pay(&client, &run, 60_000);
    assert_eq!(large.verdict(), Verdict::Escalate, "{large:?}");
    let escalation = large.escalation_id().expect("an escalation").to_owned();

    let listed = json_of(&sentinelctl(&[
        "records",
        "list",
        "--endpoint",
        &endpoint,
        "--run-id",
        &run,
        "--json",
    ]));
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert_eq!(listed[0]["id"], small_id.as_str());
    assert_eq!(listed[1]["verdict"], "ESCALATE");

    let one = json_of(&sentinelctl(&[
        "records",
        "get",
        &small_id,
        "--endpoint",
        &endpoint,
        "--json",
    ]));
    assert_eq!(one["id"], small_id.as_str());
    let table = sentinelctl(&["records", "list", "--endpoint", &endpoint, "--run-id", &run]);
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(table.starts_with("SEQ"), "{table}");
    assert!(table.contains(&small_id) && table.contains("ESCALATE"), "{table}");

    let pending = json_of(&sentinelctl(&[
        "escalations",
        "list",
        "--status",
        "pending",
        "--endpoint",
        &endpoint,
        "--json",
    ]));
    assert!(
        pending
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["id"] == escalation.as_str()),
        "{pending}"
    );
    let shown = sentinelctl(&["escalations", "show", &escalation, "--endpoint", &endpoint]);
    assert!(String::from_utf8_lossy(&shown.stdout).contains("pending"));
    let approved = json_of(&sentinelctl(&[
        "escalations",
        "approve",
        &escalation,
        "--approver",
        "treasury_ops",
        "--endpoint",
        &endpoint,
        "--json",
    ]));
    assert_eq!(approved["escalation"]["status"], "approved");
    assert!(approved["recordId"].as_str().unwrap().starts_with("rec_"));
    // Found past the pending list, and an id the sidecar never minted is not found.
    let shown = json_of(&sentinelctl(&[
        "escalations",
        "show",
        &escalation,
        "--endpoint",
        &endpoint,
        "--json",
    ]));
    assert_eq!(shown["id"], escalation.as_str());
    assert_eq!(shown["status"], "approved");
    assert_eq!(shown["resolvedBy"], "treasury_ops");
    let unknown = sentinelctl(&["escalations", "show", "esc_never_minted", "--endpoint", &endpoint]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no escalation esc_never_minted"));
    // Resolved once: a second decision is refused.
    let again = sentinelctl(&[
        "escalations",
        "deny",
        &escalation,
        "--approver",
        "treasury_ops",
        "--endpoint",
        &endpoint,
    ]);
    assert_eq!(again.status.code(), Some(3));
}

#[test]
#[ignore = "needs a real sidecar (SENTINEL_LIVE_ENDPOINT; .ci/run starts one)"]
fn the_live_chain_exports_and_verifies_from_a_checkpoint() {
    let Some(endpoint) = live_endpoint() else { return };
    let client = SentinelClient::builder(&endpoint).build().unwrap();
    let run = run_id();
    for amount in [10, 20, 30] {
        assert_eq!(pay(&client, &run, amount).verdict(), Verdict::Allow);
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("export.jsonl");
    let checkpoint = dir.path().join("checkpoint.json");
    let key = pinned_key_id();
    let path = |p: &Path| p.to_str().unwrap().to_owned();

    let exported = json_of(&sentinelctl(&[
        "export",
        "--endpoint",
        &endpoint,
        "--output",
        &path(&file),
        "--json",
    ]));
    let first_count = exported["written"].as_u64().unwrap();
    assert!(first_count >= 3);
    let verified = json_of(&sentinelctl(&[
        "verify",
        &path(&file),
        "--key-id",
        &key,
        "--write-checkpoint",
        &path(&checkpoint),
        "--json",
    ]));
    assert_eq!(verified["verified"].as_u64(), Some(first_count));

    // More decisions; the export resumes after its last record and the file verifies from the
    // checkpoint.
    for amount in [40, 50] {
        assert_eq!(pay(&client, &run, amount).verdict(), Verdict::Allow);
    }
    let resumed = json_of(&sentinelctl(&[
        "export",
        "--endpoint",
        &endpoint,
        "--output",
        &path(&file),
        "--resume",
        "--json",
    ]));
    assert_eq!(resumed["from_seq"].as_u64(), Some(first_count));
    assert!(resumed["written"].as_u64().unwrap() >= 2);
    let verified = json_of(&sentinelctl(&[
        "verify",
        &path(&file),
        "--key-id",
        &key,
        "--from-checkpoint",
        &path(&checkpoint),
        "--json",
    ]));
    assert_eq!(verified["skipped"].as_u64(), Some(first_count - 1));

    // Live: the whole chain, then only what is new since the checkpoint.
    let live = json_of(&sentinelctl(&[
        "verify",
        "--endpoint",
        &endpoint,
        "--key-id",
        &key,
        "--json",
    ]));
    assert!(live["verified"].as_u64().unwrap() >= first_count + 2);
    let strict = json_of(&sentinelctl(&[
        "verify",
        "--endpoint",
        &endpoint,
        "--key-id",
        &key,
        "--strict-signatures",
        "--json",
    ]));
    assert!(strict["verified"].as_u64() >= live["verified"].as_u64());
    let since = json_of(&sentinelctl(&[
        "verify",
        "--endpoint",
        &endpoint,
        "--key-id",
        &key,
        "--from-checkpoint",
        &path(&checkpoint),
        "--json",
    ]));
    assert!(since["verified"].as_u64().unwrap() >= 3, "{since}");
    assert_eq!(
        since["head"]["seq"],
        live["head"]["seq"]
            .as_u64()
            .unwrap()
            .max(since["head"]["seq"].as_u64().unwrap())
    );

    // Under a key that is not the sidecar's, the live chain is refused at its first record.
    let other = SignedChain::new([1; 32]);
    let refused = sentinelctl(&["verify", "--endpoint", &endpoint, "--key-id", other.key_id()]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stdout).contains("record seq 0: signed by untrusted key"));
}

/// A sidecar of this test's own, started with `--protocol` by the script; stopped on drop.
struct ProtocolSidecar {
    script: String,
    pid: String,
    endpoint: String,
}

impl ProtocolSidecar {
    fn start() -> Option<ProtocolSidecar> {
        ProtocolSidecar::start_with(&[])
    }

    /// Started with `settings` (`NAME=VALUE`) beside `--protocol`.
    fn start_with(settings: &[String]) -> Option<ProtocolSidecar> {
        let script = match std::env::var("SENTINEL_SIDECAR_SCRIPT") {
            Ok(script) if !script.trim().is_empty() => script,
            _ => {
                println!("skipped: SENTINEL_SIDECAR_SCRIPT not set");
                return None;
            }
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let out = Command::new(&script)
            .args(["start", &port.to_string(), "--protocol"])
            .args(settings)
            .output()
            .unwrap();
        let pid = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        assert!(
            out.status.success() && !pid.is_empty(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Some(ProtocolSidecar {
            script,
            pid,
            endpoint: format!("http://127.0.0.1:{port}"),
        })
    }
}

impl Drop for ProtocolSidecar {
    fn drop(&mut self) {
        let _ = Command::new(&self.script).args(["stop", &self.pid]).output();
    }
}

#[test]
#[ignore = "needs a real sidecar (SENTINEL_SIDECAR_SCRIPT; .ci/run sets it)"]
fn the_protocol_audit_is_read_and_a_sidecar_without_it_says_so() {
    let Some(sidecar) = ProtocolSidecar::start() else {
        return;
    };
    let report = json_of(&sentinelctl(&[
        "receipts",
        "audit",
        "--endpoint",
        &sidecar.endpoint,
        "--json",
    ]));
    assert_eq!(report["valid"], true, "{report}");
    assert_eq!(report["executionsChecked"], 0);
    assert_eq!(report["coverage"], 1.0);
    assert_eq!(report["executionsWithoutAuthorization"], json!([]));
    let table = sentinelctl(&["receipts", "audit", "--endpoint", &sidecar.endpoint]);
    assert!(
        String::from_utf8_lossy(&table.stdout).starts_with("valid: 0 executions checked, coverage 100.0 %")
    );

    if let Some(plain) = live_endpoint() {
        let out = sentinelctl(&["receipts", "audit", "--endpoint", &plain]);
        assert_eq!(out.status.code(), Some(3));
        assert!(String::from_utf8_lossy(&out.stderr).contains("start it with --protocol"));
    }
}

/// The executor this test plays: trusted by its sidecar (`SENTINEL_PROTOCOL_EXECUTOR_KEYS`).
const EXECUTOR_SEED: [u8; 32] = [9; 32];
/// The sidecar's issuer key with the script's default signing seed (bytes 0..31).
const ISSUER_KEY: &str = "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=";

/// An execution receipt as an executor that skipped the gate would report it: signed by a
/// key the sidecar trusts, naming an authorization the sidecar never issued.
fn unauthorized_execution(executor: &ExecutorKey) -> ExecutionReceipt {
    let now = "2026-01-01T00:00:00.000Z";
    let mut wire = json!({
        "executionId": format!("exec_{}", uuid_like()),
        "authorizationReceiptId": "rcpt_never_issued",
        "authorizationReceiptDigest": "0".repeat(64),
        "actualActionDigest": "1".repeat(64),
        "executorIdentity": executor.identity(),
        "startedAt": now,
        "completedAt": now,
        "resultDigest": "2".repeat(64),
        "executionStatus": "SUCCEEDED",
        "keyId": executor.key_id(),
        "signature": "",
    });
    let unsigned: ExecutionReceipt = serde_json::from_value(wire.clone()).unwrap();
    let signature = SigningKey::from_bytes(&EXECUTOR_SEED).sign(&unsigned.signing_input());
    wire["signature"] = json!(base64::engine::general_purpose::STANDARD.encode(signature.to_bytes()));
    serde_json::from_value(wire).unwrap()
}

#[test]
#[ignore = "needs a real sidecar (SENTINEL_SIDECAR_SCRIPT; .ci/run sets it)"]
fn an_execution_without_authorization_is_named_and_fails_the_audit() {
    let executor = ExecutorKey::from_seed(EXECUTOR_SEED, "payments-worker");
    let Some(sidecar) = ProtocolSidecar::start_with(&[format!(
        "SENTINEL_PROTOCOL_EXECUTOR_KEYS={}",
        executor.sidecar_setting()
    )]) else {
        return;
    };
    let receipts = ReceiptClient::new(
        SentinelClient::builder(&sidecar.endpoint).build().unwrap(),
        TrustedKeys::new().with_key_base64(ISSUER_KEY).unwrap(),
        executor.clone(),
    );
    // One execution through the gate: adjudicated, validated, run, reported.
    let request = AdjudicationRequest::new(
        CanonicalAction::new(
            "payment",
            "core-banking",
            "transfer",
            "agent-7",
            json!({"amount": 100, "from": "acct_ops", "to": "vendor_42"}),
        )
        .unwrap(),
        Context::new(run_id()).with_actor("agent-7", ["ops"]),
        "fintech.payments",
    );
    let paid: Result<&str, sentinel::Denied> = receipts.execute(&request, || Ok("tx_1"));
    assert_eq!(paid.unwrap(), "tx_1");
    assert!(
        receipts.pending_reports().is_empty(),
        "the execution was reported"
    );
    // One that bypassed it, reported all the same (the sidecar stores what a trusted
    // executor signs; its audit is what finds the missing authorization).
    let rogue = unauthorized_execution(&executor);
    receipts.report(&rogue).unwrap();

    let report = sentinelctl(&["receipts", "audit", "--endpoint", &sidecar.endpoint, "--json"]);
    assert_eq!(
        report.status.code(),
        Some(1),
        "an unauthorized execution fails the audit"
    );
    let report: Value = serde_json::from_slice(&report.stdout).unwrap();
    assert_eq!(report["valid"], false, "{report}");
    assert_eq!(report["executionsChecked"], 2, "{report}");
    assert_eq!(report["coverage"], 0.5, "{report}");
    assert_eq!(
        report["executionsWithoutAuthorization"],
        json!([rogue.execution_id()]),
        "{report}"
    );
    let violations = report["violations"].as_array().unwrap();
    assert_eq!(violations.len(), 1, "{report}");
    assert_eq!(violations[0]["type"], "EXECUTION_WITHOUT_AUTHORIZATION");
    assert_eq!(violations[0]["authorizationReceiptId"], "rcpt_never_issued");

    let table = sentinelctl(&["receipts", "audit", "--endpoint", &sidecar.endpoint]);
    assert_eq!(table.status.code(), Some(1));
    let table = String::from_utf8_lossy(&table.stdout);
    let mut lines = table.lines();
    assert_eq!(
        lines.next(),
        Some("NOT VALID: 2 executions checked, coverage 50.0 % (each with exactly one valid, matching authorization)"),
        "{table}"
    );
    assert!(
        lines.next().is_some_and(|header| header.starts_with("VIOLATION")),
        "{table}"
    );
    let row = lines.next().unwrap_or_default();
    assert!(
        row.starts_with("EXECUTION_WITHOUT_AUTHORIZATION")
            && row.contains(rogue.execution_id())
            && row.contains("rcpt_never_issued"),
        "{table}"
    );
}
