//! JSON parsing that refuses what `serde_json::from_slice::<Value>` quietly accepts.
//!
//! A decision is a security answer, so an object with a repeated key (which of the two
//! verdicts did the sidecar mean?) is refused rather than resolved last-one-wins. Trailing
//! bytes, invalid UTF-8, a byte-order mark and nesting deeper than serde_json's recursion
//! limit are refused by serde_json itself.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Parses `bytes` as exactly one JSON value with no duplicate keys at any depth.
pub(crate) fn parse(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = StrictValue.deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(value)
}

/// The key serde_json's `arbitrary_precision` feature wraps numbers in.
const ARBITRARY_PRECISION_TOKEN: &str = "$serde_json::private::Number";

pub(crate) struct StrictValue;

impl<'de> DeserializeSeed<'de> for StrictValue {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrictValue {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("number out of range"))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(item) = seq.next_element_seed(StrictValue)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.is_empty() && key == ARBITRARY_PRECISION_TOKEN {
                // Some crate in the build enabled serde_json's `arbitrary_precision`: numbers
                // then arrive as this one-member map holding the number's text.
                let text: String = map.next_value()?;
                return finite_number(&text).map(Value::Number);
            }
            if object.contains_key(&key) {
                return Err(de::Error::custom(format_args!("duplicate key `{key}`")));
            }
            let value = map.next_value_seed(StrictValue)?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

/// A number's text (under `arbitrary_precision`), refused where serde_json without that
/// feature refuses it: when its value is beyond `f64` (`1e400`). What is accepted must not
/// depend on a feature some other crate turned on.
fn finite_number<E: de::Error>(text: &str) -> Result<Number, E> {
    // `parse`, as serde_json's own `Value` reads this text (no whitespace around it).
    let number: Number = text.parse().map_err(E::custom)?;
    // Under the feature `parse` keeps any text, and `as_f64` is `None` beyond a double.
    if number.as_f64().is_some() {
        Ok(number)
    } else {
        Err(E::custom("number out of range"))
    }
}

/// Checks `text`, exactly one JSON value, as [`parse`] would (no duplicate keys at any
/// depth, at most `room` nested arrays and objects, numbers in range, valid strings) without
/// building it, and says what kind of value it is (`"an object"`, `"a string"`, …).
///
/// Keys are compared in place: the first [`INLINE_KEYS`] keys of an object are kept on the
/// stack, borrowed from `text`; only an object with more keys, or a key with escapes, allocates.
pub(crate) fn check(text: &str, room: usize) -> Result<&'static str, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let kind = Check { room }.deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(kind)
}

/// `error`'s message without its position (which is in the text given to [`check`], not in
/// the body around it).
pub(crate) fn message(error: &serde_json::Error) -> String {
    let text = error.to_string();
    let position = format!(" at line {} column {}", error.line(), error.column());
    match text.strip_suffix(&position) {
        Some(message) => message.to_owned(),
        None => text,
    }
}

/// How many keys of one object [`check`] compares without allocating.
const INLINE_KEYS: usize = 16;

struct Check {
    /// How many more arrays and objects may open.
    room: usize,
}

impl Check {
    fn enter<E: de::Error>(&self) -> Result<Check, E> {
        match self.room.checked_sub(1) {
            Some(room) => Ok(Check { room }),
            None => Err(E::custom("recursion limit exceeded")),
        }
    }
}

impl<'de> DeserializeSeed<'de> for Check {
    type Value = &'static str;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<&'static str, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Check {
    type Value = &'static str;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<&'static str, E> {
        Ok("a boolean")
    }

    fn visit_i64<E>(self, _: i64) -> Result<&'static str, E> {
        Ok("a number")
    }

    fn visit_u64<E>(self, _: u64) -> Result<&'static str, E> {
        Ok("a number")
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<&'static str, E> {
        StrictValue.visit_f64::<E>(v).map(|_| "a number")
    }

    fn visit_str<E>(self, _: &str) -> Result<&'static str, E> {
        Ok("a string")
    }

    fn visit_unit<E>(self) -> Result<&'static str, E> {
        Ok("null")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<&'static str, A::Error> {
        let inner = self.enter()?;
        while seq.next_element_seed(Check { room: inner.room })?.is_some() {}
        Ok("an array")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<&'static str, A::Error> {
        let mut next = map.next_key_seed(Key)?;
        // With serde_json's `arbitrary_precision` (which another crate may turn on), a
        // number arrives as a map with one special key: a number, not a nesting level.
        if next.as_deref() == Some(ARBITRARY_PRECISION_TOKEN) {
            let text: String = map.next_value()?;
            finite_number::<A::Error>(&text)?;
            return Ok("a number");
        }
        let inner = self.enter()?;
        let mut inline: [Cow<'de, str>; INLINE_KEYS] = [const { Cow::Borrowed("") }; INLINE_KEYS];
        let mut len = 0;
        let mut many: Option<BTreeSet<Cow<'de, str>>> = None;
        while let Some(key) = next.take() {
            let repeated = match &mut many {
                Some(many) => !many.insert(key.clone()),
                None => inline[..len].contains(&key),
            };
            if repeated {
                return Err(de::Error::custom(format_args!("duplicate key `{key}`")));
            }
            if many.is_none() {
                if len < INLINE_KEYS {
                    inline[len] = key;
                } else {
                    let mut set: BTreeSet<_> = inline.iter().cloned().collect();
                    set.insert(key);
                    many = Some(set);
                }
            }
            len += 1;
            map.next_value_seed(Check { room: inner.room })?;
            next = map.next_key_seed(Key)?;
        }
        Ok("an object")
    }
}

/// An object key, borrowed from the input when it has no escapes.
pub(crate) struct Key;

impl<'de> DeserializeSeed<'de> for Key {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Cow<'de, str>, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(v.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn refuses_duplicate_keys_at_any_depth() {
        assert!(parse(br#"{"a":1,"a":2}"#).is_err());
        assert!(parse(br#"{"a":{"b":1,"b":1}}"#).is_err());
        assert!(parse(br#"[{"x":[{"k":1,"k":2}]}]"#).is_err());
        assert!(parse(br#"{"a":{"b":1},"c":{"b":1}}"#).is_ok());
    }

    #[test]
    fn refuses_trailing_bytes_bom_and_deep_nesting() {
        assert!(parse(br#"{"a":1} x"#).is_err());
        assert!(parse(b"\xEF\xBB\xBF{}").is_err());
        let deep = "[".repeat(100_000);
        assert!(parse(deep.as_bytes()).is_err());
        assert!(parse(br#"{"a":1}  "#).is_ok());
    }

    #[test]
    fn serde_jsons_number_token_is_a_number_only_when_in_range() {
        // What serde_json's `arbitrary_precision` turns a number into, written out: read as
        // the number with or without the feature (CI runs these tests both ways), and
        // refused like `1e400` when the text is beyond a double.
        use super::check;
        let token = |text: &str| format!(r#"{{"$serde_json::private::Number":"{text}"}}"#);
        assert_eq!(parse(token("5").as_bytes()).unwrap(), serde_json::json!(5));
        assert_eq!(parse(token("-0.5").as_bytes()).unwrap(), serde_json::json!(-0.5));
        assert_eq!(check(&token("5"), 0).unwrap(), "a number");
        for text in ["1e400", "-1e400"] {
            assert!(parse(token(text).as_bytes()).is_err(), "{text}");
            assert!(check(&token(text), 0).is_err(), "{text}");
        }
    }

    #[test]
    fn check_agrees_with_parse() {
        use super::check;
        for text in [
            r#"{"a":1,"a":2}"#,
            r#"{"a":{"b":1,"b":1}}"#,
            r#"[{"x":[{"k":1,"k":2}]}]"#,
            r#"{"a\u0062":1,"ab":2}"#,
            r#"{"a":1e400}"#,
            r#"{"a":"\ud800"}"#,
            r#"{"a":1} x"#,
        ] {
            assert!(check(text, 127).is_err(), "{text}");
            assert!(parse(text.as_bytes()).is_err(), "{text}");
        }
        assert_eq!(check(r#"{"a":{"b":1},"c":{"b":1}}"#, 127).unwrap(), "an object");
        assert_eq!(check(r#" [1, "x"] "#, 127).unwrap(), "an array");
        assert_eq!(check("1.5", 0).unwrap(), "a number");
        // More keys than fit on the stack, a repeat after the switch to a set.
        let many: Vec<String> = (0..40).map(|i| format!("\"k{i}\":{i}")).collect();
        assert!(check(&format!("{{{}}}", many.join(",")), 127).is_ok());
        assert!(check(&format!("{{{},\"k3\":0}}", many.join(",")), 127).is_err());
        assert!(check(&format!("{{{},\"k39\":0}}", many.join(",")), 127).is_err());
        // `room` counts the arrays and objects that may open.
        assert!(check("[[[]]]", 3).is_ok());
        assert!(check("[[[]]]", 2).is_err());
        assert!(check(&"[".repeat(100_000), 127).is_err());
    }
}
