//! The one decision parser: strict, single pass, building the decision and its checks
//! directly while reading, without a `Value` tree for them. A batch answer's decisions go
//! through it too, one by one.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;

use serde_json::value::RawValue;

use super::{
    kind_of, wrong_kind, wrong_type, CheckResult, DecisionError, Details, GuardDecision, Outcome, Verdict,
    DETAILS_ROOM,
};
use crate::strict_json::{self, Key, StrictValue};

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

/// The decisions of a batch answer, `{"decisions": [...]}`, each parsed as
/// [`from_json`] parses a single one. The whole body is one JSON document: a syntax
/// error or a duplicate key anywhere refuses it all; a decision that is well-formed JSON
/// but not a valid decision is refused on its own.
pub(crate) fn batch_from_json(
    body: &[u8],
) -> Result<Vec<Result<GuardDecision, DecisionError>>, DecisionError> {
    let text = std::str::from_utf8(body)
        .map_err(|e| DecisionError(format!("not valid JSON: invalid UTF-8: {e}")))?;
    let mut de = serde_json::Deserializer::from_str(text);
    let parsed = BatchSeed
        .deserialize(&mut de)
        .and_then(|batch| de.end().map(|()| batch));
    match parsed {
        Ok(batch) => batch,
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

fn put<'de, A: MapAccess<'de>>(map: &mut A, slot: &mut Option<Member>, key: &str) -> Result<(), A::Error> {
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
        Some(Member::Value(Value::String(text))) => Err(DecisionError(format!("unknown verdict {text:?}"))),
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
        while let Some(key) = map.next_key_seed(Key)? {
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

/// A batch answer: its `decisions`, or why there are none.
struct BatchSeed;

impl<'de> DeserializeSeed<'de> for BatchSeed {
    type Value = Result<Vec<Result<GuardDecision, DecisionError>>, DecisionError>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for BatchSeed {
    type Value = Result<Vec<Result<GuardDecision, DecisionError>>, DecisionError>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a batch answer")
    }
    not_an_object!("an object");
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut decisions = None;
        let mut seen = Vec::new();
        while let Some(key) = map.next_key_seed(Key)? {
            if key == "decisions" {
                if decisions.is_some() {
                    return Err(duplicate(&key));
                }
                decisions = Some(map.next_value_seed(DecisionsSeed)?);
            } else {
                skip_unknown(&mut map, key, &mut seen)?;
            }
        }
        Ok(decisions.ok_or_else(|| DecisionError("`decisions` is missing".into())))
    }
}

/// `decisions`: one parse per item. Anything but an array is a JSON type error, which
/// refuses the whole answer.
struct DecisionsSeed;

impl<'de> DeserializeSeed<'de> for DecisionsSeed {
    type Value = Vec<Result<GuardDecision, DecisionError>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for DecisionsSeed {
    type Value = Vec<Result<GuardDecision, DecisionError>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of decisions")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut decisions = Vec::new();
        while let Some(decision) = seq.next_element_seed(DecisionSeed)? {
            decisions.push(decision);
        }
        Ok(decisions)
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
        while let Some(key) = map.next_key_seed(Key)? {
            match &*key {
                "check" => put(&mut map, &mut check, &key)?,
                "outcome" => put(&mut map, &mut outcome, &key)?,
                "verdict" => put(&mut map, &mut verdict_m, &key)?,
                "reason" => put(&mut map, &mut reason, &key)?,
                "details" => {
                    if details.is_some() {
                        return Err(duplicate(&key));
                    }
                    details = Some(map.next_value_seed(DetailsSeed)?);
                }
                "latencyMs" => put(&mut map, &mut latency, &key)?,
                _ => skip_unknown(&mut map, key, &mut seen)?,
            }
        }
        Ok((|| {
            let check = string(check, "check")?.ok_or_else(|| DecisionError("`check` is missing".into()))?;
            let outcome = match outcome {
                Some(Member::Token(t)) => {
                    Outcome::from_wire(t).ok_or_else(|| DecisionError(format!("unknown outcome {t:?}")))?
                }
                Some(Member::Value(Value::String(text))) => {
                    return Err(DecisionError(format!("unknown outcome {text:?}")))
                }
                Some(Member::Value(other)) => return Err(wrong_type("outcome", "a string", &other)),
                None => return Err(DecisionError("`outcome` is missing".into())),
            };
            let verdict = verdict(verdict_m, "verdict")?;
            let reason = string(reason, "reason")?;
            let details = match details {
                Some(Ok(details)) => Some(details),
                Some(Err(kind)) => return Err(wrong_kind("details", "an object", kind)),
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

/// `details`: `Ok` for an object, kept as its text; `Err(its kind)` for anything else. The
/// text is borrowed from the body while it is checked, then copied once.
struct DetailsSeed;

impl<'de> DeserializeSeed<'de> for DetailsSeed {
    type Value = Result<Details, &'static str>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        // serde_json only checks the syntax of a raw value: check it as strictly as the rest.
        let raw = <&'de RawValue>::deserialize(d)?;
        match strict_json::check(raw.get(), DETAILS_ROOM) {
            Ok("an object") => Ok(Ok(Details(raw.to_owned()))),
            Ok(kind) => Ok(Err(kind)),
            Err(e) => Err(de::Error::custom(strict_json::message(&e))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{batch_from_json, from_json};

    #[test]
    fn a_batch_answers_decisions_are_read_by_the_single_decision_rules() {
        let body = br#"{"other":[1],"decisions":[
            {"verdict":"ALLOW","recordId":"rec_1","checks":[]},
            {"verdict":"ALLOW","recordId":"","checks":[]},
            {"verdict":"ESCALATE","recordId":"rec_3","checks":[]},
            {"verdict":"ESCALATE","recordId":"rec_4","escalationId":"esc_4","checks":[]},
            "ALLOW"]}"#;
        let items = batch_from_json(body).unwrap();
        assert_eq!(items.len(), 5);
        assert_eq!(items[0].as_ref().unwrap().record_id(), Some("rec_1"));
        assert_eq!(items[1].as_ref().unwrap_err().to_string(), "`recordId` is empty");
        assert_eq!(
            items[2].as_ref().unwrap_err().to_string(),
            "ESCALATE without an `escalationId`"
        );
        assert_eq!(items[3].as_ref().unwrap().escalation_id(), Some("esc_4"));
        assert_eq!(
            items[4].as_ref().unwrap_err().to_string(),
            "expected a JSON object, got a string"
        );
    }

    #[test]
    fn a_batch_answer_is_refused_whole_when_its_json_or_its_shape_is_wrong() {
        for (body, error) in [
            (&br#"{"decisions":[]"#[..], "not valid JSON: "),
            (
                br#"{"decisions":[],"decisions":[]}"#,
                "not valid JSON: duplicate key",
            ),
            (
                br#"{"decisions":[{"verdict":"ALLOW","verdict":"ALLOW"}]}"#,
                "not valid JSON: duplicate key",
            ),
            (
                br#"{"x":{"a":1,"a":2},"decisions":[]}"#,
                "not valid JSON: duplicate key",
            ),
            (br#"[]"#, "expected an object, got an array"),
            (
                br#"{"decisions":{}}"#,
                "not valid JSON: invalid type: map, expected an array of decisions",
            ),
            (
                br#"{"decisions":"ALLOW"}"#,
                "not valid JSON: invalid type: string \"ALLOW\", expected an array of decisions",
            ),
            (
                br#"{"decisions":null}"#,
                "not valid JSON: invalid type: null, expected an array of decisions",
            ),
            (
                br#"{"decisions":true}"#,
                "not valid JSON: invalid type: boolean `true`, expected an array of decisions",
            ),
            (br#"{}"#, "`decisions` is missing"),
        ] {
            let got = batch_from_json(body).unwrap_err().to_string();
            assert!(got.starts_with(error), "{}: {got}", String::from_utf8_lossy(body));
        }
        // serde_json words a number by how it holds it, and with `arbitrary_precision` (CI
        // runs these tests both ways) it holds it as a map.
        for body in [
            &br#"{"decisions":1.5}"#[..],
            br#"{"decisions":-1}"#,
            br#"{"decisions":7}"#,
        ] {
            let got = batch_from_json(body).unwrap_err().to_string();
            assert!(
                got.starts_with("not valid JSON: invalid type: ")
                    && got.contains(", expected an array of decisions at line 1"),
                "{}: {got}",
                String::from_utf8_lossy(body)
            );
        }
    }

    /// A decision whose one check has `member` (such as `"details":{…}`).
    fn with(member: &str) -> String {
        format!(
            r#"{{"verdict":"ALLOW","recordId":"r","checks":[{{"check":"c","outcome":"pass","verdict":"ALLOW",{member}}}]}}"#
        )
    }

    #[test]
    fn details_are_read_as_strictly_as_the_rest_of_the_body() {
        let details = from_json(with(r#""details": { "a" : [1, {"b": null}] }"#).as_bytes()).unwrap();
        let details = details.checks()[0].details.as_ref().unwrap();
        assert_eq!(details.as_str(), r#"{ "a" : [1, {"b": null}] }"#);
        for bad in [
            r#"{"a":1,"a":2}"#,
            r#"{"a":[{"b":1,"b":2}]}"#,
            r#"{"a\u0062":1,"ab":2}"#,
            r#"{"a":1e400}"#,
            r#"{"a":"\ud800"}"#,
        ] {
            let error = from_json(with(&format!(r#""details":{bad}"#)).as_bytes()).unwrap_err();
            assert!(
                error.to_string().starts_with("not valid JSON: "),
                "{bad}: {error}"
            );
        }
        let error = from_json(with(r#""details":[]"#).as_bytes()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "checks[0]: `details` must be an object, got an array"
        );
    }

    #[test]
    fn details_with_an_empty_key_or_a_prefix_key_are_not_duplicates() {
        // Keys are compared in a stack array whose unused slots hold "": an empty key, or one
        // that is a prefix of another, must not be mistaken for a repeat (a spurious BLOCK).
        let many: Vec<String> = (0..20).map(|i| format!(r#""k{i}":{i}"#)).collect();
        let many = many.join(",");
        for (text, keys) in [
            (r#"{"":1}"#.to_owned(), 1),
            (r#"{"":1,"a":2}"#.to_owned(), 2),
            (r#"{"a":1,"":2}"#.to_owned(), 2),
            (r#"{"a":1,"ab":2,"":3,"abc":{"":4,"a":5}}"#.to_owned(), 4),
            (r#"{"ab":1,"a":2}"#.to_owned(), 2),
            (format!(r#"{{{many},"":0,"k":1}}"#), 22),
            (format!(r#"{{"":0,{many}}}"#), 21),
        ] {
            let decision = from_json(with(&format!(r#""details":{text}"#)).as_bytes())
                .unwrap_or_else(|e| panic!("{text}: {e}"));
            let details = decision.checks()[0].details.as_ref().unwrap();
            assert_eq!(details.to_map().len(), keys, "{text}");
        }
        // A repeated empty key is still a duplicate, before and after the switch to a set.
        for text in [r#"{"":1,"":2}"#.to_owned(), format!(r#"{{"":0,{many},"":1}}"#)] {
            let error = from_json(with(&format!(r#""details":{text}"#)).as_bytes()).unwrap_err();
            assert!(error.to_string().contains("duplicate key"), "{text}: {error}");
        }
    }

    #[test]
    fn details_imitating_serde_jsons_number_token_are_refused_or_read_back() {
        // With `arbitrary_precision` on (CI runs these tests both ways), serde_json reads
        // this one-key object as a number: `Details::to_map` must read back whatever the
        // strict check let through, and never panic.
        for text in ["5", " 5", "1e400", "abc", "-0.5"] {
            let member = format!(r#""details":{{"a":{{"$serde_json::private::Number":"{text}"}}}}"#);
            if let Ok(decision) = from_json(with(&member).as_bytes()) {
                let details = decision.checks()[0].details.as_ref().unwrap();
                assert_eq!(details.to_map().len(), 1, "{text}");
            }
        }
    }

    #[test]
    fn details_keep_the_sidecars_text_and_serialize_as_the_object() {
        let decision = from_json(with(r#""details": { "b" : 1, "a" : [2] }"#).as_bytes()).unwrap();
        let details = decision.checks()[0].details.as_ref().unwrap();
        assert_eq!(details.as_str(), r#"{ "b" : 1, "a" : [2] }"#);
        // As the object, not as the sidecar's spacing (nor serde_json's raw-value wrapper).
        let written = serde_json::to_string(details).unwrap();
        assert_eq!(written, serde_json::to_string(&details.to_map()).unwrap());
        assert!(!written.contains(' '), "{written}");
    }

    #[test]
    fn details_nest_as_deep_as_any_other_member() {
        let nested = |n: usize| format!(r#"{{"a":{}{}}}"#, "[".repeat(n), "]".repeat(n));
        for member in ["details", "unknown"] {
            assert!(
                from_json(with(&format!(r#""{member}":{}"#, nested(123))).as_bytes()).is_ok(),
                "{member}"
            );
            assert!(
                from_json(with(&format!(r#""{member}":{}"#, nested(124))).as_bytes()).is_err(),
                "{member}"
            );
        }
    }
}
