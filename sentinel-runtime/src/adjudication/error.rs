//! [`ReceiptError`]: why a receipt step did not go ahead.

use std::fmt;

use crate::decision::Verdict;
use crate::sidecar_error::SidecarError;

/// Why an adjudication, a validation, a report or an audit did not succeed. Every variant
/// means "do not execute"; none carries a secret (receipts are named by id, never shown
/// whole).
///
/// As every error of this crate, its `Display` is the whole story and `source()` is `None`;
/// a failure to get an answer at all is the crate's one [`SidecarError`], matched as
/// anywhere else (`ReceiptError::Sidecar(SidecarError::NotFound(_))` for a sidecar that
/// does not serve the protocol's routes).
#[derive(Debug)]
#[non_exhaustive]
pub enum ReceiptError {
    /// The action cannot be described in a form the sidecar digests deterministically
    /// (`NON_CANONICAL_ACTION`): a required field is empty, `parameters` is not an object,
    /// or a value has no faithful JavaScript form.
    NonCanonicalAction(String),
    /// The adjudication's final verdict was not `ALLOW`, so no receipt was issued.
    NotAuthorized {
        /// `BLOCK` or `ESCALATE`.
        verdict: Verdict,
        /// The adjudicator's reason.
        reason: String,
    },
    /// A receipt was refused, by the sidecar's validator or by the client's own check
    /// before it, with the protocol's code (`ACTION_MISMATCH`, `REPLAY_DETECTED`,
    /// `INVALID_SIGNATURE`, `UNTRUSTED_ISSUER`, `EXPIRED_RECEIPT`, `REVOKED_RECEIPT`, …).
    Rejected {
        /// The protocol's error code.
        code: String,
        /// What was wrong, and who found it.
        message: String,
    },
    /// No trustworthy answer: the sidecar was unreachable
    /// ([`SidecarError::Transport`]), answered an HTTP error ([`SidecarError::NotFound`]
    /// for a 404, as a sidecar without the adjudication protocol answers; otherwise
    /// [`SidecarError::Status`]), or sent something malformed ([`SidecarError::Malformed`]).
    Sidecar(SidecarError),
}

impl ReceiptError {
    pub(crate) fn rejected_locally(code: &str, message: impl fmt::Display) -> Self {
        ReceiptError::Rejected {
            code: code.to_owned(),
            message: format!("{message} (checked by the client)"),
        }
    }

    /// The protocol's error code: the validator's code for [`Rejected`](Self::Rejected),
    /// `NON_CANONICAL_ACTION`, `NOT_AUTHORIZED` or `SIDECAR` otherwise.
    ///
    /// ```
    /// use sentinel_runtime::adjudication::CanonicalAction;
    ///
    /// let error = CanonicalAction::new("payment", "", "transfer", "agent-7", serde_json::json!({})).unwrap_err();
    /// assert_eq!(error.code(), "NON_CANONICAL_ACTION");
    /// ```
    #[must_use]
    pub fn code(&self) -> &str {
        match self {
            ReceiptError::NonCanonicalAction(_) => "NON_CANONICAL_ACTION",
            ReceiptError::NotAuthorized { .. } => "NOT_AUTHORIZED",
            ReceiptError::Rejected { code, .. } => code,
            ReceiptError::Sidecar(_) => "SIDECAR",
        }
    }
}

impl fmt::Display for ReceiptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReceiptError::NonCanonicalAction(why) => write!(f, "non-canonical action: {why}"),
            ReceiptError::NotAuthorized { verdict, reason } => {
                write!(f, "adjudication returned {verdict}: {reason}")
            }
            ReceiptError::Rejected { code, message } => write!(f, "receipt rejected ({code}): {message}"),
            ReceiptError::Sidecar(why) => write!(f, "sidecar: {why}"),
        }
    }
}

impl std::error::Error for ReceiptError {}

impl From<SidecarError> for ReceiptError {
    fn from(e: SidecarError) -> Self {
        ReceiptError::Sidecar(e)
    }
}
