//! The action an agent is about to take.

use serde::Serialize;
use serde_json::Value;

/// Something an agent is about to do, described for the sidecar.
///
/// On the wire it is `{"id", "type", "payload", "meta"?}`. The payload must be a JSON
/// object; anything else makes [`SentinelClient::guard`](crate::SentinelClient::guard) fail
/// safe without asking the sidecar.
///
/// ```
/// use sentinel_runtime::Action;
/// use serde_json::json;
///
/// let pay = Action::payment(json!({"amount": 42000, "from": "acct_ops", "to": "vendor_42"}));
/// assert_eq!(pay.kind(), "payment");
/// assert!(pay.id().starts_with("act_"));
///
/// let email = Action::of("email.send", json!({"to": "cfo@example.com"}))
///     .with_id("act_idem_7")
///     .with_meta(json!({"source": "planner"}));
/// assert_eq!(email.id(), "act_idem_7");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Action {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    payload: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    meta: Option<Value>,
}

impl Action {
    /// An action of the given kind (`action.type` on the wire) with a fresh `act_<uuid v4>` id.
    pub fn of(kind: impl Into<String>, payload: Value) -> Self {
        Action {
            id: new_action_id(),
            kind: kind.into(),
            payload,
            meta: None,
        }
    }

    /// A `payment` action, the kind the built-in `fintech.payments` policy evaluates.
    pub fn payment(payload: Value) -> Self {
        Action::of("payment", payload)
    }

    /// Replaces the generated id, for example with an idempotency key.
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = id.into();
        self
    }

    /// Attaches annotations the sidecar keeps in provenance but does not evaluate.
    /// Must be a JSON object, like the payload.
    pub fn with_meta(mut self, meta: Value) -> Self {
        self.meta = Some(meta);
        self
    }

    /// The action id (`act_…` unless replaced).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The action type, such as `payment`.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The arguments of the action.
    pub fn payload(&self) -> &Value {
        &self.payload
    }

    /// The annotations, if any.
    pub fn meta(&self) -> Option<&Value> {
        self.meta.as_ref()
    }

    /// Why the sidecar would refuse this action's shape, if it would.
    pub(crate) fn shape_error(&self) -> Option<&'static str> {
        if self.kind.is_empty() {
            return Some("the action type is empty");
        }
        if self.id.is_empty() {
            return Some("the action id is empty");
        }
        if !self.payload.is_object() {
            return Some("action payload must be a JSON object");
        }
        if self.meta.as_ref().is_some_and(|m| !m.is_object()) {
            return Some("action meta must be a JSON object");
        }
        None
    }
}

/// A fresh `act_<uuid v4>` id.
pub(crate) fn new_action_id() -> String {
    let mut id = String::with_capacity(40);
    id.push_str("act_");
    id.push_str(
        uuid::Uuid::new_v4()
            .hyphenated()
            .encode_lower(&mut uuid::Uuid::encode_buffer()),
    );
    id
}
