//! [`SignedChain`]: provenance records signed one at a time, as the reference sidecar's
//! `RecordBuilder` signs them, without keeping them: a chain of any length for tests and
//! benchmarks of verifiers.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::provenance::{action_fingerprint, canonical_json, hex, Checkpoint, TrustedKeys, GENESIS};

/// Makes a chain of signed provenance records, one record at a time, each as the compact
/// JSON text the sidecar serves (`GET /v1/records`, one line of a JSON Lines export).
///
/// The records look like the sidecar's own (a payment with five checks, about 1.4 KB): the
/// same members, hashed and signed the same way, so the sidecar's `verifyChain` accepts
/// them. Nothing is kept but the link to the last record.
///
/// ```
/// use sentinel_runtime::provenance::{verify_chain, Record};
/// use sentinel_runtime::testing::SignedChain;
///
/// let mut chain = SignedChain::new([7; 32]);
/// let records: Vec<Record> = (0..3).map(|_| Record::from_json(&chain.next_record()).unwrap()).collect();
/// verify_chain(&records, &chain.trusted_keys()).unwrap();
/// assert_eq!(chain.next_seq(), 3);
/// assert_eq!(records[0].key_id(), chain.key_id());
/// assert_eq!(records[0].signer_public_key(), chain.public_key_base64());
/// ```
///
/// A chain that goes on from a checkpoint, with records of your own content:
///
/// ```
/// use sentinel_runtime::provenance::{verify_chain_from, Checkpoint, Record};
/// use sentinel_runtime::testing::SignedChain;
/// use serde_json::json;
///
/// let mut chain = SignedChain::new([7; 32]).resume(&Checkpoint::new(41, "ab".repeat(32)));
/// let members = json!({
///     "id": "rec_42", "ts": "2026-12-05T10:00:00.000Z",
///     "action": {"type": "payment", "payload": {"amount": 5}},
///     "context": {"runId": "run-42"}, "checks": [], "verdict": "ALLOW",
/// });
/// let record = Record::from_json(&chain.sign(members.as_object().unwrap().clone())).unwrap();
/// assert_eq!((record.seq(), record.id()), (42, "rec_42"));
/// verify_chain_from(&[record], &chain.trusted_keys(), Checkpoint::new(41, "ab".repeat(32)).next_start()).unwrap();
/// ```
#[derive(Debug)]
pub struct SignedChain {
    key: SigningKey,
    key_id: String,
    public_key: String,
    next_seq: u64,
    prev_hash: String,
}

impl SignedChain {
    /// A chain from `GENESIS` signed with the Ed25519 key of this 32-byte seed.
    #[must_use]
    pub fn new(seed: [u8; 32]) -> SignedChain {
        let key = SigningKey::from_bytes(&seed);
        let public = key.verifying_key().to_bytes();
        SignedChain {
            key_id: TrustedKeys::key_id_of(&public),
            public_key: STANDARD.encode(public),
            key,
            next_seq: 0,
            prev_hash: GENESIS.to_owned(),
        }
    }

    /// Continues a chain after the record `after` (its `seq` and `contentHash`): the next
    /// record links to it, as if this key had signed the chain up to there.
    #[must_use]
    pub fn resume(mut self, after: &Checkpoint) -> SignedChain {
        self.next_seq = after.seq + 1;
        self.prev_hash.clone_from(&after.content_hash);
        self
    }

    /// The signer's key id, `ed25519:<hex SHA-256 of the public key>`.
    #[must_use]
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The signer's public key, base64.
    #[must_use]
    pub fn public_key_base64(&self) -> &str {
        &self.public_key
    }

    /// The signer's key, pinned.
    #[must_use]
    pub fn trusted_keys(&self) -> TrustedKeys {
        TrustedKeys::new().with_key_bytes(self.key.verifying_key().to_bytes())
    }

    /// The `seq` the next record gets.
    #[must_use]
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// The next record: a payment whose amount, ids and verdict vary with its `seq`.
    pub fn next_record(&mut self) -> String {
        let seq = self.next_seq;
        let amount = seq % 40_000 + 1;
        let verdict = if amount > 25_000 { "ESCALATE" } else { "ALLOW" };
        let payload = json!({"amount": amount, "from": "acct_ops", "to": format!("vendor_{}", seq % 97)});
        let action = json!({"id": format!("act_{seq:08x}"), "type": "payment", "payload": payload});
        let context = json!({
            "runId": format!("run_{}", seq / 100),
            "provider": "anthropic",
            "model": "claude-sonnet-4-6",
            "actor": {"id": "agent-007", "roles": ["ops"]},
        });
        let checks = json!([
            {"check": "schema", "outcome": "pass", "verdict": "ALLOW", "latencyMs": 0},
            {"check": "policy:fintech.payments", "outcome": if verdict == "ALLOW" { "pass" } else { "escalate" },
             "verdict": verdict, "details": {"matchedRules": []}, "latencyMs": 0},
            {"check": "counterparty-sanctions", "outcome": "pass", "verdict": "ALLOW", "details": {"status": "ok"}, "latencyMs": 0},
            {"check": "reconcile:action.payload.amount", "outcome": "pass", "verdict": "ALLOW",
             "details": {"field": "action.payload.amount", "value": amount, "truth": 250_000, "relation": "lte"}, "latencyMs": 1},
            {"check": "second-opinion:mock", "outcome": "pass", "verdict": "ALLOW", "details": {"agree": true}, "latencyMs": 0},
        ]);
        let mut body = Map::new();
        body.insert("tenant".into(), json!("acme"));
        body.insert("action".into(), action);
        body.insert("context".into(), context);
        body.insert("checks".into(), checks);
        body.insert("verdict".into(), json!(verdict));
        body.insert(
            "id".into(),
            json!(format!(
                "rec_{:032x}",
                u128::from(seq).wrapping_mul(0x9e37_79b9_7f4a_7c15)
            )),
        );
        body.insert(
            "ts".into(),
            json!(format!(
                "2026-11-24T{:02}:{:02}:{:02}.{:03}Z",
                (seq / 3_600_000) % 24,
                (seq / 60_000) % 60,
                (seq / 1000) % 60,
                seq % 1000
            )),
        );
        self.sign(body)
    }

    /// Stamps `members` (a record's content: `action`, `context`, `checks`, `verdict`, and
    /// whichever of `id`, `ts`, `tenant`, `reason`, `escalationId` it has) with the chain's
    /// `seq`, `prevHash`, fingerprint and signer, signs it, and returns its text.
    pub fn sign(&mut self, mut members: Map<String, Value>) -> String {
        members.insert("seq".into(), json!(self.next_seq));
        members.insert("prevHash".into(), json!(self.prev_hash));
        let kind = members["action"]["type"].as_str().unwrap_or_default().to_owned();
        let fingerprint = action_fingerprint(&kind, &members["action"]["payload"]);
        members.insert("actionFingerprint".into(), json!(fingerprint));
        members.insert("keyId".into(), json!(self.key_id));
        members.insert("signerPublicKey".into(), json!(self.public_key));
        // The body is hashed without the action's id (the sidecar leaves it out).
        let mut body = members.clone();
        if let Some(Value::Object(action)) = body.get_mut("action") {
            action.remove("id");
        }
        let digest: [u8; 32] = Sha256::digest(canonical_json(&Value::Object(body)).as_bytes()).into();
        let content_hash = hex(&digest);
        members.insert("contentHash".into(), json!(content_hash));
        members.insert(
            "sig".into(),
            json!(STANDARD.encode(self.key.sign(&digest).to_bytes())),
        );
        self.prev_hash = content_hash;
        self.next_seq += 1;
        Value::Object(members).to_string()
    }
}
