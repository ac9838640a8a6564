//! The serializer's compound values: arrays (sequences, tuples) and objects (maps,
//! structs), each checked as its members are written.

use serde::ser::{self, Serialize};
use serde_json::{Map, Value};

use super::key::Key;
use super::{duplicate, Checked, Refused};

/// An array being serialized; `variant` wraps it as `{variant: [...]}` at the end.
pub(super) struct Array {
    pub(super) inner: Checked,
    pub(super) items: Vec<Value>,
    pub(super) variant: Option<&'static str>,
}

impl Array {
    fn push<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Refused> {
        self.items.push(value.serialize(self.inner)?);
        Ok(())
    }

    fn finish(self) -> Value {
        let array = Value::Array(self.items);
        match self.variant {
            Some(variant) => Checked::tagged(variant, array),
            None => array,
        }
    }
}

impl ser::SerializeSeq for Array {
    type Ok = Value;
    type Error = Refused;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Refused> {
        self.push(value)
    }
    fn end(self) -> Result<Value, Refused> {
        Ok(self.finish())
    }
}

impl ser::SerializeTuple for Array {
    type Ok = Value;
    type Error = Refused;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Refused> {
        self.push(value)
    }
    fn end(self) -> Result<Value, Refused> {
        Ok(self.finish())
    }
}

impl ser::SerializeTupleStruct for Array {
    type Ok = Value;
    type Error = Refused;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Refused> {
        self.push(value)
    }
    fn end(self) -> Result<Value, Refused> {
        Ok(self.finish())
    }
}

impl ser::SerializeTupleVariant for Array {
    type Ok = Value;
    type Error = Refused;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Refused> {
        self.push(value)
    }
    fn end(self) -> Result<Value, Refused> {
        Ok(self.finish())
    }
}

/// An object being serialized: every key goes through [`Object::insert`], so a key written
/// twice (by a flattened map, or a hand-written `Serialize`) is refused.
pub(super) struct Object {
    pub(super) inner: Checked,
    pub(super) members: Map<String, Value>,
    /// The key of `serialize_key`, waiting for its `serialize_value`.
    pub(super) key: Option<String>,
    pub(super) variant: Option<&'static str>,
    /// Set for serde_json's number or `RawValue`: the field of this name holds JSON text.
    pub(super) json_text: Option<&'static str>,
}

impl Object {
    /// The one-field struct serde_json writes a number (under `arbitrary_precision`) or a
    /// `RawValue` as; it adds no level of nesting.
    pub(super) fn json_text(inner: Checked, name: &'static str) -> Object {
        Object {
            inner,
            members: Map::new(),
            key: None,
            variant: None,
            json_text: Some(name),
        }
    }

    fn insert(&mut self, key: String, value: Value) -> Result<(), Refused> {
        if self.members.contains_key(&key) {
            return Err(duplicate(&key));
        }
        self.members.insert(key, value);
        Ok(())
    }

    fn field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<(), Refused> {
        let value = value.serialize(self.inner)?;
        self.insert(key.to_owned(), value)
    }

    fn finish(self) -> Value {
        let object = Value::Object(self.members);
        match self.variant {
            Some(variant) => Checked::tagged(variant, object),
            None => object,
        }
    }
}

impl ser::SerializeMap for Object {
    type Ok = Value;
    type Error = Refused;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Refused> {
        self.key = Some(key.serialize(Key::default())?);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Refused> {
        let key = self
            .key
            .take()
            .ok_or_else(|| Refused(String::from("its `Serialize` wrote a map value without a key")))?;
        let value = value.serialize(self.inner)?;
        self.insert(key, value)
    }
    fn end(self) -> Result<Value, Refused> {
        Ok(self.finish())
    }
}

impl ser::SerializeStruct for Object {
    type Ok = Value;
    type Error = Refused;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Refused> {
        self.field(key, value)
    }
    fn end(self) -> Result<Value, Refused> {
        match self.json_text {
            Some(name) => super::json_text_value(self.inner.depth, self.members.get(name)),
            None => Ok(self.finish()),
        }
    }
}

impl ser::SerializeStructVariant for Object {
    type Ok = Value;
    type Error = Refused;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Refused> {
        self.field(key, value)
    }
    fn end(self) -> Result<Value, Refused> {
        Ok(self.finish())
    }
}
