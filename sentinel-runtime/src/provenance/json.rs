//! Reading records: strict JSON with every number read to the double JavaScript reads.
//!
//! The workspace builds serde_json with `float_roundtrip`, so `1936.7400000000002` stays
//! `1936.7400000000002` (without it serde_json's fast float parser is one bit off for many
//! doubles with 16–17 significant digits, and the record holding one would no longer hash
//! to its `contentHash`).

use serde_json::Value;

use super::ProvenanceError;

/// Parses `text` as exactly one JSON value, reading every number to the same double as
/// JavaScript's `JSON.parse`.
///
/// Stricter than `JSON.parse`: an object with a repeated key, a byte-order mark, trailing
/// bytes, a number too large for a double and nesting deeper than 128 levels are refused.
/// Integers that fit an `i64` or `u64` are kept as integers; every other number becomes an
/// `f64`.
///
/// ```
/// use sentinel_runtime::provenance::{canonical_json, parse_json};
///
/// let value = parse_json(r#"{"amount": 1936.7400000000002, "big": 1e21}"#).unwrap();
/// assert_eq!(canonical_json(&value), r#"{"amount":1936.7400000000002,"big":1e+21}"#);
/// ```
pub fn parse_json(text: &str) -> Result<Value, ProvenanceError> {
    crate::strict_json::parse(text.as_bytes())
        .map_err(|e| ProvenanceError::malformed(None, format!("invalid JSON: {e}")))
}
