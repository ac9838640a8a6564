//! The two signed receipts: the sidecar's authorization receipt (verified here under
//! pinned issuer keys) and the executor's execution receipt (signed here).

use std::fmt;
use std::time::SystemTime;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::action::{digest_of, hex};
use super::{time, ReceiptError};
use crate::provenance::{canonical_json, TrustedKeys};

/// The protocol version this client speaks; receipts of any other are refused.
pub const PROTOCOL_VERSION: &str = "sentinel.adjudication/1";

/// A signed, single-use, expiring authorization to run exactly one action, issued by the
/// sidecar for an `ALLOW` adjudication. Every field but `signature` is signed.
///
/// Read its members through the methods of the same name (the sidecar's field names); store
/// and send it on with serde (it serializes to the sidecar's form). A receipt is only read,
/// never assembled or changed: every change would break the signature. `Debug` leaves out
/// the nonce and the signature.
///
/// ```no_run
/// use std::time::SystemTime;
/// # use sentinel_runtime::adjudication::{AdjudicationRequest, ReceiptClient};
/// # fn run(receipts: &ReceiptClient, request: &AdjudicationRequest) -> Result<(), Box<dyn std::error::Error>> {
/// let receipt = receipts.adjudicate(request)?.receipt.ok_or("not authorized")?;
/// println!("{} ({}) by {} with {}: {} -> {} (deterministic {}, model {:?})", receipt.receipt_id(),
///     receipt.protocol_version(), receipt.issuer(), receipt.key_id(), receipt.policy_version(),
///     receipt.final_verdict(), receipt.deterministic_verdict(), receipt.model_verdict());
/// println!("valid {} to {}, {} run(s), approval {:?}", receipt.issued_at(), receipt.expires_at(),
///     receipt.max_executions(), receipt.human_approval_reference());
/// // What it is bound to:
/// assert_eq!(receipt.action_digest(), request.action().digest());
/// assert_eq!(receipt.context_digest(), request.binding().context_digest);
/// println!("policy {}, evidence {}", receipt.policy_bundle_digest(), receipt.evidence_digest());
/// // What was signed, and the checks that need no sidecar:
/// println!("{} signed as {:?} = sha256({}); digest {}", receipt.signature(), receipt.signing_input(),
///     receipt.signable_body(), receipt.digest());
/// receipt.verify_signature(receipts.issuers())?;
/// receipt.check(receipts.issuers(), SystemTime::now())?;
/// let _single_use: &str = receipt.nonce();
/// # Ok(()) }
/// ```
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct AuthorizationReceipt {
    pub(crate) receipt_id: String,
    pub(crate) protocol_version: String,
    pub(crate) action_digest: String,
    pub(crate) context_digest: String,
    pub(crate) policy_bundle_digest: String,
    pub(crate) policy_version: String,
    pub(crate) evidence_digest: String,
    pub(crate) deterministic_verdict: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) model_verdict: Option<String>,
    pub(crate) final_verdict: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) human_approval_reference: Option<String>,
    pub(crate) issued_at: String,
    pub(crate) expires_at: String,
    pub(crate) nonce: String,
    pub(crate) max_executions: u64,
    pub(crate) issuer: String,
    pub(crate) key_id: String,
    pub(crate) signature: String,
}

impl AuthorizationReceipt {
    /// The receipt id.
    #[must_use]
    pub fn receipt_id(&self) -> &str {
        &self.receipt_id
    }

    /// The protocol version, [`PROTOCOL_VERSION`].
    #[must_use]
    pub fn protocol_version(&self) -> &str {
        &self.protocol_version
    }

    /// The digest of the [`CanonicalAction`](super::CanonicalAction) it authorizes.
    #[must_use]
    pub fn action_digest(&self) -> &str {
        &self.action_digest
    }

    /// The digest of the context it was issued for.
    #[must_use]
    pub fn context_digest(&self) -> &str {
        &self.context_digest
    }

    /// The digest of the policy bundle that decided.
    #[must_use]
    pub fn policy_bundle_digest(&self) -> &str {
        &self.policy_bundle_digest
    }

    /// The version of the policy that decided.
    #[must_use]
    pub fn policy_version(&self) -> &str {
        &self.policy_version
    }

    /// The digest of the evidence the decision rested on.
    #[must_use]
    pub fn evidence_digest(&self) -> &str {
        &self.evidence_digest
    }

    /// The deterministic checks' verdict.
    #[must_use]
    pub fn deterministic_verdict(&self) -> &str {
        &self.deterministic_verdict
    }

    /// The model's verdict, when a model was asked.
    #[must_use]
    pub fn model_verdict(&self) -> Option<&str> {
        self.model_verdict.as_deref()
    }

    /// The final verdict (`ALLOW` for a receipt that authorizes anything).
    #[must_use]
    pub fn final_verdict(&self) -> &str {
        &self.final_verdict
    }

    /// The human approval it rests on, if any.
    #[must_use]
    pub fn human_approval_reference(&self) -> Option<&str> {
        self.human_approval_reference.as_deref()
    }

    /// When it was issued (ISO 8601).
    #[must_use]
    pub fn issued_at(&self) -> &str {
        &self.issued_at
    }

    /// When it expires (ISO 8601).
    #[must_use]
    pub fn expires_at(&self) -> &str {
        &self.expires_at
    }

    /// The single-use nonce (not shown by `Debug`).
    #[must_use]
    pub fn nonce(&self) -> &str {
        &self.nonce
    }

    /// How many executions it allows.
    #[must_use]
    pub fn max_executions(&self) -> u64 {
        self.max_executions
    }

    /// Who issued it.
    #[must_use]
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The id of the issuer key that signed it.
    #[must_use]
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The issuer's signature (not shown by `Debug`).
    #[must_use]
    pub fn signature(&self) -> &str {
        &self.signature
    }
}

impl AuthorizationReceipt {
    /// The canonical JSON of every field but `signature`: what is hashed and signed.
    #[must_use]
    pub fn signable_body(&self) -> String {
        let mut body = match serde_json::to_value(self) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        };
        body.remove("signature");
        canonical_json(&Value::Object(body))
    }

    /// The 32 bytes the issuer signs: SHA-256 of [`signable_body`](Self::signable_body).
    #[must_use]
    pub fn signing_input(&self) -> [u8; 32] {
        Sha256::digest(self.signable_body().as_bytes()).into()
    }

    /// The sidecar's `authorizationReceiptDigest` (hex of
    /// [`signing_input`](Self::signing_input)), by which an execution receipt names it.
    #[must_use]
    pub fn digest(&self) -> String {
        hex(&self.signing_input())
    }

    /// Checks the signature under the issuer key pinned for `key_id` in `issuers`. The
    /// receipt's own claims pick nothing: a key that is not pinned is `UNTRUSTED_ISSUER`.
    ///
    /// # Errors
    ///
    /// [`ReceiptError::Rejected`] with `UNTRUSTED_ISSUER` or `INVALID_SIGNATURE`.
    pub fn verify_signature(&self, issuers: &TrustedKeys) -> Result<(), ReceiptError> {
        let Some(key) = issuers.get(&self.key_id) else {
            return Err(ReceiptError::rejected_locally(
                "UNTRUSTED_ISSUER",
                format!("untrusted issuer key: {}", self.key_id),
            ));
        };
        if verify(key, &self.signing_input(), &self.signature) {
            Ok(())
        } else {
            Err(ReceiptError::rejected_locally(
                "INVALID_SIGNATURE",
                "receipt signature did not verify",
            ))
        }
    }

    /// The checks the sidecar's validator makes that need no state (version, shape,
    /// verdict, signature under `issuers`, validity window at `now`), so a bad receipt is
    /// refused before it reaches the network. Replay and revocation only the sidecar can
    /// check.
    ///
    /// # Errors
    ///
    /// [`ReceiptError::Rejected`] with the validator's code.
    pub fn check(&self, issuers: &TrustedKeys, now: SystemTime) -> Result<(), ReceiptError> {
        if self.protocol_version != PROTOCOL_VERSION {
            return Err(ReceiptError::rejected_locally(
                "UNSUPPORTED_PROTOCOL_VERSION",
                format!("unsupported protocol version: {}", self.protocol_version),
            ));
        }
        let hex64 =
            |text: &str| text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if self.nonce.is_empty()
            || self.max_executions < 1
            || ![
                &self.action_digest,
                &self.context_digest,
                &self.policy_bundle_digest,
                &self.evidence_digest,
            ]
            .iter()
            .all(|digest| hex64(digest))
        {
            return Err(ReceiptError::rejected_locally(
                "MALFORMED_RECEIPT",
                "receipt is structurally malformed",
            ));
        }
        if self.final_verdict != "ALLOW" {
            return Err(ReceiptError::rejected_locally(
                "INVALID_VERDICT",
                format!("final verdict is not ALLOW: {}", self.final_verdict),
            ));
        }
        self.verify_signature(issuers)?;
        let (Some(issued), Some(expires)) = (
            time::parse_iso(&self.issued_at),
            time::parse_iso(&self.expires_at),
        ) else {
            return Err(ReceiptError::rejected_locally(
                "MALFORMED_RECEIPT",
                "receipt has invalid timestamps",
            ));
        };
        if now >= expires {
            return Err(ReceiptError::rejected_locally(
                "EXPIRED_RECEIPT",
                "receipt has expired",
            ));
        }
        // The sidecar checks "not yet valid" against its own clock; a client clock a little
        // behind it must not refuse a fresh receipt, so only an absurd gap is refused here.
        if issued > now + CLOCK_SKEW {
            return Err(ReceiptError::rejected_locally(
                "NOT_YET_VALID",
                "receipt is not yet valid",
            ));
        }
        Ok(())
    }
}

/// How far ahead of the client's clock a receipt's `issuedAt` may be.
const CLOCK_SKEW: std::time::Duration = std::time::Duration::from_secs(60);

impl fmt::Debug for AuthorizationReceipt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizationReceipt")
            .field("receipt_id", &self.receipt_id)
            .field("action_digest", &self.action_digest)
            .field("final_verdict", &self.final_verdict)
            .field("human_approval_reference", &self.human_approval_reference)
            .field("expires_at", &self.expires_at)
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

fn verify(key: &[u8; 32], message: &[u8; 32], signature: &str) -> bool {
    let Ok(bytes) = STANDARD.decode(signature) else {
        return false;
    };
    let Ok(signature) = Signature::from_slice(&bytes) else {
        return false;
    };
    VerifyingKey::from_bytes(key)
        .and_then(|key| key.verify_strict(message, &signature))
        .is_ok()
}

/// How a protected execution ended (the sidecar's `ExecutionStatus`).
///
/// ```
/// use sentinel_runtime::adjudication::{ExecutionReceipt, ExecutionStatus};
///
/// fn ran(execution: &ExecutionReceipt) -> bool {
///     matches!(execution.execution_status(), ExecutionStatus::Succeeded | ExecutionStatus::PartiallyCompleted)
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
pub enum ExecutionStatus {
    /// The body returned `Ok`.
    Succeeded,
    /// The body returned `Err` or panicked.
    Failed,
    /// Part of the side effect happened.
    PartiallyCompleted,
    /// Refused before execution: the body never ran.
    Rejected,
}

/// The executor's signed record that an authorized action ran (or was refused), with a
/// digest of its result. Every field but `signature` is signed.
///
/// Made and signed by [`ReceiptClient`](super::ReceiptClient); read its members through the
/// methods of the same name (the sidecar's field names).
///
/// ```no_run
/// # fn run(receipts: &sentinel_runtime::adjudication::ReceiptClient) {
/// for execution in receipts.pending_reports() {
///     println!("{} ran {} on receipt {} ({}) as {}: {:?} from {} to {}, result {}, ref {:?}",
///         execution.execution_id(), execution.actual_action_digest(), execution.authorization_receipt_id(),
///         execution.authorization_receipt_digest(), execution.executor_identity(),
///         execution.execution_status(), execution.started_at(), execution.completed_at(),
///         execution.result_digest(), execution.external_reference());
///     // Signed by the executor key:
///     assert_eq!(execution.key_id(), receipts.executor().key_id());
///     assert!(execution.verify_with(&receipts.executor().public_key()));
///     println!("{} over {:?}", execution.signature(), execution.signing_input());
/// }
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct ExecutionReceipt {
    pub(crate) execution_id: String,
    pub(crate) authorization_receipt_id: String,
    pub(crate) authorization_receipt_digest: String,
    pub(crate) actual_action_digest: String,
    pub(crate) executor_identity: String,
    pub(crate) started_at: String,
    pub(crate) completed_at: String,
    pub(crate) result_digest: String,
    pub(crate) execution_status: ExecutionStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) external_reference: Option<String>,
    pub(crate) key_id: String,
    pub(crate) signature: String,
}

impl ExecutionReceipt {
    /// The execution id.
    #[must_use]
    pub fn execution_id(&self) -> &str {
        &self.execution_id
    }

    /// The authorization receipt the execution ran on.
    #[must_use]
    pub fn authorization_receipt_id(&self) -> &str {
        &self.authorization_receipt_id
    }

    /// The digest of that authorization receipt.
    #[must_use]
    pub fn authorization_receipt_digest(&self) -> &str {
        &self.authorization_receipt_digest
    }

    /// The digest of the action that actually ran.
    #[must_use]
    pub fn actual_action_digest(&self) -> &str {
        &self.actual_action_digest
    }

    /// Who ran it (the [`ExecutorKey`]'s identity).
    #[must_use]
    pub fn executor_identity(&self) -> &str {
        &self.executor_identity
    }

    /// When the body started (ISO 8601).
    #[must_use]
    pub fn started_at(&self) -> &str {
        &self.started_at
    }

    /// When it ended (ISO 8601).
    #[must_use]
    pub fn completed_at(&self) -> &str {
        &self.completed_at
    }

    /// The digest of what the body returned.
    #[must_use]
    pub fn result_digest(&self) -> &str {
        &self.result_digest
    }

    /// How it ended.
    #[must_use]
    pub fn execution_status(&self) -> ExecutionStatus {
        self.execution_status
    }

    /// A reference the executor attached, if any.
    #[must_use]
    pub fn external_reference(&self) -> Option<&str> {
        self.external_reference.as_deref()
    }

    /// The id of the executor key that signed it.
    #[must_use]
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The executor's signature.
    #[must_use]
    pub fn signature(&self) -> &str {
        &self.signature
    }
}

impl ExecutionReceipt {
    /// The 32 bytes the executor signs: SHA-256 of the canonical JSON of every field but
    /// `signature`.
    #[must_use]
    pub fn signing_input(&self) -> [u8; 32] {
        let mut body = match serde_json::to_value(self) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        };
        body.remove("signature");
        Sha256::digest(canonical_json(&Value::Object(body)).as_bytes()).into()
    }

    /// Whether the signature verifies under `public_key`.
    #[must_use]
    pub fn verify_with(&self, public_key: &[u8; 32]) -> bool {
        verify(public_key, &self.signing_input(), &self.signature)
    }
}

/// The executor's Ed25519 identity: signs execution receipts. The sidecar trusts it
/// through `SENTINEL_PROTOCOL_EXECUTOR_KEYS` (see [`sidecar_setting`](Self::sidecar_setting)).
/// `Debug` never shows the key.
///
/// ```
/// use sentinel_runtime::adjudication::ExecutorKey;
///
/// let key = ExecutorKey::from_seed([7; 32], "payments-worker");
/// assert_eq!(key.identity(), "payments-worker");
/// assert!(key.key_id().starts_with("ed25519-"));
/// assert_eq!(key.public_key().len(), 32);
///
/// // The seed as base64 (from a secret store), under the id configured at the sidecar:
/// let same = ExecutorKey::from_seed_base64("BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=", "payments-worker")?
///     .with_key_id("payments-1");
/// assert_eq!((same.key_id(), same.public_key()), ("payments-1", key.public_key()));
/// assert!(!format!("{same:?}").contains("BwcH"));
/// # Ok::<(), String>(())
/// ```
#[derive(Clone)]
pub struct ExecutorKey {
    signing: SigningKey,
    key_id: String,
    identity: String,
}

impl ExecutorKey {
    /// The key with this 32-byte Ed25519 seed, for the executor named `identity`. Its key
    /// id is `ed25519-` and the hex SHA-256 of the public key: the sidecar's form with a
    /// dash, because `SENTINEL_PROTOCOL_EXECUTOR_KEYS` ends a key id at its first colon.
    #[must_use]
    pub fn from_seed(seed: [u8; 32], identity: impl Into<String>) -> Self {
        let signing = SigningKey::from_bytes(&seed);
        let key_id = format!(
            "ed25519-{}",
            hex(&Sha256::digest(signing.verifying_key().as_bytes()))
        );
        ExecutorKey {
            signing,
            key_id,
            identity: identity.into(),
        }
    }

    /// [`from_seed`](Self::from_seed) with the seed as base64 (standard, padded).
    ///
    /// # Errors
    ///
    /// What is wrong with the seed, in words that never echo it.
    pub fn from_seed_base64(seed: &str, identity: impl Into<String>) -> Result<Self, String> {
        let bytes = STANDARD
            .decode(seed.trim())
            .map_err(|_| "the executor seed is not base64".to_owned())?;
        let seed: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| format!("the executor seed has {} bytes, not 32", bytes.len()))?;
        Ok(Self::from_seed(seed, identity))
    }

    /// Uses `key_id` instead of the default: the id configured for this key in
    /// `SENTINEL_PROTOCOL_EXECUTOR_KEYS`, so without `:` or `,`.
    #[must_use]
    pub fn with_key_id(mut self, key_id: impl Into<String>) -> Self {
        self.key_id = key_id.into();
        self
    }

    /// The key id stamped on every execution receipt.
    #[must_use]
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The executor identity stamped on every execution receipt.
    #[must_use]
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// The raw public key.
    #[must_use]
    pub fn public_key(&self) -> [u8; 32] {
        self.signing.verifying_key().to_bytes()
    }

    /// `keyId:base64(publicKey)`, one entry of the sidecar's
    /// `SENTINEL_PROTOCOL_EXECUTOR_KEYS` (comma-separated).
    ///
    /// ```
    /// use sentinel_runtime::adjudication::ExecutorKey;
    ///
    /// let key = ExecutorKey::from_seed([7; 32], "payments-worker");
    /// assert_eq!(
    ///     key.sidecar_setting(),
    ///     "ed25519-fe812c12f3ab4ce6ac5db69ac352f906cb1b11ef43fb33e252ef7ff552263889:6kpsY+KcUgq+9VB7Ey7F+ZVHdq6+vnuSQh7qaRRG0iw="
    /// );
    /// ```
    #[must_use]
    pub fn sidecar_setting(&self) -> String {
        format!("{}:{}", self.key_id, STANDARD.encode(self.public_key()))
    }

    /// Signs an execution receipt for `authorization`, with a fresh `exec_<uuid>` id.
    pub(crate) fn sign(&self, execution: Execution<'_>) -> ExecutionReceipt {
        let mut receipt = ExecutionReceipt {
            execution_id: format!("exec_{}", uuid::Uuid::new_v4()),
            authorization_receipt_id: execution.authorization.receipt_id.clone(),
            authorization_receipt_digest: execution.authorization.digest(),
            actual_action_digest: execution.actual_action_digest.to_owned(),
            executor_identity: self.identity.clone(),
            started_at: execution.started_at,
            completed_at: time::now_iso(),
            result_digest: execution.result_digest,
            execution_status: execution.status,
            external_reference: execution.external_reference,
            key_id: self.key_id.clone(),
            signature: String::new(),
        };
        receipt.signature = STANDARD.encode(self.signing.sign(&receipt.signing_input()).to_bytes());
        receipt
    }
}

impl fmt::Debug for ExecutorKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExecutorKey")
            .field("key_id", &self.key_id)
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

/// What an execution receipt records.
pub(crate) struct Execution<'a> {
    pub(crate) authorization: &'a AuthorizationReceipt,
    pub(crate) actual_action_digest: &'a str,
    pub(crate) started_at: String,
    pub(crate) result_digest: String,
    pub(crate) status: ExecutionStatus,
    pub(crate) external_reference: Option<String>,
}

/// The sidecar's default result digest: SHA-256 of the canonical JSON of `value`.
pub(crate) fn result_digest(value: &Value) -> String {
    digest_of(value)
}

/// The digest recorded for a body that failed or panicked: `{"error": message}`, as the
/// sidecar's own executor records a thrown error.
pub(crate) fn error_digest(message: &str) -> String {
    digest_of(&json!({ "error": message }))
}
