//! Canonical JSON exactly as the sidecar (a JavaScript program) writes it: what its hashes
//! are taken over (`provenance`, `adjudication`), and how two actions are compared without
//! a hash (resuming an escalation, with or without the `verify` feature).
//!
//! The sidecar hashes the canonical JSON of each record's body: members sorted by their
//! keys' UTF-16 code units, no whitespace, strings escaped as `JSON.stringify` escapes them
//! and numbers printed as `Number.prototype.toString` prints a double. One byte of
//! difference and no hash verifies, so every rule here follows ECMAScript, not Rust or
//! `serde_json`:
//!
//! | value                             | JavaScript prints      | `serde_json` prints     |
//! |-----------------------------------|------------------------|-------------------------|
//! | `42000.0`                         | `42000`                | `42000.0`               |
//! | `-0.0`                            | `0`                    | `-0.0`                  |
//! | `1e20`                            | `100000000000000000000`| `1e+20`                 |
//! | `1e-6`                            | `0.000001`             | `1e-6`                  |
//! | `9007199254740993` (an integer)   | `9007199254740992`     | `9007199254740993`      |
//! | keys `"\u{FF61}"`, `"\u{1F600}"`  | `"\u{1F600}"` first    | `"\u{FF61}"` first      |

use std::cmp::Ordering;
use std::fmt::Write as _;

use serde_json::{Number, Value};

/// Writes `value` as canonical JSON with JavaScript semantics, byte for byte what the
/// Sentinel sidecar hashes.
///
/// - object members sorted by the UTF-16 code units of their keys (JavaScript's default
///   sort), which differs from Rust's `str` order for keys holding characters above U+FFFF;
/// - no whitespace; arrays keep their order;
/// - strings escaped as `JSON.stringify` does (`\"`, `\\`, `\b`, `\f`, `\n`, `\r`, `\t`, other
///   control characters as lowercase `\u00xx`, everything else raw, including U+2028,
///   U+2029 and U+007F);
/// - every number converted to a double first (as the sidecar's `JSON.parse` did) and
///   printed as `Number.prototype.toString` prints it: `1e+21`, `1e-7`, `0.000001`,
///   `123456789012345680000`, `-0` as `0`.
///
/// ```
/// # #[cfg(feature = "verify")] {
/// use sentinel_runtime::provenance::canonical_json;
/// use serde_json::json;
///
/// let value = json!({"b": 1e21, "a": [0.1, -0.0, 42000.0], "\u{1F600}": "x\u{2028}", "\u{FF61}": null});
/// assert_eq!(
///     canonical_json(&value),
///     "{\"a\":[0.1,0,42000],\"b\":1e+21,\"\u{1F600}\":\"x\u{2028}\",\"\u{FF61}\":null}"
/// );
/// # }
/// ```
///
/// Values are written recursively; a value parsed from text is at most 128 levels deep
/// (both `serde_json` and `provenance::parse_json` refuse deeper input).
#[must_use]
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

/// Compares two keys as JavaScript's `Array.prototype.sort` does by default: by UTF-16 code
/// units, so `"\u{1F600}"` (0xD83D 0xDE00) sorts before `"\u{FF61}"`.
pub(crate) fn cmp_utf16(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

pub(crate) fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(number) => write_number(out, number),
        Value::String(text) => write_string(out, text),
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(members) => {
            // Usually the map's own order already is JavaScript's (it differs only for keys
            // with characters above U+FFFF): then no list is built and sorted.
            let in_order = members
                .keys()
                .zip(members.keys().skip(1))
                .all(|(a, b)| cmp_utf16(a, b) != Ordering::Greater);
            if in_order {
                write_members(out, members.iter());
            } else {
                let mut sorted: Vec<(&String, &Value)> = members.iter().collect();
                sorted.sort_by(|(a, _), (b, _)| cmp_utf16(a, b));
                write_members(out, sorted.into_iter());
            }
        }
    }
}

/// Writes `text` as a JSON string literal escaped exactly as `JSON.stringify` escapes it.
fn write_members<'v>(out: &mut String, members: impl Iterator<Item = (&'v String, &'v Value)>) {
    out.push('{');
    for (index, (key, member)) in members.enumerate() {
        if index > 0 {
            out.push(',');
        }
        write_string(out, key);
        out.push(':');
        write_value(out, member);
    }
    out.push('}');
}

pub(crate) fn write_string(out: &mut String, text: &str) {
    out.push('"');
    // Only `"`, `\\` and control characters are escaped, all ASCII: copy the runs between
    // them as they are (a byte below 0x80 never falls inside a UTF-8 sequence).
    let needs_escape = |byte: &u8| *byte == b'"' || *byte == b'\\' || *byte < 0x20;
    let mut rest = text;
    while let Some(at) = rest.bytes().position(|byte| needs_escape(&byte)) {
        out.push_str(&rest[..at]);
        write_escaped(out, &rest[at..=at]);
        rest = &rest[at + 1..];
    }
    out.push_str(rest);
    out.push('"');
}

/// Writes the characters of `text` escaped as `JSON.stringify` escapes them.
fn write_escaped(out: &mut String, text: &str) {
    for ch in text.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0C}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c < '\u{20}' => {
                // Writing into a String cannot fail.
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
}

fn write_number(out: &mut String, number: &Number) {
    // Without serde_json's `arbitrary_precision` every Number is a u64, an i64 or a finite
    // f64, and `as_f64` converts the integers with round-to-nearest-even, as JSON.parse does.
    match number.as_f64() {
        Some(value) => write_f64(out, value),
        None => out.push_str("null"),
    }
}

/// Writes a double as ECMAScript's `Number::toString(x)` (radix 10) does.
pub(crate) fn write_f64(out: &mut String, value: f64) {
    if !value.is_finite() {
        // JSON.stringify writes NaN and the infinities as null. A serde_json Value cannot hold
        // them, so this is only for completeness.
        out.push_str("null");
        return;
    }
    if value == 0.0 {
        out.push('0'); // both +0 and -0
        return;
    }
    // An integer below 2^53 is a double exactly, and its own digits are the shortest that
    // read back as it: ECMAScript prints them as they are (below 1e21, no exponent).
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    if value.fract() == 0.0 && value.abs() < EXACT {
        #[allow(clippy::cast_possible_truncation)]
        let integer = value as i64;
        let _ = write!(out, "{integer}");
        return;
    }
    if value.is_sign_negative() {
        out.push('-');
    }
    let (digits, point) = shortest_digits(value.abs());
    layout(out, &digits, point);
}

/// The shortest decimal digits `d1 d2 … dk` and the position `n` of the decimal point such
/// that `0.d1d2…dk × 10^n` reads back as `value` (ECMAScript's `k`, `s` and `n`), choosing the
/// digits closest to `value` and, on an exact tie, the even last digit.
///
/// Rust's `{:e}` already prints the shortest round-trip digits, closest to the value. It
/// breaks an exact tie between two equally short, equally close candidates upwards
/// (`884732411301967.25` prints `…967.3`), where ECMAScript takes the even one (`…967.2`);
/// [`prefer_even_on_tie`] corrects that.
fn shortest_digits(value: f64) -> (Vec<u8>, i32) {
    let formatted = format!("{value:e}");
    let (digits, exponent) = split_scientific(&formatted);
    let mut digits = digits;
    prefer_even_on_tie(value, &mut digits, exponent);
    (digits, exponent + 1)
}

/// Splits Rust's `{:e}` output (`"1.2345e-7"`, `"5e-324"`, `"1e21"`) into its digits and the
/// exponent of the first digit.
fn split_scientific(formatted: &str) -> (Vec<u8>, i32) {
    let (mantissa, exponent) = formatted.split_once('e').unwrap_or((formatted, "0"));
    let digits = mantissa.bytes().filter(u8::is_ascii_digit).collect();
    (digits, exponent.parse().unwrap_or(0))
}

/// If `value` lies exactly halfway between `digits` and the neighbour one below in the
/// last digit, and that neighbour is even and also reads back as `value`, switch to it.
///
/// Only the neighbour below: Rust breaks an exact tie upwards (its Dragon4 rounds a
/// remainder of exactly one half up, and Grisu defers to it on ties), so on a tie `digits`
/// are always the upper candidate.
fn prefer_even_on_tie(value: f64, digits: &mut [u8], exponent: i32) {
    let Some(&last) = digits.last() else { return };
    if last % 2 == 0 {
        // b'0' is even, so an even byte is an even digit: nothing to correct.
        return;
    }
    let k = digits.len();
    // Cheap filter: an exact tie needs the value's (k+1)-digit rounding to end in 5 (one
    // that carries into the next power of ten ends in 0) ...
    let rounded = format!("{value:.k$e}");
    let (rounded_digits, _) = split_scientific(&rounded);
    if rounded_digits.get(k) != Some(&b'5') {
        return;
    }
    // ... and that rounding to be exact: the value's full decimal expansion (at most 767
    // significant digits for a double) must stop right there.
    let exact = format!("{value:.800e}");
    let (exact_digits, _) = split_scientific(&exact);
    if exact_digits
        .get(k + 1..)
        .is_none_or(|tail| tail.iter().any(|&d| d != b'0'))
    {
        return;
    }
    // The candidates are `rounded_digits[..k]` and that plus one unit in the last place,
    // which `digits` are (Rust went up). Their last digit is odd, so one unit below
    // borrows nothing: the even candidate is `digits` with the last digit one less.
    let candidate = last - 1;
    let mut text = String::with_capacity(k + 8);
    for (index, &digit) in digits[..k - 1]
        .iter()
        .chain(std::iter::once(&candidate))
        .enumerate()
    {
        if index == 1 {
            text.push('.');
        }
        text.push(char::from(digit));
    }
    let _ = write!(text, "e{exponent}");
    if text.parse::<f64>().map(f64::to_bits) == Ok(value.to_bits()) {
        digits[k - 1] = candidate;
    }
}

/// Lays out digits as ECMAScript's `Number::toString`, step 5 onwards (`point` is its `n`).
fn layout(out: &mut String, digits: &[u8], point: i32) {
    // A double has at most 17 significant digits, and `point` lies within -323..=309, so
    // these conversions never saturate.
    let k = i32::try_from(digits.len()).unwrap_or(i32::MAX);
    let count = |n: i32| usize::try_from(n).unwrap_or(0);
    let push_digits = |out: &mut String, digits: &[u8]| out.extend(digits.iter().map(|&d| char::from(d)));
    if k <= point && point <= 21 {
        // An integer: the digits, then point - k zeros.
        push_digits(out, digits);
        out.extend(std::iter::repeat_n('0', count(point - k)));
    } else if 0 < point && point <= 21 {
        // A decimal point inside the digits.
        let (int, frac) = digits.split_at(count(point));
        push_digits(out, int);
        out.push('.');
        push_digits(out, frac);
    } else if -6 < point && point <= 0 {
        // 0.000ddd
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', count(-point)));
        push_digits(out, digits);
    } else {
        // Exponent form: d[.ddd]e+x or d[.ddd]e-x.
        let exponent = point - 1;
        let (first, rest) = digits.split_at(digits.len().min(1));
        push_digits(out, first);
        if !rest.is_empty() {
            out.push('.');
            push_digits(out, rest);
        }
        out.push('e');
        out.push(if exponent >= 0 { '+' } else { '-' });
        let _ = write!(out, "{}", exponent.unsigned_abs());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn js(value: f64) -> String {
        let mut out = String::new();
        write_f64(&mut out, value);
        out
    }

    #[test]
    fn layout_boundaries_follow_ecmascript() {
        assert_eq!(js(1e20), "100000000000000000000");
        assert_eq!(js(1e21), "1e+21");
        assert_eq!(js(1e-6), "0.000001");
        assert_eq!(js(1e-7), "1e-7");
        assert_eq!(js(-0.0), "0");
        assert_eq!(js(f64::NAN), "null");
    }

    #[test]
    // The literals are the exact values of the doubles; clippy measures them against Rust's
    // own (upward-rounded) shortest form, which is the very thing under test.
    #[allow(clippy::excessive_precision)]
    fn exact_ties_take_the_even_digit() {
        // 884732411301967.25 and 75985762684423.125 are exact ties; node prints the even
        // neighbour, Rust's `{}` the upper one.
        assert_eq!(format!("{}", 884732411301967.25_f64), "884732411301967.3");
        assert_eq!(js(884732411301967.25), "884732411301967.2");
        assert_eq!(js(-203632579126399.125), "-203632579126399.12");
        assert_eq!(js(75985762684423.125), "75985762684423.12");
        // The literal ...967.3 is the same double as ...967.25.
        assert_eq!(js(884732411301967.3), "884732411301967.2");
        // Not ties: nothing to correct.
        assert_eq!(js(0.5), "0.5");
        assert_eq!(js(12.5), "12.5");
        assert_eq!(js(5e-324), "5e-324");
    }

    #[test]
    fn keys_sort_by_utf16_code_units() {
        assert_eq!(cmp_utf16("\u{1F600}", "\u{FF61}"), Ordering::Less);
        assert_eq!("\u{1F600}".cmp("\u{FF61}"), Ordering::Greater);
        assert_eq!(
            canonical_json(&json!({"\u{FF61}": 1, "\u{1F600}": 2})),
            "{\"\u{1F600}\":2,\"\u{FF61}\":1}"
        );
    }

    #[test]
    fn split_scientific_reads_rust_exponent_output() {
        assert_eq!(split_scientific("1.25e-7"), (b"125".to_vec(), -7));
        assert_eq!(split_scientific("5e-324"), (b"5".to_vec(), -324));
        assert_eq!(split_scientific("1e21"), (b"1".to_vec(), 21));
    }
}
