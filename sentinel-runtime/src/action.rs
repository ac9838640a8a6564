//! The action an agent is about to take.

use serde::Serialize;
use serde_json::{Number, Value};

/// The largest integer every JSON reader that reads numbers as doubles (JavaScript's, so the
/// sidecar's) reads as itself: `Number.MAX_SAFE_INTEGER`.
pub(crate) const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

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
/// assert_eq!(email.payload()["to"], "cfo@example.com");
/// assert_eq!(email.meta(), Some(&json!({"source": "planner"})));
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
        if holds_unsafe_integer(&self.payload) || self.meta.as_ref().is_some_and(holds_unsafe_integer) {
            return Some(
                "the action holds an integer beyond ±(2^53 − 1) (9007199254740991): the sidecar is JavaScript \
                 and reads every number as a double, so it would judge another number than the one sent; send \
                 such a value as a string or in smaller units",
            );
        }
        None
    }
}

/// Whether `value` holds, at any depth, an integer a double does not hold exactly.
/// Iterative: a payload may nest deeper than the stack would like.
fn holds_unsafe_integer(value: &Value) -> bool {
    let mut pending = vec![value];
    while let Some(value) = pending.pop() {
        match value {
            Value::Number(number) if !is_safe(number) => return true,
            Value::Array(items) => pending.extend(items),
            Value::Object(members) => pending.extend(members.values()),
            _ => {}
        }
    }
    false
}

/// An integer within ±(2^53 − 1), or a float (already a double, read as itself).
fn is_safe(number: &Number) -> bool {
    if let Some(n) = number.as_i64() {
        return n.unsigned_abs() <= MAX_SAFE_INTEGER;
    }
    if let Some(n) = number.as_u64() {
        return n <= MAX_SAFE_INTEGER;
    }
    // A float; or, under serde_json's `arbitrary_precision`, an integer beyond 64 bits,
    // which is written without a fraction or an exponent.
    number.to_string().contains(['.', 'e', 'E'])
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn why(payload: Value) -> Option<&'static str> {
        Action::payment(payload).shape_error()
    }

    #[test]
    fn integers_a_double_reads_as_another_are_refused_anywhere() {
        let safe = MAX_SAFE_INTEGER;
        for fine in [
            json!({"amount": safe}),
            json!({"amount": -(safe as i64)}),
            json!({"amount": 1e300, "rate": 0.1, "n": [0, -1, u32::MAX]}),
        ] {
            assert_eq!(why(fine.clone()), None, "{fine}");
        }
        for bad in [
            json!({"amount": safe + 1}),
            json!({"amount": 9_007_199_254_740_993_u64}),
            json!({"amount": -(safe as i64) - 1}),
            json!({"amount": u64::MAX}),
            json!({"amount": i64::MIN}),
            json!({"legs": [{"to": "a", "amount": [1, 2, 9_007_199_254_740_993_u64]}]}),
        ] {
            let why = why(bad.clone()).unwrap_or_else(|| panic!("{bad} was not refused"));
            assert!(why.contains("2^53") && why.contains("JavaScript"), "{why}");
        }
        let in_meta = Action::payment(json!({"amount": 1})).with_meta(json!({"trace": u64::MAX}));
        assert!(in_meta.shape_error().is_some());
    }

    #[test]
    fn a_payload_nested_past_the_stack_is_walked_without_recursion() {
        let mut deep = json!(9_007_199_254_740_993_u64);
        for _ in 0..200_000 {
            deep = Value::Array(vec![deep]);
        }
        // Not `json!`: it would serialize `deep` recursively.
        let payload = Value::Object([("deep".to_owned(), deep)].into_iter().collect());
        let found = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || {
                let found = holds_unsafe_integer(&payload);
                std::mem::forget(payload);
                found
            })
            .unwrap()
            .join()
            .unwrap();
        assert!(found);
    }
}
