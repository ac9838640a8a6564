//! [`Record`]: a typed view of one signed provenance record.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{canonical_json, parse_json, ProvenanceError};

/// One signed provenance record as the sidecar serves it (`GET /v1/records/{id}`,
/// `GET /v1/records`, `GET /v1/export`).
///
/// The parts whose exact content is signed and free-form (`action.payload`, `action.meta`,
/// `context`, `checks`) are kept as [`serde_json::Value`]s so nothing is lost. Fields the
/// record may lack (`tenant`, `reason`, `escalationId`) are `None` when absent; unknown
/// extra fields are ignored (they are not signed).
///
/// A member the record holds as `null` (`"reason": null`, `"tenant": null`,
/// `"escalationId": null`, `"meta": null`) is also `None`, but it is remembered: the hash is
/// taken over exactly the members present, `null` ones included, as the sidecar's own
/// `verifyRecord` does, so such a record fails with
/// [`ContentHashMismatch`](ProvenanceError::ContentHashMismatch) there and here.
///
/// A record is read, never assembled: its members are read through the methods of the same
/// name, and it is built only from the sidecar's JSON, so what is verified is what was
/// served.
///
/// Read records from their JSON text with [`Record::from_json`] or
/// [`Record::list_from_json`]: they read numbers exactly as the sidecar did and refuse
/// repeated keys. (This crate turns on serde_json's `float_roundtrip`; without it, a number
/// with 16–17 significant digits can lose its last bit, and the record would then fail to
/// verify with [`ContentHashMismatch`](ProvenanceError::ContentHashMismatch).)
///
/// ```no_run
/// use sentinel_runtime::provenance::{verify_record, Record, TrustedKeys};
/// use sentinel_runtime::SentinelClient;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let client = SentinelClient::builder("http://localhost:4000").build()?;
/// let record: Record = client.record("rec_01J9Z8")?;
/// verify_record(&record, &TrustedKeys::new().with_key_id(record.key_id())?)?;
/// println!("#{} {} at {}: {} {} under run {}", record.seq(), record.id(), record.ts(),
///     record.verdict(), record.action().kind(), record.context()["runId"]);
/// println!("reason {:?}, escalation {:?}, tenant {:?}", record.reason(), record.escalation_id(), record.tenant());
/// println!("{} checks: {}", record.checks().as_array().map_or(0, Vec::len), record.checks());
/// println!("payload {} meta {:?} (action id {:?}, not signed)", record.action().payload(),
///     record.action().meta(), record.action().id());
/// // What was hashed and signed, and how it links to the record before:
/// println!("{} -> {} = sha256({}), fingerprint {}", record.prev_hash(), record.content_hash(),
///     record.canonical_body(), record.action_fingerprint());
/// println!("signed by {} ({}): {}", record.key_id(), record.signer_public_key(), record.sig());
///
/// // From text kept elsewhere (a file, an export line):
/// let text = serde_json::to_string(&record)?;
/// assert_eq!(Record::from_json(&text)?, record);
/// assert_eq!(Record::from_value(serde_json::from_str(&text)?)?, record);
/// assert_eq!(Record::list_from_json(&format!("[{text}]"))?.len(), 1);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", try_from = "Value", into = "Value")]
#[non_exhaustive]
pub struct Record {
    /// The record id, `rec_…`.
    pub(crate) id: String,
    /// When the sidecar wrote it (ISO 8601 text, signed as is).
    pub(crate) ts: String,
    /// Position in the sidecar's chain, from 0.
    pub(crate) seq: u64,
    /// The `contentHash` of the previous record, or `"GENESIS"` for seq 0.
    pub(crate) prev_hash: String,
    /// Lowercase hex SHA-256 of the canonical body.
    pub(crate) content_hash: String,
    /// `"ed25519:"` + hex SHA-256 of the signer's raw public key.
    pub(crate) key_id: String,
    /// The signer's raw 32-byte public key, base64.
    pub(crate) signer_public_key: String,
    /// Ed25519 signature (base64, 64 bytes) over the 32 raw bytes of `contentHash`.
    pub(crate) sig: String,
    /// The tenant from the request context, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) tenant: Option<String>,
    /// The action the verdict is about.
    pub(crate) action: RecordAction,
    /// Hex SHA-256 of the canonical JSON of `{type, payload}` of the action.
    pub(crate) action_fingerprint: String,
    /// The request context as the sidecar recorded it.
    pub(crate) context: Value,
    /// The check results, as recorded (an array of objects).
    pub(crate) checks: Value,
    /// `ALLOW`, `BLOCK` or `ESCALATE` (kept as text: it is signed as is).
    pub(crate) verdict: String,
    /// Why, when the sidecar gave a reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) reason: Option<String>,
    /// The escalation opened for an `ESCALATE` verdict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) escalation_id: Option<String>,
    /// Optional members that were present as `null`.
    #[serde(skip)]
    nulls: NullMembers,
}

/// The optional signed members a record held as `null` (present, so hashed, unlike absent
/// ones).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct NullMembers {
    tenant: bool,
    reason: bool,
    escalation_id: bool,
    meta: bool,
}

impl NullMembers {
    fn of(value: &Value) -> NullMembers {
        let null = |member: Option<&Value>| member.is_some_and(Value::is_null);
        NullMembers {
            tenant: null(value.get("tenant")),
            reason: null(value.get("reason")),
            escalation_id: null(value.get("escalationId")),
            meta: null(value.get("action").and_then(|action| action.get("meta"))),
        }
    }
}

/// The record's members as serde reads them; [`Record`] adds which were `null`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Members {
    id: String,
    ts: String,
    seq: u64,
    prev_hash: String,
    content_hash: String,
    key_id: String,
    signer_public_key: String,
    sig: String,
    #[serde(default)]
    tenant: Option<String>,
    action: RecordAction,
    action_fingerprint: String,
    context: Value,
    checks: Value,
    verdict: String,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    escalation_id: Option<String>,
}

impl TryFrom<Value> for Record {
    type Error = serde_json::Error;

    fn try_from(value: Value) -> Result<Record, serde_json::Error> {
        let nulls = NullMembers::of(&value);
        let m: Members = serde_json::from_value(value)?;
        Ok(Record {
            id: m.id,
            ts: m.ts,
            seq: m.seq,
            prev_hash: m.prev_hash,
            content_hash: m.content_hash,
            key_id: m.key_id,
            signer_public_key: m.signer_public_key,
            sig: m.sig,
            tenant: m.tenant,
            action: m.action,
            action_fingerprint: m.action_fingerprint,
            context: m.context,
            checks: m.checks,
            verdict: m.verdict,
            reason: m.reason,
            escalation_id: m.escalation_id,
            nulls,
        })
    }
}

impl From<Record> for Value {
    /// The record as the sidecar serves it, `null` members kept.
    fn from(record: Record) -> Value {
        let mut served = match record.signed_members() {
            Value::Object(members) => members,
            _ => Map::new(),
        };
        if let (Some(id), Some(Value::Object(action))) = (&record.action.id, served.get_mut("action")) {
            action.insert("id".to_owned(), Value::String(id.clone()));
        }
        served.insert("contentHash".to_owned(), Value::String(record.content_hash));
        served.insert("sig".to_owned(), Value::String(record.sig));
        Value::Object(served)
    }
}

/// The action inside a [`Record`] (see the example there).
///
/// ```no_run
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let client = sentinel_runtime::SentinelClient::builder("http://localhost:4000").build()?;
/// let action = client.record("rec_01J9Z8")?.action().clone();
/// println!("{} {} (meta {:?}, id {:?})", action.kind(), action.payload(), action.meta(), action.id());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RecordAction {
    /// The client's action id, `act_…`. Not signed: the sidecar leaves it out of the body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) id: Option<String>,
    /// The action type, such as `payment` (the wire name is `type`).
    #[serde(rename = "type")]
    pub(crate) kind: String,
    /// The action's arguments.
    pub(crate) payload: Value,
    /// Annotations that were not evaluated but are kept (and signed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) meta: Option<Value>,
}

impl Record {
    /// Reads one record from its JSON text, numbers exactly as the sidecar wrote them (see
    /// [`parse_json`]). Reading does not verify anything: call
    /// [`verify_record`](super::verify_record) or [`verify_chain`](super::verify_chain).
    ///
    /// # Errors
    ///
    /// [`ProvenanceError::Malformed`] if the text is not JSON or not a record.
    pub fn from_json(text: &str) -> Result<Record, ProvenanceError> {
        Record::from_value(parse_json(text)?)
    }

    /// Reads one record from an already parsed value. Prefer [`Record::from_json`] when you
    /// have the text (see the type's documentation about `serde_json` and numbers).
    ///
    /// # Errors
    ///
    /// [`ProvenanceError::Malformed`] if a field is missing or of the wrong type.
    pub fn from_value(value: Value) -> Result<Record, ProvenanceError> {
        let seq = value.get("seq").and_then(Value::as_u64);
        Record::try_from(value).map_err(|err| ProvenanceError::malformed(seq, err.to_string()))
    }

    /// Reads a list of records from JSON text: either an array of records (`GET /v1/records`)
    /// or an object with a `records` array (`GET /v1/export`).
    ///
    /// # Errors
    ///
    /// [`ProvenanceError::Malformed`] for the first item that is not a record.
    pub fn list_from_json(text: &str) -> Result<Vec<Record>, ProvenanceError> {
        let items = match parse_json(text)? {
            Value::Array(items) => items,
            Value::Object(mut page) => match page.remove("records") {
                Some(Value::Array(items)) => items,
                _ => {
                    return Err(ProvenanceError::malformed(
                        None,
                        "expected an array of records or an object with a `records` array",
                    ))
                }
            },
            _ => {
                return Err(ProvenanceError::malformed(
                    None,
                    "expected an array of records or an object with a `records` array",
                ))
            }
        };
        items.into_iter().map(Record::from_value).collect()
    }

    /// The canonical JSON body whose SHA-256 is `contentHash`: exactly `id, ts, seq,
    /// prevHash, tenant, action: {type, payload, meta}, actionFingerprint, context, checks,
    /// verdict, reason, escalationId, keyId, signerPublicKey`, absent ones left out and `null`
    /// ones kept (`action.id` is not signed). Useful to see what a mismatching hash was
    /// computed over.
    #[must_use]
    pub fn canonical_body(&self) -> String {
        canonical_json(&self.signed_members())
    }

    /// The members the content hash is taken over, as they are present.
    fn signed_members(&self) -> Value {
        let optional = |value: &Option<String>, was_null: bool| match value {
            Some(text) => Some(Value::String(text.clone())),
            None if was_null => Some(Value::Null),
            None => None,
        };
        let mut action = Map::new();
        action.insert("type".to_owned(), Value::String(self.action.kind.clone()));
        action.insert("payload".to_owned(), self.action.payload.clone());
        match &self.action.meta {
            Some(meta) => {
                action.insert("meta".to_owned(), meta.clone());
            }
            None if self.nulls.meta => {
                action.insert("meta".to_owned(), Value::Null);
            }
            None => {}
        }

        let mut body = Map::new();
        let mut put = |key: &str, value: Value| {
            body.insert(key.to_owned(), value);
        };
        put("id", Value::String(self.id.clone()));
        put("ts", Value::String(self.ts.clone()));
        put("seq", Value::from(self.seq));
        put("prevHash", Value::String(self.prev_hash.clone()));
        if let Some(tenant) = optional(&self.tenant, self.nulls.tenant) {
            put("tenant", tenant);
        }
        put("action", Value::Object(action));
        put(
            "actionFingerprint",
            Value::String(self.action_fingerprint.clone()),
        );
        put("context", self.context.clone());
        put("checks", self.checks.clone());
        put("verdict", Value::String(self.verdict.clone()));
        if let Some(reason) = optional(&self.reason, self.nulls.reason) {
            put("reason", reason);
        }
        if let Some(escalation_id) = optional(&self.escalation_id, self.nulls.escalation_id) {
            put("escalationId", escalation_id);
        }
        put("keyId", Value::String(self.key_id.clone()));
        put("signerPublicKey", Value::String(self.signer_public_key.clone()));
        Value::Object(body)
    }
}

impl Record {
    /// The record id, `rec_…`.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }

    /// When the sidecar wrote it (ISO 8601 text, signed as is).
    #[must_use]
    pub fn ts(&self) -> &str {
        &self.ts
    }

    /// Position in the sidecar's chain, from 0.
    #[must_use]
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// The `contentHash` of the previous record, or `"GENESIS"` for seq 0.
    #[must_use]
    pub fn prev_hash(&self) -> &str {
        &self.prev_hash
    }

    /// Lowercase hex SHA-256 of the canonical body.
    #[must_use]
    pub fn content_hash(&self) -> &str {
        &self.content_hash
    }

    /// `"ed25519:"` + hex SHA-256 of the signer's raw public key.
    #[must_use]
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The signer's raw 32-byte public key, base64.
    #[must_use]
    pub fn signer_public_key(&self) -> &str {
        &self.signer_public_key
    }

    /// Ed25519 signature (base64, 64 bytes) over the 32 raw bytes of `contentHash`.
    #[must_use]
    pub fn sig(&self) -> &str {
        &self.sig
    }

    /// The tenant from the request context, if any.
    #[must_use]
    pub fn tenant(&self) -> Option<&str> {
        self.tenant.as_deref()
    }

    /// The action the verdict is about.
    #[must_use]
    pub fn action(&self) -> &RecordAction {
        &self.action
    }

    /// Hex SHA-256 of the canonical JSON of `{type, payload}` of the action.
    #[must_use]
    pub fn action_fingerprint(&self) -> &str {
        &self.action_fingerprint
    }

    /// The request context as the sidecar recorded it.
    #[must_use]
    pub fn context(&self) -> &Value {
        &self.context
    }

    /// The check results, as recorded (an array of objects).
    #[must_use]
    pub fn checks(&self) -> &Value {
        &self.checks
    }

    /// `ALLOW`, `BLOCK` or `ESCALATE` (kept as text: it is signed as is).
    #[must_use]
    pub fn verdict(&self) -> &str {
        &self.verdict
    }

    /// Why, when the sidecar gave a reason.
    #[must_use]
    pub fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }

    /// The escalation opened for an `ESCALATE` verdict.
    #[must_use]
    pub fn escalation_id(&self) -> Option<&str> {
        self.escalation_id.as_deref()
    }
}

impl RecordAction {
    /// The client's action id, `act_…`. Not signed: the sidecar leaves it out of the body.
    #[must_use]
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// The action type, such as `payment` (the wire name is `type`).
    #[must_use]
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The action's arguments.
    #[must_use]
    pub fn payload(&self) -> &Value {
        &self.payload
    }

    /// Annotations that were not evaluated but are kept (and signed).
    #[must_use]
    pub fn meta(&self) -> Option<&Value> {
        self.meta.as_ref()
    }
}
