//! Why a decision is the client's own: the kinds of "no trustworthy answer", each with its
//! own wording, so a typo in a policy name does not read like an outage.

use std::fmt;

use crate::transport::TransportError;

/// What kept the client from a trustworthy answer, for a decision it made up itself
/// ([`GuardDecision::fallback_kind`](crate::GuardDecision::fallback_kind),
/// [`Denied::fallback_kind`](crate::Denied::fallback_kind)). Whatever the kind, the rule is
/// the same: `BLOCK` when failing closed (the default), `ALLOW` only when failing open, and
/// [`Refused`](Self::Refused) and [`RefusedByClient`](Self::RefusedByClient) are a `BLOCK`
/// in both modes: a sidecar that answered "no" to the request is not an outage.
///
/// ```
/// use sentinel_runtime::{Action, Context, FallbackKind, SentinelClient};
///
/// // Nothing listens on port 9: the sidecar cannot be reached.
/// let client = SentinelClient::builder("http://127.0.0.1:9").build().unwrap();
/// let decision = client.guard(&Action::payment(serde_json::json!({"amount": 1})), &Context::new("run-1"), "fintech.payments");
/// assert!(!decision.allowed());
/// assert_eq!(decision.fallback_kind(), Some(FallbackKind::Unreachable));
/// assert!(decision.reason().unwrap().starts_with("sentinel sidecar unreachable ("));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FallbackKind {
    /// No connection to the sidecar could be made (refused, no route, unknown host).
    Unreachable,
    /// A connection was made but broke before a whole answer arrived.
    ConnectionLost,
    /// No answer within the deadline (or HTTP 408, the sidecar's own timeout).
    TimedOut,
    /// The sidecar refused the request (HTTP 4xx other than 408 and 429): an unknown policy
    /// pack, a request it will not read, a missing credential. Its own message is in the
    /// reason. A `BLOCK` even when failing open: the sidecar is up and said no, so a typo
    /// in a policy name or a missing credential must not open every gate.
    Refused,
    /// The sidecar was too busy to answer before the deadline (HTTP 429 or 503, retried
    /// while the deadline allowed).
    Busy,
    /// The sidecar failed (HTTP 5xx other than 503).
    Failing,
    /// An answer came, but not a well-formed decision (not HTTP, not the protocol's JSON,
    /// too large, the wrong number of decisions in a batch).
    Malformed,
    /// The client refused the call itself, whatever the fail mode: the request could not
    /// be described, an `ALLOW`'s signed record did not match the call, a human did not
    /// approve in time, no client was configured.
    RefusedByClient,
}

impl FallbackKind {
    /// The kind of a transport failure.
    pub(crate) fn of_transport(error: &TransportError) -> FallbackKind {
        match error {
            TransportError::Connect(_) => FallbackKind::Unreachable,
            TransportError::Timeout => FallbackKind::TimedOut,
            TransportError::BodyTooLarge(_) => FallbackKind::Malformed,
            TransportError::Io(e) if e.kind() == std::io::ErrorKind::InvalidData => FallbackKind::Malformed,
            TransportError::Io(_) => FallbackKind::ConnectionLost,
            // A custom transport's own failure, or a panic in it: no answer was had.
            _ => FallbackKind::Unreachable,
        }
    }

    /// The kind of an HTTP status that is not a success.
    pub(crate) fn of_status(status: u16) -> FallbackKind {
        match status {
            429 | 503 => FallbackKind::Busy,
            // The sidecar gave up waiting for the request: an outage, not a refusal.
            408 => FallbackKind::TimedOut,
            400..=499 => FallbackKind::Refused,
            500..=599 => FallbackKind::Failing,
            // 1xx, 3xx (redirects are not followed) or nonsense: not an answer to read.
            _ => FallbackKind::Malformed,
        }
    }

    /// The reason of a decision of this kind: what happened, `detail` (often the sidecar's
    /// own words), and how the client fails.
    pub(crate) fn reason(self, detail: &str, mode: &str) -> String {
        match self {
            FallbackKind::Unreachable => format!("sentinel sidecar unreachable ({detail}); failing {mode}"),
            FallbackKind::ConnectionLost => {
                format!("sentinel sidecar connection lost before an answer ({detail}); failing {mode}")
            }
            FallbackKind::TimedOut => {
                format!("sentinel sidecar gave no answer within the deadline ({detail}); failing {mode}")
            }
            FallbackKind::Refused => {
                format!("sentinel sidecar refused the request ({detail}); failing {mode}")
            }
            FallbackKind::Busy => {
                format!("sentinel sidecar too busy to answer within the deadline ({detail}); failing {mode}")
            }
            FallbackKind::Failing => format!("sentinel sidecar failed ({detail}); failing {mode}"),
            FallbackKind::Malformed => {
                format!("sentinel sidecar sent a malformed answer ({detail}); failing {mode}")
            }
            FallbackKind::RefusedByClient => format!("{detail}; failing {mode}"),
        }
    }
}

impl fmt::Display for FallbackKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FallbackKind::Unreachable => "sidecar unreachable",
            FallbackKind::ConnectionLost => "connection lost",
            FallbackKind::TimedOut => "timed out",
            FallbackKind::Refused => "refused by the sidecar",
            FallbackKind::Busy => "sidecar busy",
            FallbackKind::Failing => "sidecar failing",
            FallbackKind::Malformed => "malformed answer",
            FallbackKind::RefusedByClient => "refused by the client",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_have_their_kinds() {
        assert_eq!(FallbackKind::of_status(400), FallbackKind::Refused);
        assert_eq!(FallbackKind::of_status(404), FallbackKind::Refused);
        assert_eq!(FallbackKind::of_status(429), FallbackKind::Busy);
        assert_eq!(FallbackKind::of_status(408), FallbackKind::TimedOut);
        assert_eq!(FallbackKind::of_status(503), FallbackKind::Busy);
        assert_eq!(FallbackKind::of_status(500), FallbackKind::Failing);
        assert_eq!(FallbackKind::of_status(502), FallbackKind::Failing);
        assert_eq!(FallbackKind::of_status(302), FallbackKind::Malformed);
    }

    #[test]
    fn transport_failures_have_their_kinds() {
        let io = |kind| std::io::Error::new(kind, "x");
        assert_eq!(
            FallbackKind::of_transport(&TransportError::Connect(io(
                std::io::ErrorKind::ConnectionRefused
            ))),
            FallbackKind::Unreachable
        );
        assert_eq!(
            FallbackKind::of_transport(&TransportError::Timeout),
            FallbackKind::TimedOut
        );
        assert_eq!(
            FallbackKind::of_transport(&TransportError::Io(io(std::io::ErrorKind::ConnectionReset))),
            FallbackKind::ConnectionLost
        );
        assert_eq!(
            FallbackKind::of_transport(&TransportError::Io(io(std::io::ErrorKind::InvalidData))),
            FallbackKind::Malformed
        );
        assert_eq!(
            FallbackKind::of_transport(&TransportError::BodyTooLarge(10)),
            FallbackKind::Malformed
        );
    }

    #[test]
    fn each_kind_has_its_own_wording() {
        let kinds = [
            FallbackKind::Unreachable,
            FallbackKind::ConnectionLost,
            FallbackKind::TimedOut,
            FallbackKind::Refused,
            FallbackKind::Busy,
            FallbackKind::Failing,
            FallbackKind::Malformed,
            FallbackKind::RefusedByClient,
        ];
        let reasons: std::collections::HashSet<String> = kinds
            .iter()
            .map(|kind| kind.reason("<detail>", "closed"))
            .collect();
        assert_eq!(reasons.len(), kinds.len(), "{reasons:?}");
        assert!(reasons
            .iter()
            .all(|reason| reason.contains("<detail>") && reason.ends_with("; failing closed")));
    }
}
