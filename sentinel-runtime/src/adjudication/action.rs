//! What a receipt binds: the canonical action, the context, the policy manifest and the
//! evidence, each digested byte for byte as the sidecar digests it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::ReceiptError;
use crate::context::Context;
use crate::provenance::canonical_json;

/// Lowercase hex SHA-256 of the canonical JSON (JavaScript rules) of `value`.
pub(crate) fn digest_of(value: &Value) -> String {
    hex(&Sha256::digest(canonical_json(value).as_bytes()))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The deterministic description of exactly what is about to run: the sidecar's
/// `CanonicalAction`. Its [`digest`](Self::digest) is what a receipt is bound to, and
/// the executor recomputes it from the arguments it actually runs with.
///
/// ```
/// use sentinel_runtime::adjudication::CanonicalAction;
/// use serde_json::json;
///
/// let action = CanonicalAction::new(
///     "payment", "core-banking", "transfer", "agent-7",
///     json!({"amount": 100, "from": "acct_ops", "to": "vendor_42"}),
/// )?;
/// // The digest the reference sidecar computes for the same action (recorded).
/// assert_eq!(action.digest(), "2b19bfdd0b55df6d957147f0894bc77342023b8c79a14fdd95563c790a77b8a2");
/// assert_eq!(action.action_type(), "payment");
/// assert_eq!(action.parameters()["to"], "vendor_42");
///
/// // Everything else that matters to the authorization is part of the digest too.
/// let scoped = action.clone()
///     .tenant("acme")
///     .scope("payments:write")
///     .environment("prod")
///     .attributes(json!({"region": "eu"}))?;
/// assert_ne!(scoped.digest(), action.digest());
/// # Ok::<(), sentinel_runtime::adjudication::ReceiptError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CanonicalAction {
    action_type: String,
    target_service: String,
    operation: String,
    parameters: Map<String, Value>,
    actor_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    tenant: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    environment: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    attributes: Option<Map<String, Value>>,
}

impl CanonicalAction {
    /// An action of class `action_type` (such as `payment`), run by `target_service`'s
    /// `operation` on behalf of `actor_id`, with these `parameters` (a JSON object).
    ///
    /// # Errors
    ///
    /// [`ReceiptError::NonCanonicalAction`] when a name is empty or only whitespace (as
    /// JavaScript's `trim` sees it), `parameters` is not an object, or it holds a
    /// `__proto__` key (the sidecar's JSON reader refuses the whole request).
    pub fn new(
        action_type: impl Into<String>,
        target_service: impl Into<String>,
        operation: impl Into<String>,
        actor_id: impl Into<String>,
        parameters: Value,
    ) -> Result<Self, ReceiptError> {
        let action = CanonicalAction {
            action_type: required("actionType", action_type.into())?,
            target_service: required("targetService", target_service.into())?,
            operation: required("operation", operation.into())?,
            actor_id: required("actorId", actor_id.into())?,
            parameters: object("parameters", parameters)?,
            tenant: None,
            scope: None,
            environment: None,
            attributes: None,
        };
        Ok(action)
    }

    /// The tenant or organisation it runs for.
    #[must_use]
    pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }

    /// The execution scope, such as a capability label.
    #[must_use]
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }

    /// The deployment environment, such as `prod`.
    #[must_use]
    pub fn environment(mut self, environment: impl Into<String>) -> Self {
        self.environment = Some(environment.into());
        self
    }

    /// Further attributes that matter to the authorization (a JSON object).
    ///
    /// # Errors
    ///
    /// [`ReceiptError::NonCanonicalAction`] if `attributes` is not an object or holds a
    /// `__proto__` key.
    pub fn attributes(mut self, attributes: Value) -> Result<Self, ReceiptError> {
        self.attributes = Some(object("attributes", attributes)?);
        Ok(self)
    }

    /// `actionType`.
    #[must_use]
    pub fn action_type(&self) -> &str {
        &self.action_type
    }

    /// `parameters`.
    #[must_use]
    pub fn parameters(&self) -> &Map<String, Value> {
        &self.parameters
    }

    /// The sidecar's `actionDigest`: lowercase hex SHA-256 of the canonical JSON of this
    /// action.
    #[must_use]
    pub fn digest(&self) -> String {
        digest_of(&self.to_value())
    }

    /// Reads the sidecar's JSON form, with [`new`](Self::new)'s checks.
    #[cfg(feature = "testing")]
    pub(crate) fn from_json(json: &Value) -> Result<Self, ReceiptError> {
        let text = |key: &str| {
            json.get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let optional = |key: &str| json.get(key).and_then(Value::as_str).map(str::to_owned);
        let mut action = CanonicalAction::new(
            text("actionType"),
            text("targetService"),
            text("operation"),
            text("actorId"),
            json.get("parameters").cloned().unwrap_or(Value::Null),
        )?;
        action.tenant = optional("tenant");
        action.scope = optional("scope");
        action.environment = optional("environment");
        if let Some(attributes) = json.get("attributes") {
            action = action.attributes(attributes.clone())?;
        }
        Ok(action)
    }

    pub(crate) fn to_value(&self) -> Value {
        // Strings and JSON maps always serialize.
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

fn required(field: &str, value: String) -> Result<String, ReceiptError> {
    if value.chars().all(is_js_whitespace) {
        return Err(ReceiptError::NonCanonicalAction(format!(
            "missing or empty required field: {field}"
        )));
    }
    Ok(value)
}

/// Whether JavaScript's `String.prototype.trim` removes `c` (WhiteSpace and
/// LineTerminator), which differs from Rust's `char::is_whitespace` at U+0085 and U+FEFF.
fn is_js_whitespace(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{0B}' | '\u{0C}' | '\r' | ' ' | '\u{A0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200A}' | '\u{2028}' | '\u{2029}' | '\u{202F}' | '\u{205F}' | '\u{3000}' | '\u{FEFF}'
    )
}

fn object(field: &str, value: Value) -> Result<Map<String, Value>, ReceiptError> {
    let Value::Object(map) = value else {
        return Err(ReceiptError::NonCanonicalAction(format!(
            "{field} must be an object"
        )));
    };
    if let Some(path) = proto_key(&map, field) {
        return Err(ReceiptError::NonCanonicalAction(format!(
            "key __proto__ at {path}: the sidecar's JSON reader refuses it"
        )));
    }
    Ok(map)
}

/// The path of the first `__proto__` key in `map`, searched depth first (bounded by the
/// depth serde_json reads, 128).
fn proto_key(map: &Map<String, Value>, path: &str) -> Option<String> {
    fn walk(value: &Value, path: &str) -> Option<String> {
        match value {
            Value::Object(map) => proto_key(map, path),
            Value::Array(items) => items
                .iter()
                .enumerate()
                .find_map(|(index, item)| walk(item, &format!("{path}[{index}]"))),
            _ => None,
        }
    }
    map.iter().find_map(|(key, value)| {
        let here = format!("{path}.{key}");
        if key == "__proto__" {
            Some(here)
        } else {
            walk(value, &here)
        }
    })
}

/// The digest of the context a receipt is bound to: lowercase hex SHA-256 of the
/// canonical JSON of `context` as the client sends it with the guard request. The sidecar
/// does not compute it (it takes the client's); the client recomputes it at execution
/// from the context it actually runs under.
///
/// ```
/// use sentinel_runtime::adjudication::context_digest;
/// use sentinel_runtime::Context;
///
/// let digest = context_digest(&Context::new("run-42").with_actor("agent-7", ["ops"]));
/// assert_eq!(digest.len(), 64);
/// assert_ne!(digest, context_digest(&Context::new("run-43")));
/// ```
#[must_use]
pub fn context_digest(context: &Context) -> String {
    digest_of(&serde_json::to_value(context).unwrap_or(Value::Null))
}

/// The policy decision surface a receipt commits to (the sidecar's `PolicyManifest`):
/// a version, the checkers' versions and the configuration that affects decisions (no
/// secrets). The sidecar digests what the client sends; the executor then requires the
/// receipt to carry that digest (`POLICY_MISMATCH` otherwise).
///
/// ```
/// use sentinel_runtime::adjudication::PolicyManifest;
/// use serde_json::json;
///
/// let manifest = PolicyManifest::new("fintech.payments@1")
///     .checker("sanctions", "2026-11")
///     .config("escalate_above", json!(25000));
/// assert_eq!(manifest.policy_version(), "fintech.payments@1");
/// assert_eq!(manifest.digest().len(), 64, "the policyBundleDigest a receipt must carry");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyManifest {
    policy_version: String,
    checker_versions: BTreeMap<String, String>,
    config: Map<String, Value>,
}

impl PolicyManifest {
    /// A manifest with this version (such as `fintech.payments@1`), no checker versions and
    /// an empty configuration.
    pub fn new(policy_version: impl Into<String>) -> Self {
        PolicyManifest {
            policy_version: policy_version.into(),
            checker_versions: BTreeMap::new(),
            config: Map::new(),
        }
    }

    /// Pins the checker `name` at `version`.
    #[must_use]
    pub fn checker(mut self, name: impl Into<String>, version: impl Into<String>) -> Self {
        self.checker_versions.insert(name.into(), version.into());
        self
    }

    /// Sets one configuration value (never a secret: it is digested and committed).
    #[must_use]
    pub fn config(mut self, key: impl Into<String>, value: Value) -> Self {
        self.config.insert(key.into(), value);
        self
    }

    /// `policyVersion`.
    #[must_use]
    pub fn policy_version(&self) -> &str {
        &self.policy_version
    }

    /// The sidecar's `policyBundleDigest` of this manifest.
    #[must_use]
    pub fn digest(&self) -> String {
        digest_of(&serde_json::to_value(self).unwrap_or(Value::Null))
    }
}

/// One item of evidence the decision rests on (the sidecar's `EvidenceItem`), committed by
/// digest: raw values never travel. Optional fields are left out when `None`.
///
/// ```
/// use sentinel_runtime::adjudication::{evidence_digest, EvidenceItem};
///
/// let balance = EvidenceItem {
///     source_id: "ledger-eu-1".into(),
///     source_type: "ledger".into(),
///     query_digest: "aa".repeat(32),
///     response_digest: "bb".repeat(32),
///     retrieved_at: "2026-12-05T10:00:00Z".into(),
///     trust_level: "authoritative".into(),
///     availability_status: "available".into(),
///     ..EvidenceItem::default()
/// };
/// assert_eq!(evidence_digest(&[balance]).len(), 64);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EvidenceItem {
    /// Stable id of the source consulted.
    pub source_id: String,
    /// Kind of source, such as `ledger`.
    pub source_type: String,
    /// SHA-256 (hex) of the canonical query.
    pub query_digest: String,
    /// SHA-256 (hex) of the canonical response.
    pub response_digest: String,
    /// When it was retrieved (ISO-8601).
    pub retrieved_at: String,
    /// When it goes stale (ISO-8601).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub freshness_limit: Option<String>,
    /// The source's signature over the response.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_signature: Option<String>,
    /// Digest of a transformation applied to the response.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transformation_digest: Option<String>,
    /// `authoritative` evidence is required: unavailable, it makes the adjudication
    /// `ESCALATE`.
    pub trust_level: String,
    /// `available`, `unavailable`, `stale`, …
    pub availability_status: String,
}

/// The sidecar's `evidenceDigest`: the Merkle root over the items' digests, sorted (a set),
/// leaves prefixed `0x00`, nodes `0x01`, a lone node promoted; SHA-256 of nothing for no
/// evidence.
///
/// ```
/// use sentinel_runtime::adjudication::evidence_digest;
///
/// // No evidence: the SHA-256 of nothing.
/// assert_eq!(evidence_digest(&[]), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
/// ```
#[must_use]
pub fn evidence_digest(items: &[EvidenceItem]) -> String {
    let mut leaves: Vec<String> = items
        .iter()
        .map(|item| digest_of(&serde_json::to_value(item).unwrap_or(Value::Null)))
        .collect();
    if leaves.is_empty() {
        return hex(&Sha256::digest(b""));
    }
    leaves.sort();
    let mut level: Vec<[u8; 32]> = leaves
        .iter()
        .map(|leaf| {
            let mut hasher = Sha256::new();
            hasher.update([0x00]);
            hasher.update(unhex(leaf));
            hasher.finalize().into()
        })
        .collect();
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| match pair {
                [left, right] => {
                    let mut hasher = Sha256::new();
                    hasher.update([0x01]);
                    hasher.update(left);
                    hasher.update(right);
                    hasher.finalize().into()
                }
                [lone] => *lone,
                _ => unreachable!("chunks(2) yields one or two"),
            })
            .collect();
    }
    hex(&level[0])
}

/// Bytes of a lowercase hex digest this module wrote.
fn unhex(text: &str) -> Vec<u8> {
    (0..text.len() / 2)
        .filter_map(|i| u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn required_fields_are_checked_with_javascripts_whitespace() {
        let make = |actor: &str| CanonicalAction::new("payment", "bank", "transfer", actor, json!({}));
        assert!(make(" \u{FEFF}\u{2028}").is_err(), "JavaScript trims U+FEFF");
        assert!(make("\u{85}").is_ok(), "JavaScript keeps U+0085");
        assert!(make("agent").is_ok());
        assert!(CanonicalAction::new("payment", "bank", "transfer", "a", json!([1])).is_err());
    }

    #[test]
    fn a_proto_key_anywhere_is_refused() {
        let err = CanonicalAction::new("t", "s", "o", "a", json!({"x": [{"__proto__": 1}]})).unwrap_err();
        assert!(err.to_string().contains("parameters.x[0].__proto__"), "{err}");
    }

    #[test]
    fn an_optional_field_changes_the_digest_only_when_set() {
        let base = CanonicalAction::new("t", "s", "o", "a", json!({"k": 1})).unwrap();
        assert_ne!(base.digest(), base.clone().tenant("").digest());
        assert_eq!(base.digest(), base.clone().digest());
    }
}
