//! The client's lines, read strictly: one JSON value, no repeated key at any depth.
//!
//! What the gate forwards must mean to the server what it meant to the gate. A line serde_json
//! refuses (a lone surrogate, nesting beyond its limit, `1e400`) may still be accepted by a
//! server's `JSON.parse`; and a repeated key is read last-one-wins by some readers and
//! first-one-wins by others. So such a line is answered here and never forwarded. (The same
//! rule as the runtime's reader of sidecar answers, which is not public.)

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Parses `text` as exactly one JSON value with no duplicate keys at any depth.
pub fn parse(text: &str) -> Result<Value, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let value = Strict.deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(value)
}

/// The key serde_json's `arbitrary_precision` feature wraps numbers in.
const ARBITRARY_PRECISION_TOKEN: &str = "$serde_json::private::Number";

struct Strict;

impl<'de> DeserializeSeed<'de> for Strict {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict {
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
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(Strict)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.is_empty() && key == ARBITRARY_PRECISION_TOKEN {
                // Some crate in the build enabled `arbitrary_precision`: a number arrives as
                // this one-member map holding its text; beyond a double it is refused, as
                // without the feature.
                let text: String = map.next_value()?;
                let number: Number = text.parse().map_err(de::Error::custom)?;
                return match number.as_f64() {
                    Some(_) => Ok(Value::Number(number)),
                    None => Err(de::Error::custom("number out of range")),
                };
            }
            if object.contains_key(&key) {
                return Err(de::Error::custom(format_args!("duplicate key `{key}`")));
            }
            let value = map.next_value_seed(Strict)?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn refuses_what_a_lenient_reader_might_take_another_way() {
        for text in [
            r#"{"a":1,"a":2}"#,
            r#"{"p":{"x":1,"x":1}}"#,
            r#"{"s":"x \ud800"}"#,
            r#"{"n":1e400}"#,
            &format!("{}{}", "[".repeat(200), "]".repeat(200)),
            r#"{"a":1} x"#,
        ] {
            assert!(parse(text).is_err(), "{text}");
        }
        assert_eq!(parse(r#"{"a":[1,{"b":"\u00e9"}]}"#).unwrap()["a"][1]["b"], "é");
    }
}
