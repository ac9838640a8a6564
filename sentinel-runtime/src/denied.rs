//! [`Denied`]: what a guarded function returns instead of running its body.

use std::fmt;

use crate::decision::{GuardDecision, Verdict};

/// The error a `#[guarded]` function returns when the sidecar did not allow the call (or
/// could not be asked and the client fails closed). It carries the whole decision.
///
/// Convert it into your own error type with `From<Denied>`; `anyhow::Error`,
/// `Box<dyn Error + Send + Sync>` and `std::io::Error` (as `PermissionDenied`) accept it as
/// it is. In agent frameworks: with feature `rmcp` it is the content of a failed MCP tool
/// result (`IntoContents`), with feature `rig` it converts into rig's refusal
/// (`From<Denied> for ToolExecutionError`); both show the model
/// [`model_feedback`](Self::model_feedback).
///
/// ```
/// use sentinel_runtime::Denied;
///
/// fn explain(denied: &Denied) -> String {
///     if denied.is_escalated() {
///         format!("held for a human: {}", denied.escalation_id().unwrap_or_default())
///     } else if denied.is_fallback() {
///         format!("the sidecar could not be asked: {}", denied.reason())
///     } else {
///         format!("refused: {denied}") // sentinel BLOCK payment under fintech.payments: …
///     }
/// }
/// ```
#[derive(Clone, PartialEq)]
pub struct Denied {
    inner: Box<Inner>,
}

#[derive(Clone, PartialEq)]
struct Inner {
    decision: GuardDecision,
    kind: String,
    policy: String,
}

impl Denied {
    /// A denial of an action of type `kind` under `policy`: what a `#[guarded]` function
    /// returns for `decision`, for code that guards by hand with
    /// [`SentinelClient::guard`](crate::SentinelClient::guard) (the MCP gate does), and for
    /// tests of code that handles denials.
    ///
    /// ```
    /// use sentinel_runtime::{Denied, GuardDecision, Verdict};
    ///
    /// let body = br#"{"verdict":"BLOCK","recordId":"rec_9","checks":[],"reason":"sanctioned"}"#;
    /// let denied = Denied::new(GuardDecision::from_json(body).unwrap(), "payment", "fintech.payments");
    /// assert_eq!((denied.kind(), denied.policy()), ("payment", "fintech.payments"));
    /// assert_eq!(denied.verdict(), Verdict::Block);
    /// assert_eq!(denied.record_id(), Some("rec_9"));
    /// assert_eq!(denied.decision().reason(), Some("sanctioned"));
    /// assert_eq!(denied.to_string(), "sentinel BLOCK payment under fintech.payments: sanctioned");
    /// let decision: GuardDecision = denied.into_decision();
    /// assert!(!decision.allowed());
    /// ```
    pub fn new(decision: GuardDecision, kind: impl Into<String>, policy: impl Into<String>) -> Self {
        Denied::of(decision, kind, policy)
    }

    pub(crate) fn of(decision: GuardDecision, kind: impl Into<String>, policy: impl Into<String>) -> Self {
        Denied {
            inner: Box::new(Inner {
                decision,
                kind: kind.into(),
                policy: policy.into(),
            }),
        }
    }

    /// The whole decision.
    pub fn decision(&self) -> &GuardDecision {
        &self.inner.decision
    }

    /// Takes the decision out.
    pub fn into_decision(self) -> GuardDecision {
        self.inner.decision
    }

    /// `BLOCK`, `ESCALATE`, or (only for a fail-open fallback that something still refused)
    /// `ALLOW`.
    pub fn verdict(&self) -> Verdict {
        self.inner.decision.verdict()
    }

    /// The reason given, or an empty string.
    pub fn reason(&self) -> &str {
        self.inner.decision.reason().unwrap_or_default()
    }

    /// The signed record of the decision; `None` for a decision the client made up (a
    /// fallback or a refusal).
    #[must_use]
    pub fn record_id(&self) -> Option<&str> {
        self.inner.decision.record_id()
    }

    /// The escalation a human can resolve, for `ESCALATE`.
    pub fn escalation_id(&self) -> Option<&str> {
        self.inner.decision.escalation_id()
    }

    /// `true` when the action is held for a human.
    pub fn is_escalated(&self) -> bool {
        self.verdict() == Verdict::Escalate
    }

    /// `true` when the client made the decision up (no trustworthy answer was had).
    pub fn is_fallback(&self) -> bool {
        self.inner.decision.is_fallback()
    }

    /// What kept the client from a trustworthy answer, when it made the decision up: the
    /// sidecar unreachable, timed out, refusing the request (an unknown policy pack), failing,
    /// a malformed answer… `None` for the sidecar's own `BLOCK` or `ESCALATE`.
    ///
    /// ```
    /// use sentinel_runtime::{Denied, FallbackKind};
    ///
    /// fn advice(denied: &Denied) -> &'static str {
    ///     match denied.fallback_kind() {
    ///         None => "the sidecar decided",
    ///         Some(FallbackKind::Refused) => "the sidecar refused the request: check the policy name",
    ///         Some(FallbackKind::Unreachable | FallbackKind::TimedOut) => "the sidecar is down or slow",
    ///         Some(_) => "no trustworthy answer",
    ///     }
    /// }
    /// ```
    pub fn fallback_kind(&self) -> Option<crate::decision::FallbackKind> {
        self.inner.decision.fallback_kind()
    }

    /// The action type that was denied.
    pub fn kind(&self) -> &str {
        &self.inner.kind
    }

    /// The policy it was checked under.
    pub fn policy(&self) -> &str {
        &self.inner.policy
    }
}

impl fmt::Display for Denied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "sentinel {} {} under {}",
            self.verdict(),
            self.inner.kind,
            self.inner.policy
        )?;
        match self.inner.decision.reason() {
            Some(reason) => write!(f, ": {reason}"),
            None => Ok(()),
        }
    }
}

impl fmt::Debug for Denied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Denied")
            .field("verdict", &self.verdict())
            .field("kind", &self.inner.kind)
            .field("policy", &self.inner.policy)
            .field("reason", &self.inner.decision.reason())
            .field("record_id", &self.record_id())
            .field("escalation_id", &self.escalation_id())
            .field("fallback", &self.is_fallback())
            .finish()
    }
}

impl std::error::Error for Denied {}

/// For functions returning `std::io::Result<T>`: a denial is an
/// [`ErrorKind::PermissionDenied`](std::io::ErrorKind::PermissionDenied) error that carries
/// the [`Denied`] (`error.get_ref()`, or `error.into_inner()` and `downcast`).
impl From<Denied> for std::io::Error {
    fn from(denied: Denied) -> Self {
        std::io::Error::new(std::io::ErrorKind::PermissionDenied, denied)
    }
}
