//! Before a body runs on a receipt: the signed decision record the adjudication produced,
//! checked against the receipt and the request. A receipt says what the sidecar issued; only
//! the record says what its policy judged (the sidecar runs the policy on the `guard` part of
//! an adjudication and binds the receipt to the `action` part, without checking that they
//! agree), and only the record is signed in the chain.

use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::Value;

use super::client::{AdjudicationRequest, ReceiptClient};
use super::receipt::AuthorizationReceipt;
use super::time;
use crate::client::judged_under;
use crate::provenance::{action_fingerprint, verify_record, Record, TrustedKeys};

impl ReceiptClient {
    /// Checks that `record_id`, the decision record of the adjudication that issued
    /// `receipt`, verifies under the pinned keys and says `ALLOW` for exactly `request`'s
    /// action (its `actionFingerprint`), under `request`'s policy (its `policy:<name>`
    /// check), run and tenant, and written within the receipt's lifetime of its issue.
    /// (That it backs one execution only is checked last, by the executor.) Returns the keys to check the
    /// receipt's signature with: the pinned ones and, when the receipt names the record's
    /// signer, the record's key (a key pinned by id alone has no bytes until a record that
    /// verifies under it brings them).
    pub(super) fn judgement(
        &self,
        receipt: &AuthorizationReceipt,
        record_id: &str,
        request: &AdjudicationRequest,
        deadline: Instant,
    ) -> Result<TrustedKeys, String> {
        if record_id.is_empty() {
            return Err("the adjudication names no decision record".into());
        }
        let record = self.sentinel().fetch_record(record_id, deadline)?;
        verify_record(&record, self.issuers()).map_err(|e| format!("the decision record: {e}"))?;
        check_record(&record, receipt, request)?;
        keys_with_signer_of(self.issuers(), &record, receipt)
    }
}

impl ReceiptClient {
    /// The keys to check a just-issued `receipt` with: the pinned ones, and when its issuer
    /// is pinned by id alone, the key of the decision record `record_id` once that record
    /// verifies under the id.
    pub(super) fn issuer_keys(
        &self,
        receipt: &AuthorizationReceipt,
        record_id: &str,
        deadline: Instant,
    ) -> Result<TrustedKeys, String> {
        let issuers = self.issuers();
        if issuers.get(receipt.key_id()).is_some() || !issuers.contains_key_id(receipt.key_id()) {
            return Ok(issuers.clone());
        }
        let record = self.sentinel().fetch_record(record_id, deadline)?;
        verify_record(&record, issuers).map_err(|e| format!("the decision record: {e}"))?;
        keys_with_signer_of(issuers, &record, receipt)
    }
}

/// `issuers`, plus the key of `record` (verified under them) when it signed `receipt`.
fn keys_with_signer_of(
    issuers: &TrustedKeys,
    record: &Record,
    receipt: &AuthorizationReceipt,
) -> Result<TrustedKeys, String> {
    if record.key_id() != receipt.key_id() {
        return Ok(issuers.clone());
    }
    let bytes: [u8; 32] = STANDARD
        .decode(record.signer_public_key())
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or("the decision record's key is not 32 bytes of base64")?;
    Ok(issuers.clone().with_key_bytes(bytes))
}

/// What a verified decision record must say to back `receipt` for `request`.
fn check_record(
    record: &Record,
    receipt: &AuthorizationReceipt,
    request: &AdjudicationRequest,
) -> Result<(), String> {
    if record.verdict() != "ALLOW" {
        return Err(format!(
            "the decision record says {}, not ALLOW",
            record.verdict()
        ));
    }
    let action = request.action();
    let fingerprint = action_fingerprint(action.action_type(), &Value::Object(action.parameters().clone()));
    if record.action_fingerprint() != fingerprint {
        return Err(
            "the policy judged another action than the one to run (the record's actionFingerprint differs)"
                .into(),
        );
    }
    if !judged_under(record, request.policy()) {
        return Err(format!(
            "the policy that judged is not {} (the record has no `policy:{}` check)",
            request.policy(),
            request.policy()
        ));
    }
    if record.context().get("runId").and_then(Value::as_str) != Some(request.context().run_id()) {
        return Err("the decision record is about another run".into());
    }
    let tenant = request.context().tenant().filter(|tenant| !tenant.is_empty());
    if record.tenant() != tenant {
        return Err("the decision record is about another tenant".into());
    }
    let (Some(judged), Some(issued), Some(expires)) = (
        time::parse_iso(record.ts()),
        time::parse_iso(receipt.issued_at()),
        time::parse_iso(receipt.expires_at()),
    ) else {
        return Err("the decision record or the receipt has an unreadable timestamp".into());
    };
    let lifetime = expires.duration_since(issued).unwrap_or(Duration::ZERO);
    let apart = issued
        .duration_since(judged)
        .or_else(|_| judged.duration_since(issued))
        .unwrap_or(Duration::MAX);
    if apart > lifetime {
        return Err(format!(
            "the decision record was written {:.0} s from the receipt's issue, more than its lifetime ({:.0} s)",
            apart.as_secs_f64(),
            lifetime.as_secs_f64()
        ));
    }
    Ok(())
}
