//! The mock sidecar's provenance chain: records built, hashed and signed exactly as the
//! reference sidecar's `RecordBuilder` does, so a client verifies them under the same key.

use ed25519_dalek::{Signer as _, SigningKey};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::provenance::{action_fingerprint, canonical_json, TrustedKeys, GENESIS};

/// The reference sidecar's default signing seed in its start script: bytes 0..31.
pub(super) const DEFAULT_SEED: [u8; 32] = {
    let mut seed = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        seed[i] = i as u8;
        i += 1;
    }
    seed
};

/// What one record is about; the chain stamps the rest.
pub(super) struct Entry {
    pub tenant: Option<String>,
    /// The action as received: `{id, type, payload, meta?}`.
    pub action: Value,
    pub context: Value,
    pub checks: Value,
    pub verdict: &'static str,
    pub reason: Option<String>,
}

pub(super) struct Chain {
    key: SigningKey,
    key_id: String,
    public_key_b64: String,
    prev_hash: String,
    records: Vec<Value>,
    /// Record id → index in `records`: a busy mock answers `GET /v1/records/{id}` at once.
    by_id: std::collections::HashMap<String, usize>,
}

impl Chain {
    pub(super) fn new(seed: [u8; 32]) -> Chain {
        use base64::Engine as _;
        let key = SigningKey::from_bytes(&seed);
        let public = key.verifying_key().to_bytes();
        Chain {
            key_id: TrustedKeys::key_id_of(&public),
            public_key_b64: base64::engine::general_purpose::STANDARD.encode(public),
            key,
            prev_hash: GENESIS.to_owned(),
            records: Vec::new(),
            by_id: std::collections::HashMap::new(),
        }
    }

    /// Appends a signed record and returns its id.
    pub(super) fn append(&mut self, entry: Entry, ts: String) -> String {
        let id = format!("rec_{}", uuid::Uuid::new_v4());
        let kind = entry.action["type"].as_str().unwrap_or_default().to_owned();
        let payload = entry.action["payload"].clone();
        let mut signed_action = Map::new();
        signed_action.insert("type".into(), json!(kind));
        signed_action.insert("payload".into(), payload.clone());
        if let Some(meta) = entry.action.get("meta") {
            signed_action.insert("meta".into(), meta.clone());
        }
        let mut body = Map::new();
        body.insert("id".into(), json!(id));
        body.insert("ts".into(), json!(ts));
        body.insert("seq".into(), json!(self.records.len()));
        body.insert("prevHash".into(), json!(self.prev_hash));
        if let Some(tenant) = &entry.tenant {
            body.insert("tenant".into(), json!(tenant));
        }
        body.insert("action".into(), Value::Object(signed_action));
        body.insert(
            "actionFingerprint".into(),
            json!(action_fingerprint(&kind, &payload)),
        );
        body.insert("context".into(), entry.context);
        body.insert("checks".into(), entry.checks);
        body.insert("verdict".into(), json!(entry.verdict));
        if let Some(reason) = &entry.reason {
            body.insert("reason".into(), json!(reason));
        }
        body.insert("keyId".into(), json!(self.key_id));
        body.insert("signerPublicKey".into(), json!(self.public_key_b64));
        let digest: [u8; 32] = Sha256::digest(canonical_json(&Value::Object(body.clone())).as_bytes()).into();
        let content_hash = crate::provenance::hex(&digest);
        let signature = self.key.sign(&digest).to_bytes();
        {
            use base64::Engine as _;
            body.insert(
                "sig".into(),
                json!(base64::engine::general_purpose::STANDARD.encode(signature)),
            );
        }
        body.insert("contentHash".into(), json!(content_hash));
        // Served with the action's id, which is not signed.
        body.insert("action".into(), entry.action);
        self.prev_hash = content_hash;
        self.by_id.insert(id.clone(), self.records.len());
        self.records.push(Value::Object(body));
        id
    }

    pub(super) fn get(&self, id: &str) -> Option<&Value> {
        self.by_id.get(id).map(|&index| &self.records[index])
    }

    /// `GET /v1/records` and `/v1/export` as the sidecar's memory store answers them: filters,
    /// then `offset`, then `limit` (at most 1000, the default).
    pub(super) fn query(&self, query: &str) -> (Vec<Value>, usize, usize) {
        let param = |name: &str| {
            query.split('&').find_map(|pair| {
                let (key, value) = pair.split_once('=')?;
                (key == name).then(|| percent_decode(value))
            })
        };
        let count = |name: &str| param(name).and_then(|v| v.parse::<usize>().ok());
        let limit = count("limit").map_or(MAX_PAGE, |l| l.min(MAX_PAGE));
        let offset = count("offset").unwrap_or(0);
        let (tenant, run_id, since, until) =
            (param("tenant"), param("runId"), param("since"), param("until"));
        let verdict = param("verdict").filter(|v| ["ALLOW", "BLOCK", "ESCALATE"].contains(&v.as_str()));
        let matching = self.records.iter().filter(|r| {
            tenant.as_ref().is_none_or(|t| r["tenant"] == **t)
                && run_id.as_ref().is_none_or(|id| r["context"]["runId"] == **id)
                && verdict.as_ref().is_none_or(|v| r["verdict"] == **v)
                && since
                    .as_ref()
                    .is_none_or(|s| r["ts"].as_str() >= Some(s.as_str()))
                && until.as_ref().is_none_or(|u| r["ts"].as_str() < Some(u.as_str()))
        });
        (
            matching.skip(offset).take(limit).cloned().collect(),
            limit,
            offset,
        )
    }
}

/// The sidecar's page size when none is asked for, and its cap on any asked for.
const MAX_PAGE: usize = 1000;

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex_pair = bytes.get(i + 1..i + 3).and_then(|pair| {
            let pair = std::str::from_utf8(pair).ok()?;
            u8::from_str_radix(pair, 16).ok()
        });
        match (bytes[i], hex_pair) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
                continue;
            }
            (b'+', _) => out.push(b' '),
            (byte, _) => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
