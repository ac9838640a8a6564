//! [`SidecarError`]: why a call to the sidecar's API (records, escalations, probes, receipts) gave no
//! usable answer. One type for every route, so a 404 or a malformed answer is matched the
//! same way wherever it comes from.

use std::fmt;

use crate::transport::TransportError;

/// Why a call to the sidecar's API failed: no answer, a status that is not a success, or
/// an answer that is not what the route answers.
///
/// Like every error of this crate, its `Display` is the whole story (the transport failure
/// included) and `source()` is `None`, so an error-chain printer shows each message once;
/// match [`Transport`](Self::Transport) to reach the underlying error.
#[derive(Debug)]
#[non_exhaustive]
pub enum SidecarError {
    /// 404: no such record or escalation (the sidecar's `error` text, or what was asked);
    /// to a receipt step, no adjudication route (a sidecar started without the protocol).
    NotFound(String),
    /// 403 to a resolve: the approver is not on the escalation's list.
    NotAnApprover(String),
    /// 409 to a resolve: the escalation was already resolved.
    AlreadyResolved(String),
    /// Another status than 2xx, with the sidecar's `error` text when it gave one.
    Status {
        /// The HTTP status.
        status: u16,
        /// The sidecar's `error` text, or empty.
        message: String,
    },
    /// No answer: connection refused, reset, or the deadline passed.
    Transport(TransportError),
    /// A 2xx answer that is not what the route answers.
    Malformed(String),
}

impl fmt::Display for SidecarError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SidecarError::NotFound(what) => write!(f, "not found: {what}"),
            SidecarError::NotAnApprover(m) => write!(f, "not an approver of this escalation: {m}"),
            SidecarError::AlreadyResolved(m) => write!(f, "escalation already resolved: {m}"),
            SidecarError::Status { status, message } if message.is_empty() => write!(f, "HTTP {status}"),
            SidecarError::Status { status, message } => write!(f, "HTTP {status}: {message}"),
            SidecarError::Transport(why) => write!(f, "no answer from the sidecar: {why}"),
            SidecarError::Malformed(why) => write!(f, "malformed answer: {why}"),
        }
    }
}

impl std::error::Error for SidecarError {}

impl From<TransportError> for SidecarError {
    fn from(e: TransportError) -> Self {
        SidecarError::Transport(e)
    }
}
