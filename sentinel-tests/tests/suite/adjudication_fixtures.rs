//! The digests and signatures of the adjudication protocol, computed by the client exactly
//! as the reference sidecar computed them (tests/fixtures/adjudication, recorded).
#![cfg(feature = "verify")]

use sentinel::adjudication::{
    evidence_digest, AuthorizationReceipt, CanonicalAction, EvidenceItem, PolicyManifest, ReceiptError,
};
use sentinel::provenance::TrustedKeys;
use serde_json::{json, Value};

const CASES: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/adjudication/cases.json"
));
const ISSUER_KEY: &str = "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=";

fn cases() -> Vec<Value> {
    let cases: Vec<Value> = serde_json::from_str(CASES).unwrap();
    assert_eq!(cases.len(), 3);
    cases
}

/// The recorded canonical action, rebuilt through the public builder.
fn action_of(json: &Value) -> CanonicalAction {
    let text = |key: &str| json[key].as_str().unwrap().to_owned();
    let mut action = CanonicalAction::new(
        text("actionType"),
        text("targetService"),
        text("operation"),
        text("actorId"),
        json["parameters"].clone(),
    )
    .unwrap();
    if let Some(tenant) = json["tenant"].as_str() {
        action = action.tenant(tenant);
    }
    if let Some(scope) = json["scope"].as_str() {
        action = action.scope(scope);
    }
    if let Some(environment) = json["environment"].as_str() {
        action = action.environment(environment);
    }
    if !json["attributes"].is_null() {
        action = action.attributes(json["attributes"].clone()).unwrap();
    }
    action
}

fn receipt_of(case: &Value) -> AuthorizationReceipt {
    serde_json::from_value(case["answer"]["receipt"].clone()).unwrap()
}

#[test]
fn action_digests_are_the_sidecars() {
    for case in cases() {
        let action = action_of(&case["request"]["action"]);
        assert_eq!(
            action.digest(),
            case["answer"]["receipt"]["actionDigest"].as_str().unwrap(),
            "{}",
            case["name"]
        );
    }
}

#[test]
fn policy_and_evidence_digests_are_the_sidecars() {
    for case in cases() {
        let manifest: PolicyManifest = serde_json::from_value(case["request"]["policy"].clone()).unwrap();
        assert_eq!(
            manifest.digest(),
            case["answer"]["policy"]["policyBundleDigest"].as_str().unwrap(),
            "{}",
            case["name"]
        );
        let evidence: Vec<EvidenceItem> =
            serde_json::from_value(case["request"]["evidence"].clone()).unwrap();
        assert_eq!(
            evidence_digest(&evidence),
            case["answer"]["evidence"]["evidenceDigest"].as_str().unwrap(),
            "{}",
            case["name"]
        );
    }
}

#[test]
fn the_evidence_digest_is_of_the_set_not_the_order() {
    let case = &cases()[2];
    let mut evidence: Vec<EvidenceItem> =
        serde_json::from_value(case["request"]["evidence"].clone()).unwrap();
    evidence.reverse();
    assert_eq!(
        evidence_digest(&evidence),
        case["answer"]["evidence"]["evidenceDigest"].as_str().unwrap()
    );
    evidence.pop();
    assert_ne!(
        evidence_digest(&evidence),
        case["answer"]["evidence"]["evidenceDigest"].as_str().unwrap()
    );
}

#[test]
fn recorded_receipts_verify_under_the_pinned_issuer_key_only() {
    let pinned = TrustedKeys::new().with_key_base64(ISSUER_KEY).unwrap();
    let other = TrustedKeys::new().with_key_bytes([9; 32]);
    for case in cases() {
        let receipt = receipt_of(&case);
        if let Err(e) = receipt.verify_signature(&pinned) {
            panic!("{}: {e}", case["name"]);
        }
        let untrusted = receipt.verify_signature(&other).unwrap_err();
        assert_eq!(untrusted.code(), "UNTRUSTED_ISSUER");
    }
}

#[test]
fn every_signed_field_is_covered_by_the_signature() {
    let pinned = TrustedKeys::new().with_key_base64(ISSUER_KEY).unwrap();
    let genuine = receipt_of(&cases()[1]);
    // A receipt cannot be changed in place: tamper with it on the wire, as an attacker would.
    type Tamper = Box<dyn Fn(&mut Value)>;
    let tampered: Vec<(&str, Tamper)> = vec![
        (
            "actionDigest",
            Box::new(|r| r["actionDigest"] = json!("0".repeat(64))),
        ),
        (
            "contextDigest",
            Box::new(|r| r["contextDigest"] = json!("1".repeat(64))),
        ),
        (
            "expiresAt",
            Box::new(|r| r["expiresAt"] = json!("2099-01-01T00:00:00.000Z")),
        ),
        (
            "nonce",
            Box::new(|r| r["nonce"] = json!(format!("{}x", r["nonce"].as_str().unwrap()))),
        ),
        ("maxExecutions", Box::new(|r| r["maxExecutions"] = json!(2))),
        (
            "humanApprovalReference",
            Box::new(|r| r["humanApprovalReference"] = json!("esc_x")),
        ),
        ("modelVerdict", Box::new(|r| r["modelVerdict"] = json!("ALLOW"))),
    ];
    for (field, tamper) in tampered {
        let mut wire = serde_json::to_value(&genuine).unwrap();
        tamper(&mut wire);
        let receipt: AuthorizationReceipt = serde_json::from_value(wire).unwrap();
        let err = receipt.verify_signature(&pinned).unwrap_err();
        assert!(
            matches!(&err, ReceiptError::Rejected { code, .. } if code == "INVALID_SIGNATURE"),
            "{field}: {err}"
        );
    }
}

#[test]
fn debug_leaves_out_the_nonce_and_the_signature() {
    let receipt = receipt_of(&cases()[0]);
    let debug = format!("{receipt:?}");
    assert!(!debug.contains(receipt.nonce()), "{debug}");
    assert!(!debug.contains(receipt.signature()), "{debug}");
    assert!(debug.contains(receipt.receipt_id()), "{debug}");
}
