//! Serializing a guarded call's arguments so that what the sidecar judges is what the body
//! gets.
//!
//! `serde_json::to_value` is lenient in ways that matter for a security decision: a repeated
//! key keeps the last value (a `#[serde(flatten)]` map can override a field the body reads
//! from the struct), `NaN` and infinities become `null` (indistinguishable from `None`),
//! nesting is unbounded (a deep enough value overflows the stack and aborts the process),
//! and a panicking `Serialize` panics the caller. [`to_value`] builds the same
//! `serde_json::Value` in one pass, but refuses each of these with a reason, which the
//! guarded call turns into a denial.
//!
//! The checks ride on the one serialization pass (no second walk over the value): a depth
//! counter passed down, and the keys each object already holds.

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};

use serde::ser::{self, Serialize};
use serde_json::{Map, Number, Value};

mod compound;
mod key;

use compound::{Array, Object};

/// How deeply an argument may nest arrays and objects (an argument that is a struct holding
/// a list of structs is 3 deep). Deeper values are refused before the recursion goes
/// further, so no argument can exhaust the stack: 64 levels of serialization fit easily in
/// the smallest thread stack a Rust program gets, and a request built from them stays far
/// inside the 128 levels serde_json and most JSON readers accept.
pub(crate) const MAX_DEPTH: usize = 64;

/// Why an argument could not be described to the sidecar; the text names no value (an
/// argument may hold a secret), only keys, types and positions.
#[derive(Debug)]
pub(crate) struct Refused(String);

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

impl ser::Error for Refused {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Refused(msg.to_string())
    }
}

/// `value` as JSON, or why it cannot be sent: a key repeated in one object, a non-finite
/// float, nesting deeper than [`MAX_DEPTH`], a `Serialize` error or panic.
pub(crate) fn to_value<T: Serialize + ?Sized>(value: &T) -> Result<Value, String> {
    // A panic inside a user's `Serialize` is a failure to describe the call, like an error:
    // denied, not propagated. (Under `panic = "abort"` nothing can be caught.)
    match catch_unwind(AssertUnwindSafe(|| {
        value.serialize(Checked {
            depth: 0,
            wrappers: 0,
        })
    })) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(refused)) => Err(refused.0),
        Err(_) => Err(String::from("its `Serialize` implementation panicked")),
    }
}

/// The name of a JSON value's type, for messages that must not show the value.
pub(crate) fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The struct names serde_json serializes a number under `arbitrary_precision`, and a
/// `RawValue`, as: one field of the same name holding the JSON text.
const NUMBER_TOKEN: &str = "$serde_json::private::Number";
const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

/// The value of JSON text carried by serde_json's number or `RawValue` at `depth`: read as
/// strictly as a decision (a repeated key is refused) and within the same depth.
fn json_text_value(depth: usize, text: Option<&Value>) -> Result<Value, Refused> {
    let Some(Value::String(text)) = text else {
        return Err(Refused(String::from(
            "it holds a serde_json number or raw value without its text",
        )));
    };
    let value = crate::strict_json::parse(text.as_bytes())
        .map_err(|e| Refused(format!("it holds raw JSON that cannot be read strictly: {e}")))?;
    if depth + levels(&value) > MAX_DEPTH {
        return Err(too_deep());
    }
    Ok(value)
}

/// How many levels of arrays and objects `value` nests (a scalar: 0). Only called on values
/// the strict reader built, whose nesting it already bounds.
fn levels(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(levels).max().unwrap_or(0),
        Value::Object(members) => 1 + members.values().map(levels).max().unwrap_or(0),
        _ => 0,
    }
}

fn too_deep() -> Refused {
    Refused(format!(
        "it nests arrays and objects more than {MAX_DEPTH} levels deep"
    ))
}

fn duplicate(key: &str) -> Refused {
    Refused(format!(
        "it writes the key `{key}` twice in one object (a #[serde(flatten)] map or a custom \
         `Serialize` repeating a field): the sidecar would judge one value while the body may \
         use the other"
    ))
}

fn non_finite(value: f64) -> Refused {
    let what = if value.is_nan() {
        "NaN"
    } else {
        "an infinite number"
    };
    Refused(format!(
        "it holds {what}, which JSON cannot represent (it would be sent as null)"
    ))
}

/// serde_json's `Value` serializer with the checks; `depth` counts the arrays and objects
/// around the value being serialized.
#[derive(Clone, Copy)]
struct Checked {
    depth: usize,
    /// The `Some`s and newtypes around the value: they add no JSON level, but each is a
    /// level of recursion, so a chain of them (`struct L(Option<Box<L>>)`) is bounded too.
    wrappers: usize,
}

/// How many `Some`s and newtypes may wrap one another along one path.
pub(super) const MAX_WRAPPERS: usize = 4 * MAX_DEPTH;

impl Checked {
    /// The serializer for the members of a new array or object.
    fn nested(self) -> Result<Checked, Refused> {
        if self.depth >= MAX_DEPTH {
            return Err(too_deep());
        }
        Ok(Checked {
            depth: self.depth + 1,
            ..self
        })
    }

    /// The serializer for the value inside a `Some` or a newtype.
    fn unwrapped(self) -> Result<Checked, Refused> {
        if self.wrappers >= MAX_WRAPPERS {
            return Err(Refused(format!(
                "it wraps options and newtypes more than {MAX_WRAPPERS} levels deep"
            )));
        }
        Ok(Checked {
            wrappers: self.wrappers + 1,
            ..self
        })
    }

    fn float(value: f64) -> Result<Value, Refused> {
        Number::from_f64(value)
            .map(Value::Number)
            .ok_or_else(|| non_finite(value))
    }

    /// `{variant: value}`, the externally tagged form serde_json uses.
    fn tagged(variant: &'static str, value: Value) -> Value {
        let mut object = Map::new();
        object.insert(variant.to_owned(), value);
        Value::Object(object)
    }
}

impl ser::Serializer for Checked {
    type Ok = Value;
    type Error = Refused;
    type SerializeSeq = Array;
    type SerializeTuple = Array;
    type SerializeTupleStruct = Array;
    type SerializeTupleVariant = Array;
    type SerializeMap = Object;
    type SerializeStruct = Object;
    type SerializeStructVariant = Object;

    fn serialize_bool(self, v: bool) -> Result<Value, Refused> {
        Ok(Value::Bool(v))
    }
    fn serialize_i8(self, v: i8) -> Result<Value, Refused> {
        Ok(Value::from(v))
    }
    fn serialize_i16(self, v: i16) -> Result<Value, Refused> {
        Ok(Value::from(v))
    }
    fn serialize_i32(self, v: i32) -> Result<Value, Refused> {
        Ok(Value::from(v))
    }
    fn serialize_i64(self, v: i64) -> Result<Value, Refused> {
        Ok(Value::from(v))
    }
    fn serialize_i128(self, v: i128) -> Result<Value, Refused> {
        if let Ok(v) = i64::try_from(v) {
            Ok(Value::from(v))
        } else if let Ok(v) = u64::try_from(v) {
            Ok(Value::from(v))
        } else {
            Err(Refused(String::from(
                "it holds an integer that does not fit in 64 bits",
            )))
        }
    }
    fn serialize_u8(self, v: u8) -> Result<Value, Refused> {
        Ok(Value::from(v))
    }
    fn serialize_u16(self, v: u16) -> Result<Value, Refused> {
        Ok(Value::from(v))
    }
    fn serialize_u32(self, v: u32) -> Result<Value, Refused> {
        Ok(Value::from(v))
    }
    fn serialize_u64(self, v: u64) -> Result<Value, Refused> {
        Ok(Value::from(v))
    }
    fn serialize_u128(self, v: u128) -> Result<Value, Refused> {
        u64::try_from(v)
            .map(Value::from)
            .map_err(|_| Refused(String::from("it holds an integer that does not fit in 64 bits")))
    }
    fn serialize_f32(self, v: f32) -> Result<Value, Refused> {
        if v.is_finite() {
            Ok(Value::from(v))
        } else {
            Err(non_finite(f64::from(v)))
        }
    }
    fn serialize_f64(self, v: f64) -> Result<Value, Refused> {
        Checked::float(v)
    }
    fn serialize_char(self, v: char) -> Result<Value, Refused> {
        Ok(Value::String(v.to_string()))
    }
    fn serialize_str(self, v: &str) -> Result<Value, Refused> {
        Ok(Value::String(v.to_owned()))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Value, Refused> {
        self.nested()?;
        Ok(Value::Array(v.iter().map(|&b| Value::from(b)).collect()))
    }
    fn serialize_none(self) -> Result<Value, Refused> {
        Ok(Value::Null)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Value, Refused> {
        value.serialize(self.unwrapped()?)
    }
    fn serialize_unit(self) -> Result<Value, Refused> {
        Ok(Value::Null)
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<Value, Refused> {
        Ok(Value::Null)
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<Value, Refused> {
        Ok(Value::String(variant.to_owned()))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<Value, Refused> {
        value.serialize(self.unwrapped()?)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<Value, Refused> {
        let value = value.serialize(self.nested()?)?;
        Ok(Checked::tagged(variant, value))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<Array, Refused> {
        Ok(Array {
            inner: self.nested()?,
            items: Vec::with_capacity(len.unwrap_or(0).min(4096)),
            variant: None,
        })
    }
    fn serialize_tuple(self, len: usize) -> Result<Array, Refused> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _name: &'static str, len: usize) -> Result<Array, Refused> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Array, Refused> {
        // The `{variant: [...]}` wrapper is one level, the array another.
        let mut array = self.nested()?.serialize_seq(Some(len))?;
        array.variant = Some(variant);
        Ok(array)
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Object, Refused> {
        Ok(Object {
            inner: self.nested()?,
            members: Map::new(),
            key: None,
            variant: None,
            json_text: None,
        })
    }
    fn serialize_struct(self, name: &'static str, len: usize) -> Result<Object, Refused> {
        if name == NUMBER_TOKEN || name == RAW_VALUE_TOKEN {
            // serde_json's own number (under `arbitrary_precision`) or `RawValue`: JSON text
            // in a one-field struct, not an object of the payload.
            return Ok(Object::json_text(self, name));
        }
        self.serialize_map(Some(len))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Object, Refused> {
        let mut object = self.nested()?.serialize_map(Some(len))?;
        object.variant = Some(variant);
        Ok(object)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Serialize;
    use serde_json::json;

    use super::{to_value, MAX_DEPTH};

    #[derive(Serialize)]
    struct Transfer {
        to: String,
        amount: f64,
        #[serde(flatten)]
        extra: BTreeMap<String, String>,
        tags: Vec<Option<u8>>,
        kind: Kind,
    }

    #[derive(Serialize)]
    enum Kind {
        Wire { bank: &'static str },
    }

    fn transfer() -> Transfer {
        Transfer {
            to: "vendor".into(),
            amount: 1.5,
            extra: BTreeMap::from([("memo".to_owned(), "x".to_owned())]),
            tags: vec![Some(1), None],
            kind: Kind::Wire { bank: "b" },
        }
    }

    #[test]
    fn same_value_as_serde_json() {
        let value = transfer();
        assert_eq!(to_value(&value).unwrap(), serde_json::to_value(&value).unwrap());
        let map = BTreeMap::from([(1u8, 'c'), (2, 'd')]);
        assert_eq!(to_value(&map).unwrap(), json!({"1": "c", "2": "d"}));
    }

    #[test]
    fn a_flattened_key_repeating_a_field_is_refused() {
        let mut value = transfer();
        value.extra.insert("to".into(), "attacker".into());
        let why = to_value(&value).unwrap_err();
        assert!(why.contains("the key `to` twice"), "{why}");
        assert!(!why.contains("attacker"), "{why}");
    }

    #[test]
    fn non_finite_floats_are_refused_at_any_depth() {
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let why = to_value(&vec![vec![bad]]).unwrap_err();
            assert!(why.contains("JSON cannot represent"), "{why}");
        }
        assert!(to_value(&f32::NAN).unwrap_err().contains("NaN"));
    }

    #[test]
    fn depth_is_bounded() {
        let mut ok = json!(1);
        for _ in 0..MAX_DEPTH {
            ok = json!([ok]);
        }
        assert_eq!(to_value(&ok).unwrap(), ok);
        let too_deep = json!([ok]);
        assert!(to_value(&too_deep).unwrap_err().contains("more than 64 levels"));
    }

    #[test]
    fn a_chain_of_options_and_newtypes_is_bounded_not_a_stack_overflow() {
        struct Link(Option<Box<Link>>);
        impl Serialize for Link {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_newtype_struct("Link", &self.0)
            }
        }
        let chain = |n: usize| (0..n).fold(Link(None), |inner, _| Link(Some(Box::new(inner))));
        assert_eq!(to_value(&chain(10)).unwrap(), serde_json::Value::Null);
        // Far past what a small stack survives without the bound; dropped on a big stack.
        let long = chain(200_000);
        let why = std::thread::Builder::new()
            .stack_size(2 * 1024 * 1024)
            .spawn(move || {
                let why = to_value(&long).unwrap_err();
                std::mem::forget(long);
                why
            })
            .unwrap()
            .join()
            .unwrap();
        assert!(why.contains("more than 256 levels"), "{why}");
    }

    #[test]
    fn a_map_key_of_nested_newtypes_is_bounded_not_a_stack_overflow() {
        #[derive(PartialEq, Eq, PartialOrd, Ord)]
        enum Key {
            Leaf(&'static str),
            Wrap(Box<Key>),
        }
        impl Serialize for Key {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                match self {
                    Key::Leaf(text) => s.serialize_str(text),
                    Key::Wrap(inner) => s.serialize_newtype_struct("Key", inner),
                }
            }
        }
        let key = |n: usize| (0..n).fold(Key::Leaf("k"), |inner, _| Key::Wrap(Box::new(inner)));
        let shallow = BTreeMap::from([(key(10), 1)]);
        assert_eq!(to_value(&shallow).unwrap(), json!({"k": 1}));
        // 100 000 newtypes: far past what a small stack survives without the bound.
        let deep = BTreeMap::from([(key(100_000), 1)]);
        let why = std::thread::Builder::new()
            .stack_size(2 * 1024 * 1024)
            .spawn(move || {
                let why = to_value(&deep).unwrap_err();
                std::mem::forget(deep);
                why
            })
            .unwrap()
            .join()
            .unwrap();
        assert!(
            why.contains("map key wrapped in newtypes more than 256 levels"),
            "{why}"
        );
    }

    #[test]
    fn raw_json_is_sent_as_its_value_and_read_as_strictly_as_the_rest() {
        let raw =
            serde_json::value::RawValue::from_string(r#"{"to":"vendor_42","amount":[1,2]}"#.into()).unwrap();
        assert_eq!(
            to_value(&raw).unwrap(),
            json!({"to": "vendor_42", "amount": [1, 2]})
        );
        let repeated = serde_json::value::RawValue::from_string(r#"{"to":"a","to":"b"}"#.into()).unwrap();
        assert!(to_value(&repeated)
            .unwrap_err()
            .contains("cannot be read strictly"));
        let mut deep = String::from("1");
        for _ in 0..MAX_DEPTH {
            deep = format!("[{deep}]");
        }
        let at_limit = serde_json::value::RawValue::from_string(deep.clone()).unwrap();
        assert!(to_value(&at_limit).is_ok());
        let past_limit = serde_json::value::RawValue::from_string(format!("[{deep}]")).unwrap();
        assert!(to_value(&past_limit).unwrap_err().contains("more than 64 levels"));
    }

    #[test]
    fn a_panicking_serialize_is_refused() {
        struct Bomb;
        impl Serialize for Bomb {
            fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
                panic!("boom")
            }
        }
        assert!(to_value(&Bomb).unwrap_err().contains("panicked"));
    }
}
