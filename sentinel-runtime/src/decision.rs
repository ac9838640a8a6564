//! The sidecar's answer: [`GuardDecision`], strict parsing of its wire form, and the
//! fail-safe decision the client makes up when it cannot get a trustworthy answer.

use std::fmt;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::client::FailMode;

/// The three answers a sidecar can give. The protocol has exactly these; there is no
/// "unknown" verdict, and a client that sees another string fails safe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Verdict {
    /// The action may go ahead.
    Allow,
    /// The action must not happen.
    Block,
    /// The action is held for a human to approve or deny.
    Escalate,
}

impl Verdict {
    /// The wire spelling: `ALLOW`, `BLOCK` or `ESCALATE`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Allow => "ALLOW",
            Verdict::Block => "BLOCK",
            Verdict::Escalate => "ESCALATE",
        }
    }

    /// Reads the wire spelling, exactly (no case folding, no trimming).
    pub fn from_wire(text: &str) -> Option<Verdict> {
        match text {
            "ALLOW" => Some(Verdict::Allow),
            "BLOCK" => Some(Verdict::Block),
            "ESCALATE" => Some(Verdict::Escalate),
            _ => None,
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How one check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Outcome {
    /// The check passed.
    Pass,
    /// The check failed.
    Fail,
    /// The check could not decide.
    Inconclusive,
}

impl Outcome {
    fn from_wire(text: &str) -> Option<Outcome> {
        match text {
            "pass" => Some(Outcome::Pass),
            "fail" => Some(Outcome::Fail),
            "inconclusive" => Some(Outcome::Inconclusive),
            _ => None,
        }
    }
}

/// One check the sidecar ran (schema, policy rule, sanctions list, second opinion …).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct CheckResult {
    /// The check's name, such as `schema` or `policy:fintech.payments`.
    pub check: String,
    /// How it came out.
    pub outcome: Outcome,
    /// The verdict this check asks for.
    pub verdict: Verdict,
    /// Why, when the check says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Check-specific details.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Map<String, Value>>,
    /// How long the check took, in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
}

/// The name of the single check a client-side fallback decision carries.
pub const TRANSPORT_CHECK: &str = "sentinel.transport";

/// The answer to one guard: a verdict the sidecar rendered and signed, or the client's own
/// fail-safe decision when no trustworthy answer could be had ([`is_fallback`](Self::is_fallback)).
///
/// ```
/// use sentinel_runtime::{GuardDecision, Verdict};
///
/// let body = br#"{"verdict":"ALLOW","recordId":"rec_9","checks":[]}"#;
/// let decision = GuardDecision::from_json(body).unwrap();
/// assert!(decision.allowed());
/// assert_eq!(decision.record_id(), "rec_9");
/// assert!(!decision.is_fallback());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GuardDecision {
    verdict: Verdict,
    record_id: String,
    checks: Vec<CheckResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    escalation_id: Option<String>,
    #[serde(skip)]
    fallback: bool,
}

impl GuardDecision {
    /// Parses a decision strictly: exactly one JSON object, no duplicate keys at any depth,
    /// a verdict spelled exactly `ALLOW`/`BLOCK`/`ESCALATE`, a non-empty string `recordId`,
    /// a `checks` array of well-formed checks, `escalationId` present on `ESCALATE`, and
    /// every optional field of its documented type when present. Unknown members are
    /// ignored so the protocol can grow.
    pub fn from_json(body: &[u8]) -> Result<GuardDecision, DecisionError> {
        typed::from_json(body)
    }

    /// [`from_json`](Self::from_json) for an already parsed value (duplicate keys can no
    /// longer be seen at this point).
    pub fn from_value(value: Value) -> Result<GuardDecision, DecisionError> {
        let Value::Object(mut object) = value else {
            return Err(DecisionError(format!(
                "expected a JSON object, got {}",
                kind_of(&value)
            )));
        };
        let verdict = take_verdict(&mut object, "verdict")?;
        let record_id = match object.remove("recordId") {
            Some(Value::String(id)) if !id.is_empty() => id,
            Some(Value::String(_)) => return Err(DecisionError("`recordId` is empty".into())),
            Some(other) => return Err(wrong_type("recordId", "a string", &other)),
            None => return Err(DecisionError("`recordId` is missing".into())),
        };
        let checks = match object.remove("checks") {
            Some(Value::Array(items)) => items
                .into_iter()
                .enumerate()
                .map(|(i, item)| {
                    parse_check(item).map_err(|e| DecisionError(format!("checks[{i}]: {}", e.0)))
                })
                .collect::<Result<Vec<_>, _>>()?,
            Some(other) => return Err(wrong_type("checks", "an array", &other)),
            None => return Err(DecisionError("`checks` is missing".into())),
        };
        let reason = take_optional_string(&mut object, "reason")?;
        let escalation_id = take_optional_string(&mut object, "escalationId")?;
        GuardDecision::from_parts(verdict, record_id, checks, reason, escalation_id)
    }

    /// A decision read off the wire, once the rules that tie its members together hold:
    /// an `ESCALATE` names its escalation. Both parsers end here.
    fn from_parts(
        verdict: Verdict,
        record_id: String,
        checks: Vec<CheckResult>,
        reason: Option<String>,
        escalation_id: Option<String>,
    ) -> Result<GuardDecision, DecisionError> {
        if verdict == Verdict::Escalate && escalation_id.as_deref().is_none_or(str::is_empty) {
            return Err(DecisionError("ESCALATE without an `escalationId`".into()));
        }
        Ok(GuardDecision {
            verdict,
            record_id,
            checks,
            reason,
            escalation_id,
            fallback: false,
        })
    }

    /// The decision the client makes up when it has no trustworthy answer: `BLOCK` when
    /// failing closed, `ALLOW` when failing open; an empty record id; exactly one
    /// `sentinel.transport` check carrying `what_went_wrong`.
    pub fn fallback(fail_mode: FailMode, what_went_wrong: impl Into<String>) -> GuardDecision {
        let what_went_wrong = what_went_wrong.into();
        let (verdict, outcome, mode) = match fail_mode {
            FailMode::Closed => (Verdict::Block, Outcome::Fail, "closed"),
            FailMode::Open => (Verdict::Allow, Outcome::Inconclusive, "open"),
        };
        GuardDecision {
            verdict,
            record_id: String::new(),
            reason: Some(format!(
                "sentinel sidecar unreachable ({what_went_wrong}); failing {mode}"
            )),
            checks: vec![CheckResult {
                check: TRANSPORT_CHECK.to_owned(),
                outcome,
                verdict,
                reason: Some(what_went_wrong),
                details: None,
                latency_ms: None,
            }],
            escalation_id: None,
            fallback: true,
        }
    }

    /// A `BLOCK` the client decided without the sidecar's say, whatever the fail mode,
    /// because asking could not settle the call: the request could not be described, a
    /// human did not answer in time, a signed record did not match. Shaped like a
    /// fallback (empty record id, one `sentinel.transport` check) so callers treat it the
    /// same, but its reason says what happened instead of "unreachable".
    pub(crate) fn refused(why: impl Into<String>) -> GuardDecision {
        let why = why.into();
        let mut decision = GuardDecision::fallback(FailMode::Closed, why.clone());
        decision.reason = Some(format!("{why}; failing closed"));
        decision
    }

    /// Builds a decision from parts, for tests and for decisions derived from other
    /// answers (an approved escalation, for instance). `record_id` must not be empty.
    pub fn new(verdict: Verdict, record_id: impl Into<String>, checks: Vec<CheckResult>) -> GuardDecision {
        GuardDecision {
            verdict,
            record_id: record_id.into(),
            checks,
            reason: None,
            escalation_id: None,
            fallback: false,
        }
    }

    /// Sets the reason.
    pub fn with_reason(mut self, reason: impl Into<String>) -> GuardDecision {
        self.reason = Some(reason.into());
        self
    }

    /// Sets the escalation id.
    pub fn with_escalation_id(mut self, escalation_id: impl Into<String>) -> GuardDecision {
        self.escalation_id = Some(escalation_id.into());
        self
    }

    /// `true` only for `ALLOW`: a real one from the sidecar, or a fail-open fallback
    /// (check [`is_fallback`](Self::is_fallback) to tell them apart).
    pub fn allowed(&self) -> bool {
        self.verdict == Verdict::Allow
    }

    /// `true` when the client made this decision up because it could not get a trustworthy
    /// answer (empty record id, one `sentinel.transport` check).
    pub fn is_fallback(&self) -> bool {
        self.fallback
    }

    /// The verdict.
    pub fn verdict(&self) -> Verdict {
        self.verdict
    }

    /// The id of the signed provenance record; empty for a fallback.
    pub fn record_id(&self) -> &str {
        &self.record_id
    }

    /// The checks the sidecar ran, or the single `sentinel.transport` check of a fallback.
    pub fn checks(&self) -> &[CheckResult] {
        &self.checks
    }

    /// Why, when the sidecar or the fallback says.
    pub fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }

    /// The escalation to wait on, for `ESCALATE`.
    pub fn escalation_id(&self) -> Option<&str> {
        self.escalation_id.as_deref()
    }
}

/// Why a response body is not a well-formed decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionError(String);

impl fmt::Display for DecisionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DecisionError {}

fn parse_check(value: Value) -> Result<CheckResult, DecisionError> {
    let Value::Object(mut object) = value else {
        return Err(DecisionError(format!(
            "expected an object, got {}",
            kind_of(&value)
        )));
    };
    let check = match object.remove("check") {
        Some(Value::String(name)) => name,
        Some(other) => return Err(wrong_type("check", "a string", &other)),
        None => return Err(DecisionError("`check` is missing".into())),
    };
    let outcome = match object.remove("outcome") {
        Some(Value::String(text)) => {
            Outcome::from_wire(&text).ok_or_else(|| DecisionError(format!("unknown outcome {text:?}")))?
        }
        Some(other) => return Err(wrong_type("outcome", "a string", &other)),
        None => return Err(DecisionError("`outcome` is missing".into())),
    };
    let verdict = take_verdict(&mut object, "verdict")?;
    let reason = take_optional_string(&mut object, "reason")?;
    let details = match object.remove("details") {
        Some(Value::Object(details)) => Some(details),
        Some(other) => return Err(wrong_type("details", "an object", &other)),
        None => None,
    };
    let latency_ms = match object.remove("latencyMs") {
        Some(Value::Number(n)) => n.as_f64(),
        Some(other) => return Err(wrong_type("latencyMs", "a number", &other)),
        None => None,
    };
    Ok(CheckResult {
        check,
        outcome,
        verdict,
        reason,
        details,
        latency_ms,
    })
}

fn take_verdict(object: &mut Map<String, Value>, key: &str) -> Result<Verdict, DecisionError> {
    match object.remove(key) {
        Some(Value::String(text)) => {
            Verdict::from_wire(&text).ok_or_else(|| DecisionError(format!("unknown verdict {text:?}")))
        }
        Some(other) => Err(wrong_type(key, "a string", &other)),
        None => Err(DecisionError(format!("`{key}` is missing"))),
    }
}

fn take_optional_string(object: &mut Map<String, Value>, key: &str) -> Result<Option<String>, DecisionError> {
    match object.remove(key) {
        Some(Value::String(text)) => Ok(Some(text)),
        Some(other) => Err(wrong_type(key, "a string", &other)),
        None => Ok(None),
    }
}

fn wrong_type(key: &str, expected: &str, got: &Value) -> DecisionError {
    DecisionError(format!("`{key}` must be {expected}, got {}", kind_of(got)))
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The strict decision parser: builds the decision directly, without a
/// `Value` tree for the decision and check objects.
mod typed {
    use std::borrow::Cow;
    use std::fmt;

    use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
    use serde_json::Value;

    use super::{kind_of, wrong_type, CheckResult, DecisionError, GuardDecision, Outcome, Verdict};
    use crate::strict_json::StrictValue;

    pub(super) fn from_json(body: &[u8]) -> Result<GuardDecision, DecisionError> {
        // One UTF-8 check of the whole body instead of one per string.
        let text = std::str::from_utf8(body)
            .map_err(|e| DecisionError(format!("not valid JSON: invalid UTF-8: {e}")))?;
        let mut de = serde_json::Deserializer::from_str(text);
        let parsed = DecisionSeed
            .deserialize(&mut de)
            .and_then(|decision| de.end().map(|()| decision));
        match parsed {
            Ok(decision) => decision,
            Err(e) => Err(DecisionError(format!("not valid JSON: {e}"))),
        }
    }

    /// A member's value: a wire token kept without allocating, or any other value.
    enum Member {
        Token(&'static str),
        Value(Value),
    }

    const TOKENS: [&str; 6] = ["ALLOW", "BLOCK", "ESCALATE", "pass", "fail", "inconclusive"];

    struct MemberSeed;

    impl<'de> DeserializeSeed<'de> for MemberSeed {
        type Value = Member;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Member, D::Error> {
            d.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for MemberSeed {
        type Value = Member;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON value")
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Member, E> {
            StrictValue.visit_bool(v).map(Member::Value)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Member, E> {
            StrictValue.visit_i64(v).map(Member::Value)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Member, E> {
            StrictValue.visit_u64(v).map(Member::Value)
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Member, E> {
            StrictValue.visit_f64(v).map(Member::Value)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Member, E> {
            Ok(match TOKENS.iter().find(|t| **t == v) {
                Some(token) => Member::Token(token),
                None => Member::Value(Value::String(v.to_owned())),
            })
        }
        fn visit_unit<E: de::Error>(self) -> Result<Member, E> {
            Ok(Member::Value(Value::Null))
        }
        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Member, A::Error> {
            StrictValue.visit_seq(seq).map(Member::Value)
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Member, A::Error> {
            StrictValue.visit_map(map).map(Member::Value)
        }
    }

    /// An object key, borrowed from the input when it has no escapes.
    struct KeySeed;

    impl<'de> DeserializeSeed<'de> for KeySeed {
        type Value = Cow<'de, str>;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Cow<'de, str>, D::Error> {
            d.deserialize_str(self)
        }
    }

    impl<'de> Visitor<'de> for KeySeed {
        type Value = Cow<'de, str>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a key")
        }
        fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
            Ok(Cow::Borrowed(v))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Cow::Owned(v.to_owned()))
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
            Ok(Cow::Owned(v))
        }
    }

    fn duplicate<E: de::Error>(key: &str) -> E {
        E::custom(format_args!("duplicate key `{key}`"))
    }

    /// Reads an unknown member's value (checking it for duplicate keys) and remembers its key.
    fn skip_unknown<'de, A: MapAccess<'de>>(
        map: &mut A,
        key: Cow<'de, str>,
        seen: &mut Vec<Cow<'de, str>>,
    ) -> Result<(), A::Error> {
        if seen.contains(&key) {
            return Err(duplicate(&key));
        }
        map.next_value_seed(StrictValue)?;
        seen.push(key);
        Ok(())
    }

    fn put<'de, A: MapAccess<'de>>(
        map: &mut A,
        slot: &mut Option<Member>,
        key: &str,
    ) -> Result<(), A::Error> {
        if slot.is_some() {
            return Err(duplicate(key));
        }
        *slot = Some(map.next_value_seed(MemberSeed)?);
        Ok(())
    }

    fn verdict(member: Option<Member>, key: &str) -> Result<Verdict, DecisionError> {
        match member {
            Some(Member::Token(token)) => {
                Verdict::from_wire(token).ok_or_else(|| DecisionError(format!("unknown verdict {token:?}")))
            }
            Some(Member::Value(Value::String(text))) => {
                Err(DecisionError(format!("unknown verdict {text:?}")))
            }
            Some(Member::Value(other)) => Err(wrong_type(key, "a string", &other)),
            None => Err(DecisionError(format!("`{key}` is missing"))),
        }
    }

    fn string(member: Option<Member>, key: &str) -> Result<Option<String>, DecisionError> {
        match member {
            Some(Member::Token(token)) => Ok(Some(token.to_owned())),
            Some(Member::Value(Value::String(text))) => Ok(Some(text)),
            Some(Member::Value(other)) => Err(wrong_type(key, "a string", &other)),
            None => Ok(None),
        }
    }

    struct DecisionSeed;

    impl<'de> DeserializeSeed<'de> for DecisionSeed {
        type Value = Result<GuardDecision, DecisionError>;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }
    }

    /// Anything that is not an object is consumed (so the JSON is still checked) and refused.
    macro_rules! not_an_object {
        ($what:literal) => {
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(Err(DecisionError(format!(
                    concat!("expected ", $what, ", got {}"),
                    kind_of(&Value::Bool(v))
                ))))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(Err(DecisionError(format!(
                    concat!("expected ", $what, ", got {}"),
                    "a number"
                ))))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(Err(DecisionError(format!(
                    concat!("expected ", $what, ", got {}"),
                    "a number"
                ))))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                StrictValue.visit_f64::<E>(v)?;
                Ok(Err(DecisionError(format!(
                    concat!("expected ", $what, ", got {}"),
                    "a number"
                ))))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(Err(DecisionError(format!(
                    concat!("expected ", $what, ", got {}"),
                    "a string"
                ))))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Err(DecisionError(format!(
                    concat!("expected ", $what, ", got {}"),
                    "null"
                ))))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                StrictValue.visit_seq(seq)?;
                Ok(Err(DecisionError(format!(
                    concat!("expected ", $what, ", got {}"),
                    "an array"
                ))))
            }
        };
    }

    impl<'de> Visitor<'de> for DecisionSeed {
        type Value = Result<GuardDecision, DecisionError>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a decision")
        }
        not_an_object!("a JSON object");
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let (mut verdict_m, mut record_id, mut reason, mut escalation_id) = (None, None, None, None);
            let mut checks: Option<Result<Result<Vec<CheckResult>, DecisionError>, Value>> = None;
            let mut seen = Vec::new();
            while let Some(key) = map.next_key_seed(KeySeed)? {
                match &*key {
                    "verdict" => put(&mut map, &mut verdict_m, &key)?,
                    "recordId" => put(&mut map, &mut record_id, &key)?,
                    "reason" => put(&mut map, &mut reason, &key)?,
                    "escalationId" => put(&mut map, &mut escalation_id, &key)?,
                    "checks" => {
                        if checks.is_some() {
                            return Err(duplicate(&key));
                        }
                        checks = Some(map.next_value_seed(ChecksSeed)?);
                    }
                    _ => skip_unknown(&mut map, key, &mut seen)?,
                }
            }
            Ok((|| {
                let verdict = verdict(verdict_m, "verdict")?;
                let record_id = match record_id {
                    Some(Member::Value(Value::String(id))) if !id.is_empty() => id,
                    Some(Member::Value(Value::String(_))) => {
                        return Err(DecisionError("`recordId` is empty".into()))
                    }
                    Some(Member::Token(t)) => t.to_owned(),
                    Some(Member::Value(other)) => return Err(wrong_type("recordId", "a string", &other)),
                    None => return Err(DecisionError("`recordId` is missing".into())),
                };
                let checks = match checks {
                    Some(Ok(checks)) => checks?,
                    Some(Err(other)) => return Err(wrong_type("checks", "an array", &other)),
                    None => return Err(DecisionError("`checks` is missing".into())),
                };
                let reason = string(reason, "reason")?;
                let escalation_id = string(escalation_id, "escalationId")?;
                GuardDecision::from_parts(verdict, record_id, checks, reason, escalation_id)
            })())
        }
    }

    /// `checks`: `Ok(list or the first bad check)` for an array, `Err(value)` otherwise.
    struct ChecksSeed;

    impl<'de> DeserializeSeed<'de> for ChecksSeed {
        type Value = Result<Result<Vec<CheckResult>, DecisionError>, Value>;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for ChecksSeed {
        type Value = Result<Result<Vec<CheckResult>, DecisionError>, Value>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("checks")
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
            Ok(Err(Value::Bool(v)))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Err(StrictValue.visit_i64(v)?))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Err(StrictValue.visit_u64(v)?))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok(Err(StrictValue.visit_f64(v)?))
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok(Err(Value::String(String::new())))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Err(Value::Null))
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            Ok(Err(StrictValue.visit_map(map)?))
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut checks = Vec::with_capacity(8);
            let mut first_error = None;
            let mut index = 0;
            while let Some(check) = seq.next_element_seed(CheckSeed)? {
                match check {
                    Ok(check) => checks.push(check),
                    Err(e) if first_error.is_none() => {
                        first_error = Some(DecisionError(format!("checks[{index}]: {}", e.0)))
                    }
                    Err(_) => {}
                }
                index += 1;
            }
            Ok(Ok(match first_error {
                Some(e) => Err(e),
                None => Ok(checks),
            }))
        }
    }

    struct CheckSeed;

    impl<'de> DeserializeSeed<'de> for CheckSeed {
        type Value = Result<CheckResult, DecisionError>;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for CheckSeed {
        type Value = Result<CheckResult, DecisionError>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a check")
        }
        not_an_object!("an object");
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let (mut check, mut outcome, mut verdict_m, mut reason, mut details, mut latency) =
                (None, None, None, None, None, None);
            let mut seen = Vec::new();
            while let Some(key) = map.next_key_seed(KeySeed)? {
                match &*key {
                    "check" => put(&mut map, &mut check, &key)?,
                    "outcome" => put(&mut map, &mut outcome, &key)?,
                    "verdict" => put(&mut map, &mut verdict_m, &key)?,
                    "reason" => put(&mut map, &mut reason, &key)?,
                    "details" => put(&mut map, &mut details, &key)?,
                    "latencyMs" => put(&mut map, &mut latency, &key)?,
                    _ => skip_unknown(&mut map, key, &mut seen)?,
                }
            }
            Ok((|| {
                let check =
                    string(check, "check")?.ok_or_else(|| DecisionError("`check` is missing".into()))?;
                let outcome = match outcome {
                    Some(Member::Token(t)) => Outcome::from_wire(t)
                        .ok_or_else(|| DecisionError(format!("unknown outcome {t:?}")))?,
                    Some(Member::Value(Value::String(text))) => {
                        return Err(DecisionError(format!("unknown outcome {text:?}")))
                    }
                    Some(Member::Value(other)) => return Err(wrong_type("outcome", "a string", &other)),
                    None => return Err(DecisionError("`outcome` is missing".into())),
                };
                let verdict = verdict(verdict_m, "verdict")?;
                let reason = string(reason, "reason")?;
                let details = match details {
                    Some(Member::Value(Value::Object(details))) => Some(details),
                    Some(Member::Value(other)) => return Err(wrong_type("details", "an object", &other)),
                    Some(Member::Token(_)) => {
                        return Err(wrong_type("details", "an object", &Value::String(String::new())))
                    }
                    None => None,
                };
                let latency_ms = match latency {
                    Some(Member::Value(Value::Number(n))) => n.as_f64(),
                    Some(Member::Value(other)) => return Err(wrong_type("latencyMs", "a number", &other)),
                    Some(Member::Token(_)) => {
                        return Err(wrong_type("latencyMs", "a number", &Value::String(String::new())))
                    }
                    None => None,
                };
                Ok(CheckResult {
                    check,
                    outcome,
                    verdict,
                    reason,
                    details,
                    latency_ms,
                })
            })())
        }
    }
}
