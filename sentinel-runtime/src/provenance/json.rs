//! A small strict JSON reader that keeps every number exactly as JavaScript reads it.
//!
//! `serde_json` without its `float_roundtrip` feature (this workspace builds it without) reads
//! decimal numbers with a fast approximation that is one bit off for many doubles with 16 or
//! 17 significant digits: `1936.7400000000002` comes back as `1936.74`, and the record
//! holding it would no longer hash to its `contentHash`. Records are therefore read here:
//! the structure and string escapes are checked by hand (strings are then decoded by
//! `serde_json`, which gets them right), and numbers go through Rust's correctly rounded
//! `str::parse::<f64>`, the same double `JSON.parse` produces.

use serde_json::{Map, Number, Value};

use super::ProvenanceError;

/// Nesting deeper than this is refused (`serde_json`'s own limit), so no input can exhaust
/// the stack.
const MAX_DEPTH: usize = 128;

/// Parses `text` as exactly one JSON value, reading every number to the same double as
/// JavaScript's `JSON.parse` (`serde_json`'s default parser can be one bit off).
///
/// Stricter than `JSON.parse`: an object with a repeated key, a byte-order mark, a lone
/// UTF-16 surrogate escape, a number too large for a double and nesting deeper than 128
/// levels are refused. Integers that fit an `i64` or `u64` are kept as integers; every
/// other number becomes an `f64`.
///
/// # Errors
///
/// [`ProvenanceError::Malformed`] (with no `seq`) saying what is wrong and at which byte.
///
/// ```
/// use sentinel_runtime::provenance::{canonical_json, parse_json};
///
/// let value = parse_json(r#"{"amount": 1936.7400000000002, "big": 1e21}"#).unwrap();
/// assert_eq!(canonical_json(&value), r#"{"amount":1936.7400000000002,"big":1e+21}"#);
/// ```
pub fn parse_json(text: &str) -> Result<Value, ProvenanceError> {
    parse(text).map_err(|reason| ProvenanceError::malformed(None, format!("invalid JSON: {reason}")))
}

fn parse(text: &str) -> Result<Value, String> {
    let mut reader = Reader { text, pos: 0 };
    reader.skip_whitespace();
    let value = reader.value(0)?;
    reader.skip_whitespace();
    if reader.pos != text.len() {
        return Err(reader.error("trailing characters after the JSON value"));
    }
    Ok(value)
}

struct Reader<'a> {
    text: &'a str,
    pos: usize,
}

impl Reader<'_> {
    fn error(&self, what: &str) -> String {
        format!("{what} at byte {}", self.pos)
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn expect_literal(&mut self, literal: &str, value: Value) -> Result<Value, String> {
        if self.text[self.pos..].starts_with(literal) {
            self.pos += literal.len();
            Ok(value)
        } else {
            Err(self.error("invalid literal"))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, String> {
        match self.peek() {
            None => Err(self.error("unexpected end of input")),
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => self.string().map(Value::String),
            Some(b't') => self.expect_literal("true", Value::Bool(true)),
            Some(b'f') => self.expect_literal("false", Value::Bool(false)),
            Some(b'n') => self.expect_literal("null", Value::Null),
            Some(b'-' | b'0'..=b'9') => self.number().map(Value::Number),
            Some(_) => Err(self.error("unexpected character")),
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value, String> {
        if depth > MAX_DEPTH {
            return Err(self.error("nesting too deep"));
        }
        self.pos += 1; // '{'
        let mut members = Map::new();
        self.skip_whitespace();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Value::Object(members));
        }
        loop {
            self.skip_whitespace();
            if self.peek() != Some(b'"') {
                return Err(self.error("expected a string key"));
            }
            let key_at = self.pos;
            let key = self.string()?;
            self.skip_whitespace();
            if self.peek() != Some(b':') {
                return Err(self.error("expected ':'"));
            }
            self.pos += 1;
            self.skip_whitespace();
            let member = self.value(depth)?;
            if members.insert(key, member).is_some() {
                return Err(format!("duplicate key at byte {key_at}"));
            }
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Value::Object(members));
                }
                _ => return Err(self.error("expected ',' or '}'")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value, String> {
        if depth > MAX_DEPTH {
            return Err(self.error("nesting too deep"));
        }
        self.pos += 1; // '['
        let mut items = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Value::Array(items));
        }
        loop {
            self.skip_whitespace();
            items.push(self.value(depth)?);
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Value::Array(items));
                }
                _ => return Err(self.error("expected ',' or ']'")),
            }
        }
    }

    /// Finds the end of the string literal starting at `self.pos` and lets `serde_json` decode
    /// it (escapes, surrogate pairs, refusal of raw control characters).
    fn string(&mut self) -> Result<String, String> {
        let start = self.pos;
        let bytes = self.text.as_bytes();
        let mut index = start + 1;
        loop {
            match bytes.get(index) {
                None => {
                    self.pos = index;
                    return Err(self.error("unterminated string"));
                }
                Some(b'"') => break,
                Some(b'\\') => index += 2,
                Some(_) => index += 1,
            }
        }
        self.pos = index + 1;
        // `start` and `index` sit on ASCII quotes, so both are char boundaries.
        let literal = self
            .text
            .get(start..=index)
            .ok_or_else(|| self.error("invalid string"))?;
        serde_json::from_str::<String>(literal)
            .map_err(|err| format!("invalid string at byte {start}: {err}"))
    }

    /// Reads `-? (0 | [1-9][0-9]*) (\.[0-9]+)? ([eE][+-]?[0-9]+)?`.
    fn number(&mut self) -> Result<Number, String> {
        let start = self.pos;
        let bytes = self.text.as_bytes();
        let digits = |from: usize| bytes[from..].iter().take_while(|b| b.is_ascii_digit()).count();
        let mut end = start;
        if bytes.get(end) == Some(&b'-') {
            end += 1;
        }
        let int_digits = digits(end);
        if int_digits == 0 || (int_digits > 1 && bytes[end] == b'0') {
            self.pos = end;
            return Err(self.error("invalid number"));
        }
        end += int_digits;
        let mut integer = true;
        if bytes.get(end) == Some(&b'.') {
            let frac_digits = digits(end + 1);
            if frac_digits == 0 {
                self.pos = end;
                return Err(self.error("invalid number"));
            }
            end += 1 + frac_digits;
            integer = false;
        }
        if let Some(b'e' | b'E') = bytes.get(end) {
            end += 1;
            if let Some(b'+' | b'-') = bytes.get(end) {
                end += 1;
            }
            let exp_digits = digits(end);
            if exp_digits == 0 {
                self.pos = end;
                return Err(self.error("invalid number"));
            }
            end += exp_digits;
            integer = false;
        }
        let literal = &self.text[start..end];
        self.pos = end;
        if integer {
            if let Ok(value) = literal.parse::<u64>() {
                return Ok(Number::from(value));
            }
            if let Ok(value) = literal.parse::<i64>() {
                return Ok(Number::from(value));
            }
        }
        literal
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .ok_or_else(|| format!("number out of range at byte {start}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_numbers_exactly() {
        let value =
            parse_json("[1936.7400000000002, 0.30000000000000004, 1e21, -0, 9007199254740993]").unwrap();
        assert_eq!(value[0].as_f64(), Some(1936.7400000000002));
        assert_eq!(value[1].as_f64(), Some(0.1 + 0.2));
        assert_eq!(value[2].as_f64(), Some(1e21));
        assert_eq!(value[4].as_u64(), Some(9007199254740993));
        // serde_json's default reader is one bit off on the first one.
        let lossy: Value = serde_json::from_str("1936.7400000000002").unwrap();
        assert_ne!(lossy.as_f64(), Some(1936.7400000000002));
    }

    #[test]
    fn reads_structure_and_strings() {
        let value =
            parse_json(" {\"a\" : [true, false, null, {}, []], \"s\": \"\\ud83d\\ude00\\u2028\\n\"} ")
                .unwrap();
        assert_eq!(
            value,
            json!({"a": [true, false, null, {}, []], "s": "\u{1F600}\u{2028}\n"})
        );
    }

    #[test]
    fn refuses_malformed_input() {
        for text in [
            "",
            " ",
            "{",
            "[1,]",
            "{\"a\":1,}",
            "{\"a\" 1}",
            "{\"a\":1,\"a\":2}",
            "01",
            "1.",
            ".5",
            "-",
            "1e",
            "1e+",
            "+1",
            "1e400",
            "-1e400",
            "NaN",
            "tru",
            "nul",
            "\"abc",
            "\"a\\\"",
            "\"\\ud800\"",
            "\"tab\there\"",
            "\"\\x\"",
            "1 2",
            "\u{FEFF}1",
            "{1:2}",
            "[1 2]",
        ] {
            assert!(parse_json(text).is_err(), "accepted {text:?}");
        }
    }

    #[test]
    fn refuses_deep_nesting_without_overflowing() {
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse_json(&ok).is_ok());
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert!(parse_json(&deep).is_err());
        assert!(parse_json(&"[".repeat(100_000)).is_err());
        assert!(parse_json(&"{\"a\":".repeat(100_000)).is_err());
    }
}
