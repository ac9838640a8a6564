//! [`RecordView`]: one record read straight from its text into borrowed fields, and its
//! canonical body written from those fields, for the streaming verifier.
//!
//! [`Record::from_json`](super::Record::from_json) builds a whole `Value` tree and converts
//! it; [`Record::canonical_body`](super::Record::canonical_body) clones every member into a
//! new tree to sort it. Over a million records that is most of the time spent outside
//! Ed25519. This view reads the same members with the same rules (every member typed as
//! [`Record`](super::Record) types it, repeated keys refused at any depth, numbers read to
//! JavaScript's doubles), borrows the strings from the text, and writes the canonical body
//! member by member in its fixed sorted order. Whatever it refuses goes back through the
//! reference path (`Record::from_json` + `verify_record`), which names the error, so the
//! view only ever has to say "this record is fine" correctly.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde_json::Value;

use crate::canonical::{write_f64, write_string, write_value};
use crate::strict_json::{Key, StrictValue};

/// An optional signed member: absent (not hashed), `null` (hashed as `null`) or present.
#[derive(Debug, Default)]
pub(crate) enum Member<T> {
    #[default]
    Absent,
    Null,
    Present(T),
}

/// The members of one record the verifier needs, strings borrowed from the text when they
/// hold no escapes.
#[derive(Debug)]
pub(crate) struct RecordView<'a> {
    pub id: Cow<'a, str>,
    pub ts: Cow<'a, str>,
    pub seq: u64,
    pub prev_hash: Cow<'a, str>,
    pub content_hash: Cow<'a, str>,
    pub key_id: Cow<'a, str>,
    pub signer_public_key: Cow<'a, str>,
    pub sig: Cow<'a, str>,
    pub tenant: Member<Cow<'a, str>>,
    pub kind: Cow<'a, str>,
    pub payload: Value,
    pub meta: Member<Value>,
    pub action_fingerprint: Cow<'a, str>,
    pub context: Value,
    pub checks: Value,
    pub verdict: Cow<'a, str>,
    pub reason: Member<Cow<'a, str>>,
    pub escalation_id: Member<Cow<'a, str>>,
}

impl<'a> RecordView<'a> {
    /// Reads one record from exactly one JSON object.
    pub(crate) fn parse(text: &'a str) -> Result<RecordView<'a>, serde_json::Error> {
        let mut deserializer = serde_json::Deserializer::from_str(text);
        let view = deserializer.deserialize_map(RecordVisitor)?;
        deserializer.end()?;
        Ok(view)
    }

    /// Writes the canonical body (what `contentHash` is the SHA-256 of) into `out`, and the
    /// canonical payload into `payload_out` (the fingerprint is taken over it).
    ///
    /// The members in the order JavaScript's sort puts them (all ASCII, so UTF-16 order is
    /// byte order): action {meta, payload, type}, actionFingerprint, checks, context,
    /// escalationId, id, keyId, prevHash, reason, seq, signerPublicKey, tenant, ts, verdict.
    pub(crate) fn write_canonical_body(&self, out: &mut String, payload_out: &mut String) {
        payload_out.clear();
        write_value(payload_out, &self.payload);
        out.clear();
        out.push_str("{\"action\":{");
        match &self.meta {
            Member::Present(meta) => {
                out.push_str("\"meta\":");
                write_value(out, meta);
                out.push(',');
            }
            Member::Null => out.push_str("\"meta\":null,"),
            Member::Absent => {}
        }
        out.push_str("\"payload\":");
        out.push_str(payload_out);
        out.push_str(",\"type\":");
        write_string(out, &self.kind);
        out.push_str("},\"actionFingerprint\":");
        write_string(out, &self.action_fingerprint);
        out.push_str(",\"checks\":");
        write_value(out, &self.checks);
        out.push_str(",\"context\":");
        write_value(out, &self.context);
        write_optional(out, ",\"escalationId\":", &self.escalation_id);
        out.push_str(",\"id\":");
        write_string(out, &self.id);
        out.push_str(",\"keyId\":");
        write_string(out, &self.key_id);
        out.push_str(",\"prevHash\":");
        write_string(out, &self.prev_hash);
        write_optional(out, ",\"reason\":", &self.reason);
        out.push_str(",\"seq\":");
        // As the sidecar's JSON.parse read it: a double (a seq beyond 2^53 is rounded).
        #[allow(clippy::cast_precision_loss)]
        write_f64(out, self.seq as f64);
        out.push_str(",\"signerPublicKey\":");
        write_string(out, &self.signer_public_key);
        write_optional(out, ",\"tenant\":", &self.tenant);
        out.push_str(",\"ts\":");
        write_string(out, &self.ts);
        out.push_str(",\"verdict\":");
        write_string(out, &self.verdict);
        out.push('}');
    }
}

fn write_optional(out: &mut String, name: &str, member: &Member<Cow<'_, str>>) {
    match member {
        Member::Present(text) => {
            out.push_str(name);
            write_string(out, text);
        }
        Member::Null => {
            out.push_str(name);
            out.push_str("null");
        }
        Member::Absent => {}
    }
}

/// Remembers an object's keys to refuse a repeated one (records have about 16 members).
#[derive(Default)]
struct SeenKeys<'de> {
    keys: Vec<Cow<'de, str>>,
}

impl<'de> SeenKeys<'de> {
    // The key is kept as it came, borrowed from the text when it has no escapes.
    #[allow(clippy::ptr_arg)]
    fn insert<E: de::Error>(&mut self, key: &Cow<'de, str>) -> Result<(), E> {
        if self.keys.iter().any(|seen| seen == key) {
            return Err(E::custom(format_args!("duplicate key `{key}`")));
        }
        self.keys.push(key.clone());
        Ok(())
    }
}

fn required<T, E: de::Error>(value: Option<T>, name: &'static str) -> Result<T, E> {
    value.ok_or_else(|| E::missing_field(name))
}

struct RecordVisitor;

impl<'de> Visitor<'de> for RecordVisitor {
    type Value = RecordView<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a record object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RecordView<'de>, A::Error> {
        let mut seen = SeenKeys::default();
        let (mut id, mut ts, mut seq, mut prev_hash, mut content_hash) = (None, None, None, None, None);
        let (mut key_id, mut signer_public_key, mut sig, mut action) = (None, None, None, None);
        let (mut action_fingerprint, mut context, mut checks, mut verdict) = (None, None, None, None);
        let (mut tenant, mut reason, mut escalation_id) = (Member::Absent, Member::Absent, Member::Absent);
        while let Some(key) = map.next_key_seed(Key)? {
            seen.insert(&key)?;
            match key.as_ref() {
                "id" => id = Some(map.next_value_seed(Text)?),
                "ts" => ts = Some(map.next_value_seed(Text)?),
                "seq" => seq = Some(map.next_value::<u64>()?),
                "prevHash" => prev_hash = Some(map.next_value_seed(Text)?),
                "contentHash" => content_hash = Some(map.next_value_seed(Text)?),
                "keyId" => key_id = Some(map.next_value_seed(Text)?),
                "signerPublicKey" => signer_public_key = Some(map.next_value_seed(Text)?),
                "sig" => sig = Some(map.next_value_seed(Text)?),
                "tenant" => tenant = map.next_value_seed(OptionalText)?,
                "action" => action = Some(map.next_value_seed(ActionSeed)?),
                "actionFingerprint" => action_fingerprint = Some(map.next_value_seed(Text)?),
                "context" => context = Some(map.next_value_seed(StrictValue)?),
                "checks" => checks = Some(map.next_value_seed(StrictValue)?),
                "verdict" => verdict = Some(map.next_value_seed(Text)?),
                "reason" => reason = map.next_value_seed(OptionalText)?,
                "escalationId" => escalation_id = map.next_value_seed(OptionalText)?,
                // Not signed, but read as strictly as the rest: `IgnoredAny` would let a
                // repeated key inside through, which `Record::from_json` refuses.
                _ => {
                    map.next_value_seed(StrictValue)?;
                }
            }
        }
        let (kind, payload, meta) = required(action, "action")?;
        Ok(RecordView {
            id: required(id, "id")?,
            ts: required(ts, "ts")?,
            seq: required(seq, "seq")?,
            prev_hash: required(prev_hash, "prevHash")?,
            content_hash: required(content_hash, "contentHash")?,
            key_id: required(key_id, "keyId")?,
            signer_public_key: required(signer_public_key, "signerPublicKey")?,
            sig: required(sig, "sig")?,
            tenant,
            kind,
            payload,
            meta,
            action_fingerprint: required(action_fingerprint, "actionFingerprint")?,
            context: required(context, "context")?,
            checks: required(checks, "checks")?,
            verdict: required(verdict, "verdict")?,
            reason,
            escalation_id,
        })
    }
}

/// The record's action: `{type, payload, meta?, id?}` (`id` is not signed).
struct ActionSeed;

impl<'de> DeserializeSeed<'de> for ActionSeed {
    type Value = (Cow<'de, str>, Value, Member<Value>);

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ActionSeed {
    type Value = (Cow<'de, str>, Value, Member<Value>);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an action object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut seen = SeenKeys::default();
        let (mut kind, mut payload, mut meta) = (None, None, Member::Absent);
        while let Some(key) = map.next_key_seed(Key)? {
            seen.insert(&key)?;
            match key.as_ref() {
                "type" => kind = Some(map.next_value_seed(Text)?),
                "payload" => payload = Some(map.next_value_seed(StrictValue)?),
                "meta" => {
                    meta = match map.next_value_seed(StrictValue)? {
                        Value::Null => Member::Null,
                        value => Member::Present(value),
                    }
                }
                // The action id: `Option<String>` in `RecordAction`, so a string or null.
                "id" => {
                    map.next_value_seed(OptionalText)?;
                }
                _ => {
                    map.next_value_seed(StrictValue)?;
                }
            }
        }
        Ok((required(kind, "type")?, required(payload, "payload")?, meta))
    }
}

/// A string member, borrowed when it has no escapes.
struct Text;

impl<'de> DeserializeSeed<'de> for Text {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Cow<'de, str>, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Text {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(v.to_owned()))
    }
}

/// A string member that may be `null`.
struct OptionalText;

impl<'de> DeserializeSeed<'de> for OptionalText {
    type Value = Member<Cow<'de, str>>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for OptionalText {
    type Value = Member<Cow<'de, str>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string or null")
    }

    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(Member::Null)
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Member::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        Text.deserialize(deserializer).map(Member::Present)
    }
}
