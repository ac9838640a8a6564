//! The client's lines, read strictly: one JSON value, no repeated key at any depth.
//!
//! What the gate forwards must mean to the server what it meant to the gate. A line serde_json
//! refuses (a lone surrogate, nesting beyond its limit, `1e400`) may still be accepted by a
//! server's `JSON.parse`; and a repeated key is read last-one-wins by some readers and
//! first-one-wins by others. So such a line is answered here and never forwarded. (The
//! runtime's reader of sidecar answers does the work.)

use serde_json::Value;

/// Parses `text` as exactly one JSON value with no duplicate keys at any depth: the
/// runtime's own reader of sidecar answers.
pub fn parse(text: &str) -> Result<Value, serde_json::Error> {
    sentinel::unversioned::json::parse_strict(text.as_bytes())
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
