//! `verify_decisions`: an ALLOW counts only when its signed record checks out and is about
//! this very call. A forged or replayed ALLOW becomes a BLOCK.
#![cfg(feature = "verify")]

use std::io::Write;
use std::time::Duration;

use crate::support::{http_response, read_request_with_target, RawServer};
use base64::Engine;
use ed25519_dalek::{Signer, SigningKey};
use sentinel::provenance::{Record, TrustedKeys};
use sentinel::{Action, BuildError, Context, FailMode, SentinelClient, Verdict};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const RECORDS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/records.json"
));
const SIGNER: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/signer.json"));

/// The recorded ALLOW of `{amount: 100, from: acct_ops, to: vendor_42}` in run `run_conf_1`.
fn genuine_allow_record() -> Value {
    let records: Vec<Value> = serde_json::from_str(RECORDS).unwrap();
    records
        .into_iter()
        .find(|r| {
            r["verdict"] == "ALLOW"
                && r["action"]["payload"] == json!({"amount": 100, "from": "acct_ops", "to": "vendor_42"})
        })
        .expect("the fixture holds the allow_small_payment record")
}

fn trusted() -> TrustedKeys {
    let signer: Value = serde_json::from_str(SIGNER).unwrap();
    TrustedKeys::new()
        .with_key_base64(signer["signerPublicKey"].as_str().unwrap())
        .unwrap()
}

/// A sidecar (or an attacker on the path) that says ALLOW naming `record`, and serves it.
fn sidecar_serving(record: Value) -> RawServer {
    let record_id = record["id"].as_str().unwrap().to_owned();
    let decision = json!({"verdict": "ALLOW", "recordId": record_id, "checks": []}).to_string();
    let record = record.to_string();
    RawServer::start(move |mut stream, stop| {
        while let Some((target, _)) = read_request_with_target(&mut stream, stop) {
            let body = if target == "/v1/guard" {
                &decision
            } else if target == format!("/v1/records/{record_id}") {
                &record
            } else {
                "{}"
            };
            let status = if body == "{}" { "404 Not Found" } else { "200 OK" };
            if stream.write_all(&http_response(status, body)).is_err() {
                return;
            }
        }
    })
}

fn verifying_client(endpoint: String) -> SentinelClient {
    SentinelClient::builder(endpoint)
        .timeout(Duration::from_secs(2))
        .verify_decisions(trusted())
        .build()
        .unwrap()
}

/// The context the recorded ALLOW was made in.
fn the_recorded_context() -> Context {
    Context::new("run_conf_1").with_tenant("acme")
}

fn the_recorded_action() -> Action {
    Action::payment(json!({"amount": 100, "from": "acct_ops", "to": "vendor_42"}))
}

#[test]
fn a_genuine_allow_for_this_action_and_run_is_honoured() {
    let server = sidecar_serving(genuine_allow_record());
    let decision = guard_the_recorded_action(&verifying_client(server.endpoint()));
    assert!(decision.allowed(), "{decision:?}");
    assert!(!decision.is_fallback());
}

#[test]
fn a_genuine_record_replayed_for_another_action_is_blocked() {
    let server = sidecar_serving(genuine_allow_record());
    let other = Action::payment(json!({"amount": 900000, "from": "acct_ops", "to": "acct_evil"}));
    let decision =
        verifying_client(server.endpoint()).guard(&other, &the_recorded_context(), "fintech.payments");
    assert_eq!(decision.verdict(), Verdict::Block);
    assert!(
        decision.reason().unwrap().contains("another action"),
        "{decision:?}"
    );
}

#[test]
fn a_genuine_record_replayed_into_another_run_is_blocked() {
    let server = sidecar_serving(genuine_allow_record());
    let decision = verifying_client(server.endpoint()).guard(
        &the_recorded_action(),
        &Context::new("run_other"),
        "fintech.payments",
    );
    assert_eq!(decision.verdict(), Verdict::Block);
    assert!(decision.reason().unwrap().contains("another run"), "{decision:?}");
}

#[test]
fn an_allow_whose_record_was_signed_by_another_key_is_blocked() {
    // A well-formed record, correctly hashed and signed, but by a key nobody pinned.
    let forger = SigningKey::from_bytes(&[7u8; 32]);
    let public = forger.verifying_key().to_bytes();
    let mut forged = genuine_allow_record();
    forged["signerPublicKey"] = json!(base64::engine::general_purpose::STANDARD.encode(public));
    forged["keyId"] = json!(format!("ed25519:{}", hex(&Sha256::digest(public))));
    let body = Record::from_json(&forged.to_string()).unwrap().canonical_body();
    let hash = Sha256::digest(body.as_bytes());
    forged["contentHash"] = json!(hex(&hash));
    forged["sig"] = json!(base64::engine::general_purpose::STANDARD.encode(forger.sign(&hash).to_bytes()));
    // The forgery is internally consistent: it verifies against the forger's own key.
    let forger_keys = TrustedKeys::new().with_key_bytes(public);
    sentinel::provenance::verify_record(&Record::from_json(&forged.to_string()).unwrap(), &forger_keys)
        .unwrap();

    let server = sidecar_serving(forged);
    let decision = guard_the_recorded_action(&verifying_client(server.endpoint()));
    assert_eq!(decision.verdict(), Verdict::Block);
    assert!(
        decision.reason().unwrap().contains("ALLOW not verified"),
        "{decision:?}"
    );
}

#[test]
fn an_allow_whose_record_was_altered_is_blocked() {
    let mut altered = genuine_allow_record();
    altered["id"] = json!("rec_somewhere_else");
    let server = sidecar_serving(altered);
    let decision = guard_the_recorded_action(&verifying_client(server.endpoint()));
    assert_eq!(decision.verdict(), Verdict::Block);
    assert!(
        decision.reason().unwrap().contains("content hash"),
        "{decision:?}"
    );
}

#[test]
fn an_allow_whose_record_cannot_be_fetched_is_blocked() {
    let server = RawServer::start(|mut stream, stop| {
        while let Some((target, _)) = read_request_with_target(&mut stream, stop) {
            let response = if target == "/v1/guard" {
                http_response(
                    "200 OK",
                    r#"{"verdict":"ALLOW","recordId":"rec_missing","checks":[]}"#,
                )
            } else {
                http_response("404 Not Found", r#"{"error":"record not found"}"#)
            };
            if stream.write_all(&response).is_err() {
                return;
            }
        }
    });
    let decision = guard_the_recorded_action(&verifying_client(server.endpoint()));
    assert_eq!(decision.verdict(), Verdict::Block);
    assert!(decision.reason().unwrap().contains("rec_missing"), "{decision:?}");
}

/// The recorded payment, guarded by `client` under its recorded context and policy.
fn guard_the_recorded_action(client: &SentinelClient) -> sentinel::GuardDecision {
    client.guard(
        &the_recorded_action(),
        &the_recorded_context(),
        "fintech.payments",
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn the_same_genuine_record_lets_only_one_call_through() {
    let server = sidecar_serving(genuine_allow_record());
    let client = verifying_client(server.endpoint());
    let first = guard_the_recorded_action(&client);
    let replayed = guard_the_recorded_action(&client);
    assert!(first.allowed(), "{first:?}");
    assert_eq!(replayed.verdict(), Verdict::Block);
    assert!(replayed.reason().unwrap().contains("replay"), "{replayed:?}");
}

#[test]
fn a_genuine_record_of_another_tenant_is_blocked() {
    let server = sidecar_serving(genuine_allow_record());
    let decision = verifying_client(server.endpoint()).guard(
        &the_recorded_action(),
        &Context::new("run_conf_1").with_tenant("globex"),
        "fintech.payments",
    );
    assert_eq!(decision.verdict(), Verdict::Block);
    assert!(decision.reason().unwrap().contains("tenant"), "{decision:?}");
}

#[test]
fn a_batch_allow_is_verified_too() {
    // A path that answers the batch with an ALLOW naming a record it cannot back up.
    let server = RawServer::start(|mut stream, stop| {
        while let Some((target, _)) = read_request_with_target(&mut stream, stop) {
            let response = if target == "/v1/guard/batch" {
                http_response(
                    "200 OK",
                    r#"{"decisions":[{"verdict":"ALLOW","recordId":"rec_forged","checks":[]}]}"#,
                )
            } else {
                http_response("404 Not Found", r#"{"error":"record not found"}"#)
            };
            if stream.write_all(&response).is_err() {
                return;
            }
        }
    });
    let decisions = verifying_client(server.endpoint()).guard_batch(&[(
        the_recorded_action(),
        the_recorded_context(),
        "fintech.payments",
    )]);
    assert_eq!(decisions[0].verdict(), Verdict::Block, "{decisions:?}");
    assert!(decisions[0].reason().unwrap().contains("ALLOW not verified"));
}

#[test]
fn verifying_while_failing_open_is_refused_at_build_time() {
    let err = SentinelClient::builder("http://127.0.0.1:9")
        .fail_mode(FailMode::Open)
        .verify_decisions(trusted())
        .build()
        .unwrap_err();
    assert_eq!(err, BuildError::VerifyWithFailOpen);
}

const KEY_ID: &str = "ed25519:56475aa75463474c0285df5dbf2bcab73da651358839e9b77481b2eab107708c";

/// A path that answers every guard with an ALLOW naming a record it cannot back up (a
/// forged answer, or a stray one read on a reused connection).
fn forging_sidecar() -> RawServer {
    RawServer::start(|mut stream, stop| {
        while let Some((target, _)) = read_request_with_target(&mut stream, stop) {
            let response = if target == "/v1/guard" {
                http_response(
                    "200 OK",
                    r#"{"verdict":"ALLOW","recordId":"rec_forged","checks":[]}"#,
                )
            } else {
                http_response("404 Not Found", r#"{"error":"record not found"}"#)
            };
            if stream.write_all(&response).is_err() {
                return;
            }
        }
    })
}

#[test]
fn pinning_the_key_id_the_sidecar_prints_verifies_every_allow() {
    let genuine = sidecar_serving(genuine_allow_record());
    let pinned = SentinelClient::builder(genuine.endpoint())
        .trusted_key_id(KEY_ID)
        .build()
        .unwrap();
    assert!(pinned.verifies_decisions());
    let decision = guard_the_recorded_action(&pinned);
    assert!(decision.allowed() && !decision.is_fallback(), "{decision:?}");

    let forged = forging_sidecar();
    let pinned = SentinelClient::builder(forged.endpoint())
        .trusted_key_id(KEY_ID)
        .build()
        .unwrap();
    let decision = guard_the_recorded_action(&pinned);
    assert_eq!(decision.verdict(), Verdict::Block, "{decision:?}");
    assert!(
        decision.reason().unwrap().contains("ALLOW not verified"),
        "{decision:?}"
    );

    // A key id of another sidecar: the genuine record is not trusted.
    let elsewhere = SentinelClient::builder(genuine.endpoint())
        .trusted_key_id(format!("ed25519:{}", "ab".repeat(32)))
        .build()
        .unwrap();
    let decision = guard_the_recorded_action(&elsewhere);
    assert_eq!(decision.verdict(), Verdict::Block, "{decision:?}");
    assert!(
        decision.reason().unwrap().contains("untrusted key"),
        "{decision:?}"
    );
}

#[test]
fn opting_out_of_verification_is_explicit_and_takes_the_sidecars_word() {
    let forged = forging_sidecar();
    let unpinned = SentinelClient::builder(forged.endpoint()).build().unwrap();
    assert!(!unpinned.verifies_decisions());
    let opted_out = SentinelClient::builder(forged.endpoint())
        .trusted_key_id(KEY_ID)
        .trust_unverified_decisions()
        .build()
        .unwrap();
    assert!(!opted_out.verifies_decisions());
    // What opting out means: the forged ALLOW counts.
    assert!(guard_the_recorded_action(&opted_out).allowed());
    // …and it may then fail open, which a verifying client may not.
    SentinelClient::builder(forged.endpoint())
        .trusted_key_id(KEY_ID)
        .trust_unverified_decisions()
        .fail_mode(FailMode::Open)
        .build()
        .unwrap();
    let err = SentinelClient::builder(forged.endpoint())
        .trusted_key_id(KEY_ID)
        .fail_mode(FailMode::Open)
        .build()
        .unwrap_err();
    assert_eq!(err, BuildError::VerifyWithFailOpen);
}

#[test]
fn a_key_id_that_is_not_one_fails_the_build() {
    for bad in [
        "",
        "ed25519:",
        "56475aa75463474c",
        "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=",
    ] {
        let err = SentinelClient::builder("http://127.0.0.1:9")
            .trusted_key_id(KEY_ID)
            .trusted_key_id(bad)
            .build()
            .unwrap_err();
        assert!(matches!(&err, BuildError::InvalidKeyId(_)), "{bad:?}: {err:?}");
        assert!(err.to_string().contains("signer ed25519:"), "{err}");
    }
}

#[test]
fn a_genuine_allow_judged_under_another_policy_is_blocked() {
    // The recorded ALLOW was judged under fintech.payments; this call asks under another.
    let server = sidecar_serving(genuine_allow_record());
    let decision = verifying_client(server.endpoint()).guard(
        &the_recorded_action(),
        &the_recorded_context(),
        "fintech.payments_lenient",
    );
    assert_eq!(decision.verdict(), Verdict::Block, "{decision:?}");
    assert!(
        decision
            .reason()
            .unwrap()
            .contains("not judged under policy fintech.payments_lenient"),
        "{decision:?}"
    );
}

#[test]
fn reading_a_record_by_id_returns_that_record_or_an_error() {
    // A path that answers every record request with one genuine, validly signed record.
    let genuine = genuine_allow_record();
    let genuine_id = genuine["id"].as_str().unwrap().to_owned();
    let body = genuine.to_string();
    let server = RawServer::start(move |mut stream, stop| {
        while read_request_with_target(&mut stream, stop).is_some() {
            if stream.write_all(&http_response("200 OK", &body)).is_err() {
                return;
            }
        }
    });
    let client = verifying_client(server.endpoint());
    assert_eq!(client.record(&genuine_id).unwrap().id(), genuine_id);
    let err = client.record("rec_0").unwrap_err();
    assert!(
        matches!(&err, sentinel::SidecarError::Malformed(why) if why.contains("asked for record rec_0")),
        "{err:?}"
    );
}
