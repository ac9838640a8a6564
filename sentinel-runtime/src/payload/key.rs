//! The serializer of map keys.

use serde::ser::{self, Serialize};

use super::{Refused, MAX_WRAPPERS};

/// A map key: JSON keys are strings, so strings, chars, integers and bools are accepted,
/// written as serde_json writes them; anything else is refused. `wrappers` counts the
/// newtypes around the key, bounded like a value's (each is a level of recursion).
#[derive(Clone, Copy, Default)]
pub(super) struct Key {
    pub(super) wrappers: usize,
}

fn bad_key() -> Refused {
    Refused(String::from(
        "it has a map key that is not a string, an integer, a char or a bool",
    ))
}

impl ser::Serializer for Key {
    type Ok = String;
    type Error = Refused;
    type SerializeSeq = ser::Impossible<String, Refused>;
    type SerializeTuple = ser::Impossible<String, Refused>;
    type SerializeTupleStruct = ser::Impossible<String, Refused>;
    type SerializeTupleVariant = ser::Impossible<String, Refused>;
    type SerializeMap = ser::Impossible<String, Refused>;
    type SerializeStruct = ser::Impossible<String, Refused>;
    type SerializeStructVariant = ser::Impossible<String, Refused>;

    fn serialize_bool(self, v: bool) -> Result<String, Refused> {
        Ok(v.to_string())
    }
    fn serialize_i8(self, v: i8) -> Result<String, Refused> {
        Ok(v.to_string())
    }
    fn serialize_i16(self, v: i16) -> Result<String, Refused> {
        Ok(v.to_string())
    }
    fn serialize_i32(self, v: i32) -> Result<String, Refused> {
        Ok(v.to_string())
    }
    fn serialize_i64(self, v: i64) -> Result<String, Refused> {
        Ok(v.to_string())
    }
    fn serialize_i128(self, v: i128) -> Result<String, Refused> {
        Ok(v.to_string())
    }
    fn serialize_u8(self, v: u8) -> Result<String, Refused> {
        Ok(v.to_string())
    }
    fn serialize_u16(self, v: u16) -> Result<String, Refused> {
        Ok(v.to_string())
    }
    fn serialize_u32(self, v: u32) -> Result<String, Refused> {
        Ok(v.to_string())
    }
    fn serialize_u64(self, v: u64) -> Result<String, Refused> {
        Ok(v.to_string())
    }
    fn serialize_u128(self, v: u128) -> Result<String, Refused> {
        Ok(v.to_string())
    }
    fn serialize_f32(self, _v: f32) -> Result<String, Refused> {
        Err(bad_key())
    }
    fn serialize_f64(self, _v: f64) -> Result<String, Refused> {
        Err(bad_key())
    }
    fn serialize_char(self, v: char) -> Result<String, Refused> {
        Ok(v.to_string())
    }
    fn serialize_str(self, v: &str) -> Result<String, Refused> {
        Ok(v.to_owned())
    }
    fn serialize_bytes(self, _v: &[u8]) -> Result<String, Refused> {
        Err(bad_key())
    }
    fn serialize_none(self) -> Result<String, Refused> {
        Err(bad_key())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _value: &T) -> Result<String, Refused> {
        Err(bad_key())
    }
    fn serialize_unit(self) -> Result<String, Refused> {
        Err(bad_key())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<String, Refused> {
        Err(bad_key())
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<String, Refused> {
        Ok(variant.to_owned())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<String, Refused> {
        if self.wrappers >= MAX_WRAPPERS {
            return Err(Refused(format!(
                "it has a map key wrapped in newtypes more than {MAX_WRAPPERS} levels deep"
            )));
        }
        value.serialize(Key {
            wrappers: self.wrappers + 1,
        })
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<String, Refused> {
        Err(bad_key())
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, Refused> {
        Err(bad_key())
    }
    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, Refused> {
        Err(bad_key())
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct, Refused> {
        Err(bad_key())
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, Refused> {
        Err(bad_key())
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, Refused> {
        Err(bad_key())
    }
    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Self::SerializeStruct, Refused> {
        Err(bad_key())
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, Refused> {
        Err(bad_key())
    }
}
