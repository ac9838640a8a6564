//! Provenance verification against the reference sidecar's recorded chain
//! (`tests/fixtures/` at the repository root), plus canonical JSON checked against what node prints.
#![cfg(feature = "verify")]

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey};
use sentinel_runtime::provenance::{
    action_fingerprint, canonical_json, parse_json, verify_chain, verify_chain_from, verify_record,
    ChainStart, ProvenanceError, Record, TrustedKeys, GENESIS,
};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

const RECORDS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../sentinel-tests/tests/fixtures/records.json"
));
const RECORDS_CANONICAL: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../sentinel-tests/tests/fixtures/records_canonical.json"
));
const SIGNER: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../sentinel-tests/tests/fixtures/signer.json"
));

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

fn signer() -> (String, String) {
    let signer: Value = serde_json::from_str(SIGNER).unwrap();
    (
        signer["keyId"].as_str().unwrap().to_owned(),
        signer["signerPublicKey"].as_str().unwrap().to_owned(),
    )
}

fn trusted() -> TrustedKeys {
    TrustedKeys::new().with_key_base64(&signer().1).unwrap()
}

/// A key of our own, from a fixed seed: the "attacker" (or simply another sidecar).
fn other_key() -> SigningKey {
    SigningKey::from_bytes(&[7u8; 32])
}

fn other_trusted() -> TrustedKeys {
    TrustedKeys::new().with_key_bytes(other_key().verifying_key().to_bytes())
}

/// Raw JSON of every fixture record: the 17 of records.json, then the 4 of records_canonical.json.
fn raw_records() -> Vec<Value> {
    let mut all = match parse_json(RECORDS).unwrap() {
        Value::Array(items) => items,
        other => panic!("records.json is not an array: {other}"),
    };
    match parse_json(RECORDS_CANONICAL).unwrap() {
        Value::Array(items) => all.extend(items),
        other => panic!("records_canonical.json is not an array: {other}"),
    }
    all
}

fn chain() -> Vec<Record> {
    Record::list_from_json(RECORDS).unwrap()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The signed body, built straight from PROTOCOL.md (independently of `Record`).
fn body_of(raw: &Value) -> Value {
    let mut body = Map::new();
    for key in [
        "id",
        "ts",
        "seq",
        "prevHash",
        "tenant",
        "actionFingerprint",
        "context",
        "checks",
        "verdict",
        "reason",
        "escalationId",
        "keyId",
        "signerPublicKey",
    ] {
        if let Some(value) = raw.get(key) {
            body.insert(key.to_owned(), value.clone());
        }
    }
    let mut action = Map::new();
    for key in ["type", "payload", "meta"] {
        if let Some(value) = raw["action"].get(key) {
            action.insert(key.to_owned(), value.clone());
        }
    }
    body.insert("action".to_owned(), Value::Object(action));
    Value::Object(body)
}

/// Recomputes `contentHash` over the record as it now stands and signs it with `key`,
/// leaving `keyId` and `signerPublicKey` as they are.
fn seal(raw: &mut Value, key: &SigningKey) {
    let hash: [u8; 32] = Sha256::digest(canonical_json(&body_of(raw)).as_bytes()).into();
    raw["contentHash"] = json!(hex(&hash));
    raw["sig"] = json!(STANDARD.encode(key.sign(&hash).to_bytes()));
}

/// Makes `raw` a record genuinely signed by `key`: its keyId and public key, fresh hash and sig.
fn resign(raw: &mut Value, key: &SigningKey) {
    let public = key.verifying_key().to_bytes();
    raw["keyId"] = json!(TrustedKeys::key_id_of(&public));
    raw["signerPublicKey"] = json!(STANDARD.encode(public));
    seal(raw, key);
}

fn check(raw: &Value, trusted: &TrustedKeys) -> Result<(), ProvenanceError> {
    verify_record(&Record::from_value(raw.clone())?, trusted)
}

fn js(value: Value) -> String {
    canonical_json(&value)
}

// ---------------------------------------------------------------------------------------
// 1. Numbers: Number.prototype.toString, every expectation printed by node 20
// ---------------------------------------------------------------------------------------

#[test]
// Some literals are exact tie values (884732411301967.25): clippy measures them against Rust's
// own shortest form, which rounds those ties the other way than JavaScript.
#[allow(clippy::excessive_precision)]
fn numbers_print_as_javascript_does() {
    // (value, what `node -e 'console.log(String(value))'` prints)
    let table: &[(f64, &str)] = &[
        (0.0, "0"),
        (-0.0, "0"),
        (1.0, "1"),
        (-1.0, "-1"),
        (42000.0, "42000"),
        (0.1, "0.1"),
        (0.5, "0.5"),
        (1.0 / 3.0, "0.3333333333333333"),
        (9007199254740992.0, "9007199254740992"),         // 2^53
        (9007199254740994.0, "9007199254740994"),         // 2^53 + 2
        (18446744073709551616.0, "18446744073709552000"), // 2^64
        (9223372036854775808.0, "9223372036854776000"),   // 2^63
        (1e16, "10000000000000000"),
        (1e20, "100000000000000000000"),
        (123456789012345680000.0, "123456789012345680000"),
        (9.999999999999999e20, "999999999999999900000"),
        (1e21, "1e+21"),
        (1.5e21, "1.5e+21"),
        (-1e21, "-1e+21"),
        (1e23, "1e+23"),
        (1.2345678901234568e29, "1.2345678901234568e+29"),
        (1e300, "1e+300"),
        (f64::MAX, "1.7976931348623157e+308"),
        (1e-5, "0.00001"),
        (2.5e-5, "0.000025"),
        (1e-6, "0.000001"),
        (0.000001234, "0.000001234"),
        (0.0000012345, "0.0000012345"),
        (1e-7, "1e-7"),
        (5e-7, "5e-7"),
        (1.5e-7, "1.5e-7"),
        (123e-20, "1.23e-18"),
        (1e-300, "1e-300"),
        (f64::MIN_POSITIVE, "2.2250738585072014e-308"),
        (2.225073858507201e-308, "2.225073858507201e-308"), // largest subnormal
        (5e-324, "5e-324"),                                 // smallest subnormal
        (100.0, "100"),
        (1e2, "100"),
        (12.5, "12.5"),
        (1234.5678, "1234.5678"),
        (123456789.123, "123456789.123"),
        (-0.0001, "-0.0001"),
        (-1.5, "-1.5"),
        (4.35, "4.35"),
        (0.3, "0.3"),
        (0.1 + 0.2, "0.30000000000000004"),
        (0.1 * 3.0, "0.30000000000000004"),
        (100.0 / 3.0, "33.333333333333336"),
        (1936.7400000000002, "1936.7400000000002"),
        (25771.649999999998, "25771.649999999998"),
        (2147483648.0, "2147483648"),   // 2^31
        (-2147483648.0, "-2147483648"), // -2^31
        // Exact ties between two shortest candidates: JavaScript takes the even digit,
        // Rust's `{}` the upper one (it prints 884732411301967.3).
        (884732411301967.25, "884732411301967.2"),
        (-203632579126399.125, "-203632579126399.12"),
        (75985762684423.125, "75985762684423.12"),
    ];
    assert!(table.len() >= 40);
    for &(value, expected) in table {
        assert_eq!(js(json!(value)), expected, "{value:e}");
        // The printed text reads back (exactly) to the same canonical text.
        assert_eq!(js(parse_json(expected).unwrap()), expected, "{expected}");
    }

    // Integers are doubles to the sidecar: converted with round-to-nearest-even first.
    assert_eq!(js(json!(9007199254740993_u64)), "9007199254740992"); // 2^53 + 1
    assert_eq!(js(json!(9007199254740995_u64)), "9007199254740996");
    assert_eq!(js(json!(u64::MAX)), "18446744073709552000");
    assert_eq!(js(json!(i64::MIN)), "-9223372036854776000");
    assert_eq!(js(json!(-42_i64)), "-42");
    assert_eq!(js(json!([1e21, -0.0, 42000.0])), "[1e+21,0,42000]");

    // Straight from JSON text, as in a record.
    for (text, expected) in [
        ("42000.0", "42000"),
        ("-0", "0"),
        ("-0.0", "0"),
        ("1e21", "1e+21"),
        ("1E+21", "1e+21"),
        ("1e-07", "1e-7"),
        ("2.5e-05", "0.000025"),
        ("0.1e1", "1"),
        ("9007199254740993", "9007199254740992"),
        ("123456789012345678901234567890", "1.2345678901234568e+29"),
        ("-18446744073709551617", "-18446744073709552000"),
        ("0.30000000000000004", "0.30000000000000004"),
        ("1936.7400000000002", "1936.7400000000002"),
        ("884732411301967.25", "884732411301967.2"),
    ] {
        assert_eq!(js(parse_json(text).unwrap()), expected, "{text}");
    }
}

/// 32 149 doubles and what node 20's `JSON.stringify` printed for each (made by
/// `tests/fixtures/canonical_numbers.mjs`): random bit patterns, ordinary values at every scale,
/// integers near 2^53 and 2^64, every power of two, both sides of the 1e21 and 1e-6/1e-7 layout
/// boundaries, subnormals, and about 6 000 exact ties between two shortest candidates.
const CANONICAL_NUMBERS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../sentinel-tests/tests/fixtures/canonical_numbers.tsv"
));

#[test]
fn numbers_match_node_on_a_large_table() {
    let mut total = 0_usize;
    let mut mismatches = Vec::new();
    for line in CANONICAL_NUMBERS.lines().filter(|line| !line.starts_with('#')) {
        let (bits, expected) = line
            .split_once('\t')
            .unwrap_or_else(|| panic!("bad row {line:?}"));
        let value =
            f64::from_bits(u64::from_str_radix(bits, 16).unwrap_or_else(|_| panic!("bad bits {bits:?}")));
        let number = serde_json::Number::from_f64(value).unwrap_or_else(|| panic!("{bits} is not finite"));
        let actual = canonical_json(&Value::Number(number));
        if actual != expected {
            mismatches.push(format!("{bits} ({value:e}): node {expected}, ours {actual}"));
        }
        total += 1;
    }
    assert!(total >= 30_000, "only {total} values in canonical_numbers.tsv");
    assert!(
        mismatches.is_empty(),
        "{} of {total} numbers differ from node, first ones:\n{}",
        mismatches.len(),
        mismatches[..mismatches.len().min(10)].join("\n")
    );
}

// ---------------------------------------------------------------------------------------
// 2. Key order: UTF-16 code units
// ---------------------------------------------------------------------------------------

#[test]
fn keys_sort_by_utf16_code_units() {
    let keys = [
        "z",
        "a",
        "B",
        "_",
        "\u{E9}",
        "e\u{301}",
        "Z",
        "ab",
        "aa",
        "",
        "\u{E000}",
        "\u{FF61}",
        "\u{FFFF}",
        "\u{1F600}",
        "\u{10000}",
        "\u{10FFFF}",
        "\u{FF}",
        "\u{100}",
        "~",
        "A",
    ];
    let mut object = Map::new();
    for (index, key) in keys.iter().enumerate() {
        object.insert((*key).to_owned(), json!(index));
    }
    // node: const o = {}; [...keys].sort().forEach(k => o[k] = keys.indexOf(k)); JSON.stringify(o)
    let expected =
        "{\"\":9,\"A\":19,\"B\":2,\"Z\":6,\"_\":3,\"a\":1,\"aa\":8,\"ab\":7,\"e\u{301}\":5,\"z\":0,\
                    \"~\":18,\"\u{E9}\":4,\"\u{FF}\":16,\"\u{100}\":17,\"\u{10000}\":14,\"\u{1F600}\":13,\
                    \"\u{10FFFF}\":15,\"\u{E000}\":10,\"\u{FF61}\":11,\"\u{FFFF}\":12}";
    let value = Value::Object(object);
    assert_eq!(canonical_json(&value), expected);
    // Code-point (Rust `str`) order puts U+E000..U+FFFF before the astral keys: not ours.
    assert_ne!(serde_json::to_string(&value).unwrap(), expected);

    // Nested objects are sorted too; arrays keep their order.
    let nested =
        json!({"b": [{"y": 1, "x": 2}, 3, {"\u{FF61}": 0, "\u{1F600}": 0}], "a": {"d": null, "c": true}});
    assert_eq!(
        canonical_json(&nested),
        "{\"a\":{\"c\":true,\"d\":null},\"b\":[{\"x\":2,\"y\":1},3,{\"\u{1F600}\":0,\"\u{FF61}\":0}]}"
    );
}

// ---------------------------------------------------------------------------------------
// 3. Strings: JSON.stringify escaping
// ---------------------------------------------------------------------------------------

#[test]
fn strings_escape_as_json_stringify() {
    // (string, what node's JSON.stringify prints)
    let table: &[(&str, &str)] = &[
        ("", "\"\""),
        ("plain", "\"plain\""),
        ("quote\"", "\"quote\\\"\""),
        ("back\\slash", "\"back\\\\slash\""),
        ("\u{8}\u{C}\n\r\t", "\"\\b\\f\\n\\r\\t\""),
        ("\u{0}\u{1}\u{1F}", "\"\\u0000\\u0001\\u001f\""),
        ("\u{7}\u{B}\u{E}", "\"\\u0007\\u000b\\u000e\""),
        ("a\u{0}b", "\"a\\u0000b\""),
        (" ", "\" \""),
        ("\u{7F}", "\"\u{7F}\""),
        ("\u{80}", "\"\u{80}\""),
        ("\u{2028}\u{2029}", "\"\u{2028}\u{2029}\""),
        ("\u{E9}\u{FC}\u{DF}", "\"\u{E9}\u{FC}\u{DF}\""),
        ("\u{1F600}", "\"\u{1F600}\""),
        ("\u{10FFFF}", "\"\u{10FFFF}\""),
        ("\u{FEFF}", "\"\u{FEFF}\""),
        ("\u{D7FF}\u{E000}", "\"\u{D7FF}\u{E000}\""),
        ("/", "\"/\""),
        ("<script>", "\"<script>\""),
    ];
    for &(text, expected) in table {
        assert_eq!(js(json!(text)), expected, "{text:?}");
        // Keys are escaped the same way.
        assert_eq!(js(json!({ text: 0 })), format!("{{{expected}:0}}"), "{text:?}");
    }
}

// ---------------------------------------------------------------------------------------
// 4. The recorded chain verifies
// ---------------------------------------------------------------------------------------

#[test]
fn signer_key_id_is_derived_from_its_public_key() {
    let (key_id, public) = signer();
    let raw: [u8; 32] = STANDARD.decode(public).unwrap().try_into().unwrap();
    assert_eq!(TrustedKeys::key_id_of(&raw), key_id);
    let trusted = trusted();
    assert!(trusted.contains_key_id(&key_id));
    assert_eq!(trusted.key_ids().collect::<Vec<_>>(), [key_id.as_str()]);
    assert!(!TrustedKeys::new().contains_key_id(&key_id));
    // Debug names keys by id only.
    let debug = format!("{trusted:?}");
    assert!(debug.contains(&key_id) && !debug.contains(&signer().1), "{debug}");
}

#[test]
fn every_fixture_record_verifies() {
    let trusted = trusted();
    let records: Vec<Record> = raw_records()
        .into_iter()
        .map(|raw| Record::from_value(raw).unwrap())
        .collect();
    assert_eq!(records.len(), 17 + 4);
    for record in &records {
        verify_record(record, &trusted).unwrap_or_else(|err| panic!("{err}"));
        assert_eq!(
            action_fingerprint(record.action().kind(), record.action().payload()),
            record.action_fingerprint()
        );
        let hash = Sha256::digest(record.canonical_body().as_bytes());
        assert_eq!(hex(&hash), record.content_hash());
    }
    // records_canonical.json holds the same records as seq 13..16 of records.json.
    let canonical = Record::list_from_json(RECORDS_CANONICAL).unwrap();
    assert_eq!(canonical, chain()[13..]);
}

#[test]
fn the_whole_chain_verifies_from_genesis_and_page_by_page() {
    let trusted = trusted();
    let records = chain();
    assert_eq!(records.len(), 17);
    assert_eq!(records[0].prev_hash(), GENESIS);
    verify_chain(&records, &trusted).unwrap();
    verify_chain_from(&records, &trusted, ChainStart::Genesis).unwrap();

    // A page in the middle, anchored on the record before it.
    let start = ChainStart::after_hash(4, records[4].content_hash());
    verify_chain_from(&records[5..10], &trusted, start).unwrap();
    verify_chain_from(&records[5..10], &trusted, ChainStart::after(&records[4])).unwrap();

    // Page by page, three at a time.
    let mut start = ChainStart::Genesis;
    for page in records.chunks(3) {
        verify_chain_from(page, &trusted, start).unwrap();
        start = ChainStart::after(page.last().unwrap());
    }

    // The awkward-values page continues the chain after seq 12.
    let canonical = Record::list_from_json(RECORDS_CANONICAL).unwrap();
    verify_chain_from(&canonical, &trusted, ChainStart::after(&records[12])).unwrap();

    // The export shape {format, count, records} reads the same.
    let export = format!("{{\"format\":\"json\",\"count\":17,\"records\":{RECORDS}}}");
    verify_chain(&Record::list_from_json(&export).unwrap(), &trusted).unwrap();

    // A record serialized again (by serde_json) still verifies once read back exactly.
    for record in &records {
        let text = serde_json::to_string(record).unwrap();
        verify_record(&Record::from_json(&text).unwrap(), &trusted).unwrap();
    }
}

#[test]
fn a_page_must_be_anchored_where_it_really_starts() {
    let trusted = trusted();
    let records = chain();
    let page = &records[5..10];
    assert_eq!(
        verify_chain(page, &trusted),
        Err(ProvenanceError::SeqGap { seq: 5, expected: 0 })
    );
    let wrong_hash = ChainStart::after_hash(4, records[3].content_hash());
    assert!(matches!(
        verify_chain_from(page, &trusted, wrong_hash),
        Err(ProvenanceError::BrokenLink { seq: 5, .. })
    ));
    assert!(matches!(
        verify_chain_from(page, &trusted, ChainStart::after(&records[3])),
        Err(ProvenanceError::SeqGap { seq: 5, expected: 4 })
    ));
    let after_max = ChainStart::after_hash(u64::MAX, records[4].content_hash());
    assert!(verify_chain_from(page, &trusted, after_max).is_err());
    assert_eq!(verify_chain(&[], &trusted), Err(ProvenanceError::EmptyChain));
}

// ---------------------------------------------------------------------------------------
// 5. Tampering
// ---------------------------------------------------------------------------------------

/// A modified value that differs from `value` (and, for numbers, as a double).
fn changed(value: &Value) -> Value {
    match value {
        Value::Null => json!(0),
        Value::Bool(flag) => json!(!flag),
        Value::Number(number) => {
            let x = number.as_f64().unwrap();
            json!(x * 2.0 + 1.0)
        }
        Value::String(text) => {
            // Change one character: the last one, so hashes and ids keep their shape.
            let mut chars: Vec<char> = text.chars().collect();
            match chars.last_mut() {
                Some(last) => *last = if *last == 'a' { 'b' } else { 'a' },
                None => chars.push('x'),
            }
            json!(chars.into_iter().collect::<String>())
        }
        Value::Array(items) => {
            let mut items = items.clone();
            items.push(json!(null));
            Value::Array(items)
        }
        Value::Object(members) => {
            let mut members = members.clone();
            members.insert("injected".to_owned(), json!(1));
            Value::Object(members)
        }
    }
}

/// Every way of tampering with the tree under `value`, as (description, new tree): change
/// every leaf, rename and drop every member, drop and reorder array elements, add members.
fn tamperings(value: &Value, path: &str, out: &mut Vec<(String, Value)>) {
    // The value itself, changed in place.
    out.push((format!("change {path}"), changed(value)));
    match value {
        Value::Object(members) => {
            for (key, member) in members {
                let mut renamed = members.clone();
                let inner = renamed.remove(key).unwrap();
                renamed.insert(format!("{key}_"), inner);
                out.push((format!("rename {path}.{key}"), Value::Object(renamed)));

                let mut dropped = members.clone();
                dropped.remove(key);
                out.push((format!("drop {path}.{key}"), Value::Object(dropped)));

                let mut nested = Vec::new();
                tamperings(member, &format!("{path}.{key}"), &mut nested);
                for (what, new_member) in nested {
                    let mut copy = members.clone();
                    copy.insert(key.clone(), new_member);
                    out.push((what, Value::Object(copy)));
                }
            }
        }
        Value::Array(items) => {
            for index in 0..items.len() {
                let mut dropped = items.clone();
                dropped.remove(index);
                out.push((format!("drop {path}[{index}]"), Value::Array(dropped)));

                if index + 1 < items.len() && items[index] != items[index + 1] {
                    let mut swapped = items.clone();
                    swapped.swap(index, index + 1);
                    out.push((format!("swap {path}[{index}]"), Value::Array(swapped)));
                }

                let mut nested = Vec::new();
                tamperings(&items[index], &format!("{path}[{index}]"), &mut nested);
                for (what, new_item) in nested {
                    let mut copy = items.clone();
                    copy[index] = new_item;
                    out.push((what, Value::Array(copy)));
                }
            }
        }
        _ => {}
    }
}

#[test]
fn changing_any_signed_field_of_any_record_fails_verification() {
    let trusted = trusted();
    let mut attempts = 0;
    for raw in raw_records() {
        let seq = raw["seq"].as_u64().unwrap();
        check(&raw, &trusted).unwrap();
        let object = raw.as_object().unwrap();

        let mut cases: Vec<(String, Value)> = Vec::new();
        // Top-level members: change, rename, drop (and everything below the free-form ones).
        for (key, member) in object {
            let mut one = Vec::new();
            match key.as_str() {
                "action" => {} // below, member by member
                "context" | "checks" => tamperings(member, key, &mut one),
                _ => one.push((format!("change {key}"), changed(member))),
            }
            for (what, new_member) in one {
                let mut copy = raw.clone();
                copy[key.as_str()] = new_member;
                cases.push((what, copy));
            }
            let mut renamed = object.clone();
            let inner = renamed.remove(key).unwrap();
            renamed.insert(format!("{key}_"), inner);
            cases.push((format!("rename {key}"), Value::Object(renamed)));
            let mut dropped = object.clone();
            dropped.remove(key);
            cases.push((format!("drop {key}"), Value::Object(dropped)));
        }
        // Absent optional fields appearing.
        for key in ["tenant", "reason", "escalationId"] {
            if !object.contains_key(key) {
                let mut copy = raw.clone();
                copy[key] = json!("x");
                cases.push((format!("add {key}"), copy));
            }
        }
        // The action: type, payload and meta are signed (action.id is not, see below).
        let action = raw["action"].as_object().unwrap();
        for key in ["type", "payload", "meta"] {
            let mut one = Vec::new();
            match action.get(key) {
                Some(member) => {
                    tamperings(member, &format!("action.{key}"), &mut one);
                    let mut dropped = action.clone();
                    dropped.remove(key);
                    let mut copy = raw.clone();
                    copy["action"] = Value::Object(dropped);
                    cases.push((format!("drop action.{key}"), copy));
                }
                None => one.push((format!("add action.{key}"), json!({}))),
            }
            for (what, new_member) in one {
                let mut copy = raw.clone();
                copy["action"][key] = new_member;
                cases.push((what, copy));
            }
        }

        for (what, tampered) in cases {
            assert_ne!(tampered, raw, "seq {seq}: {what} changed nothing");
            attempts += 1;
            let result = check(&tampered, &trusted);
            assert!(result.is_err(), "seq {seq}: {what} still verifies");
            if let Err(err) = result {
                // Whatever the reason, it is about this record.
                assert!(
                    err.seq().is_none() || err.seq() == tampered["seq"].as_u64(),
                    "seq {seq}: {what}: {err}"
                );
            }
        }
    }
    // 21 records with dozens of signed leaves each: make sure the loops really ran.
    assert!(attempts > 2000, "only {attempts} tamperings tried");
}

#[test]
fn changes_outside_the_signed_body_do_not_matter() {
    // The control group of the test above: what is not signed may change.
    let trusted = trusted();
    for raw in raw_records() {
        let mut copy = raw.clone();
        copy["action"]["id"] = json!("act_something_else");
        check(&copy, &trusted).unwrap();
        copy["action"].as_object_mut().unwrap().remove("id");
        check(&copy, &trusted).unwrap();
        copy["unsignedExtra"] = json!({"anything": [1, 2]});
        check(&copy, &trusted).unwrap();
        // Member order and whitespace in the text do not matter either.
        let pretty = serde_json::to_string_pretty(&copy).unwrap();
        verify_record(&Record::from_json(&pretty).unwrap(), &trusted).unwrap();
    }
}

#[test]
fn the_reason_is_reported_with_the_record_seq() {
    let trusted = trusted();
    let raw = raw_records()[7].clone();

    let mut copy = raw.clone();
    copy["action"]["payload"]["amount"] = json!(70);
    let err = check(&copy, &trusted).unwrap_err();
    assert!(
        matches!(err, ProvenanceError::ContentHashMismatch { seq: 7, .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().starts_with("record seq 7: content hash mismatch"),
        "{err}"
    );
    assert_eq!(err.seq(), Some(7));

    let mut copy = raw.clone();
    copy["contentHash"] = json!(raw["contentHash"].as_str().unwrap().to_uppercase());
    assert!(matches!(
        check(&copy, &trusted),
        Err(ProvenanceError::ContentHashMismatch { seq: 7, .. })
    ));

    let mut copy = raw.clone();
    copy["sig"] = json!("not base64!");
    let err = check(&copy, &trusted).unwrap_err();
    assert!(
        matches!(err, ProvenanceError::Malformed { seq: Some(7), .. }),
        "{err:?}"
    );

    let mut copy = raw.clone();
    copy["sig"] = json!(STANDARD.encode([0u8; 63]));
    assert!(matches!(
        check(&copy, &trusted),
        Err(ProvenanceError::Malformed { seq: Some(7), .. })
    ));

    let mut copy = raw.clone();
    copy["sig"] = json!(STANDARD.encode([0u8; 64]));
    assert_eq!(
        check(&copy, &trusted),
        Err(ProvenanceError::BadSignature { seq: 7 })
    );

    // A signature of the hex text instead of the 32 raw bytes is not the protocol's.
    let mut copy = raw.clone();
    let public = other_key().verifying_key().to_bytes();
    copy["keyId"] = json!(TrustedKeys::key_id_of(&public));
    copy["signerPublicKey"] = json!(STANDARD.encode(public));
    let body_hash: [u8; 32] = Sha256::digest(canonical_json(&body_of(&copy)).as_bytes()).into();
    copy["contentHash"] = json!(hex(&body_hash));
    copy["sig"] = json!(STANDARD.encode(other_key().sign(hex(&body_hash).as_bytes()).to_bytes()));
    assert_eq!(
        check(&copy, &other_trusted()),
        Err(ProvenanceError::BadSignature { seq: 7 })
    );

    // Not a record at all.
    assert!(matches!(
        Record::from_json("{\"seq\": 3}"),
        Err(ProvenanceError::Malformed { seq: Some(3), .. })
    ));
    assert!(matches!(
        Record::from_json("[]"),
        Err(ProvenanceError::Malformed { seq: None, .. })
    ));
    assert!(Record::from_json("{").is_err());
    assert!(Record::list_from_json("{\"records\": 1}").is_err());
    assert!(Record::list_from_json("3").is_err());
}

#[test]
fn a_repeated_key_is_refused_not_resolved() {
    // {"verdict":"BLOCK", ...the genuine record with "verdict":"ALLOW"...}: which one counts?
    let genuine = canonical_json(&raw_records()[0]);
    assert!(genuine.contains("\"verdict\":\"ALLOW\""));
    let ambiguous = genuine.replacen('{', "{\"verdict\":\"BLOCK\",", 1);
    assert!(matches!(
        Record::from_json(&ambiguous),
        Err(ProvenanceError::Malformed { seq: None, .. })
    ));
    assert!(Record::list_from_json(&format!("[{ambiguous}]")).is_err());
    verify_record(&Record::from_json(&genuine).unwrap(), &trusted()).unwrap();
}

#[test]
fn dropping_swapping_or_inserting_records_breaks_the_chain() {
    let trusted = trusted();
    let records = chain();
    let n = records.len();

    for index in 0..n - 1 {
        let mut dropped = records.clone();
        dropped.remove(index);
        let err = verify_chain(&dropped, &trusted).unwrap_err();
        assert!(
            matches!(err, ProvenanceError::SeqGap { .. }),
            "drop {index}: {err}"
        );
    }
    // Only what is present can be checked: a chain cut after its last record is a valid prefix.
    verify_chain(&records[..n - 1], &trusted).unwrap();

    for index in 0..n - 1 {
        let mut swapped = records.clone();
        swapped.swap(index, index + 1);
        assert!(verify_chain(&swapped, &trusted).is_err(), "swap {index}");
    }

    for index in 0..n {
        let mut repeated = records.clone();
        repeated.insert(index, records[index].clone());
        assert!(verify_chain(&repeated, &trusted).is_err(), "repeat {index}");
    }

    // A record relabelled to fit the hole left by another one breaks its own hash.
    let mut raws: Vec<Value> = parse_json(RECORDS).unwrap().as_array().unwrap().clone();
    let removed = raws.remove(5);
    raws[5]["seq"] = removed["seq"].clone();
    raws[5]["prevHash"] = removed["prevHash"].clone();
    let relabelled: Vec<Record> = raws
        .into_iter()
        .map(|raw| Record::from_value(raw).unwrap())
        .collect();
    assert!(matches!(
        verify_chain(&relabelled[..6], &trusted),
        Err(ProvenanceError::ContentHashMismatch { seq: 5, .. })
    ));

    // An inserted record that links perfectly but was signed by someone else.
    let raws: Vec<Value> = parse_json(RECORDS).unwrap().as_array().unwrap().clone();
    let mut forged = raws[3].clone();
    forged["seq"] = json!(4);
    forged["prevHash"] = raws[3]["contentHash"].clone();
    resign(&mut forged, &other_key());
    let mut with_forgery: Vec<Record> = raws[..4]
        .iter()
        .map(|raw| Record::from_value(raw.clone()).unwrap())
        .collect();
    with_forgery.push(Record::from_value(forged).unwrap());
    let err = verify_chain(&with_forgery, &trusted).unwrap_err();
    assert!(
        matches!(err, ProvenanceError::UntrustedKey { seq: 4, .. }),
        "{err}"
    );
}

#[test]
fn another_key_is_not_trusted() {
    let records = chain();
    let (key_id, _) = signer();
    assert_eq!(
        verify_chain(&records, &other_trusted()),
        Err(ProvenanceError::UntrustedKey {
            seq: 0,
            key_id: key_id.clone()
        })
    );
    assert_eq!(
        verify_chain(&records, &TrustedKeys::new()),
        Err(ProvenanceError::UntrustedKey { seq: 0, key_id })
    );
    // Trusting both keys is fine.
    let both = trusted().with_key_bytes(other_key().verifying_key().to_bytes());
    assert_eq!(both.len(), 2);
    verify_chain(&records, &both).unwrap();
}

#[test]
fn a_signature_by_another_key_claiming_the_trusted_one_fails() {
    let trusted = trusted();
    for raw in raw_records() {
        let seq = raw["seq"].as_u64().unwrap();

        // keyId and signerPublicKey still name the trusted key, hash recomputed, signed by us.
        let mut forged = raw.clone();
        forged["action"]["payload"] = json!({"amount": 1_000_000, "from": "acct_ops", "to": "acct_evil"});
        forged["actionFingerprint"] = json!(action_fingerprint(
            raw["action"]["type"].as_str().unwrap(),
            &forged["action"]["payload"]
        ));
        seal(&mut forged, &other_key());
        assert_eq!(
            check(&forged, &trusted),
            Err(ProvenanceError::BadSignature { seq })
        );

        // Our public key, but the trusted key's id.
        let mut forged = raw.clone();
        forged["signerPublicKey"] = json!(STANDARD.encode(other_key().verifying_key().to_bytes()));
        seal(&mut forged, &other_key());
        assert!(matches!(
            check(&forged, &trusted),
            Err(ProvenanceError::KeyIdMismatch { .. })
        ));

        // Honestly signed by us: verifies only for whoever trusts us.
        let mut ours = raw.clone();
        resign(&mut ours, &other_key());
        check(&ours, &other_trusted()).unwrap();
        assert!(matches!(
            check(&ours, &trusted),
            Err(ProvenanceError::UntrustedKey { .. })
        ));

        // Signed by us over a fingerprint that is not the action's.
        let mut mismatched = ours.clone();
        mismatched["actionFingerprint"] = json!("00".repeat(32));
        seal(&mut mismatched, &other_key());
        assert!(matches!(
            check(&mismatched, &other_trusted()),
            Err(ProvenanceError::FingerprintMismatch { .. })
        ));
    }
}

#[test]
// Some literals are exact tie values (884732411301967.25): clippy measures them against Rust's
// own shortest form, which rounds those ties the other way than JavaScript.
#[allow(clippy::excessive_precision)]
fn numbers_read_from_text_keep_every_bit() {
    // A record carrying numbers serde_json's default float parser would read one bit off;
    // the runtime enables serde_json's `float_roundtrip`, so every reader gets them right.
    let mut raw = raw_records()[0].clone();
    raw["action"]["payload"] =
        json!({"amount": 1936.7400000000002, "rate": 0.30000000000000004, "tie": 884732411301967.25});
    raw["actionFingerprint"] = json!(action_fingerprint("payment", &raw["action"]["payload"]));
    resign(&mut raw, &other_key());
    // The text a JavaScript sidecar would serve.
    let text = canonical_json(&raw);
    assert!(text.contains("\"amount\":1936.7400000000002") && text.contains("\"tie\":884732411301967.2}"));

    verify_record(&Record::from_json(&text).unwrap(), &other_trusted()).unwrap();
    let via_serde: Record = serde_json::from_str(&text).unwrap();
    verify_record(&via_serde, &other_trusted()).unwrap();
    // One bit off in the amount and the hash no longer matches.
    let mut off_by_one_bit: Value = serde_json::from_str(&text).unwrap();
    off_by_one_bit["action"]["payload"]["amount"] = json!(1936.74);
    let off_by_one_bit = Record::from_value(off_by_one_bit).unwrap();
    assert!(matches!(
        verify_record(&off_by_one_bit, &other_trusted()),
        Err(ProvenanceError::ContentHashMismatch { .. })
    ));
}

#[test]
fn bad_trusted_keys_are_refused_without_panicking() {
    for bad in [
        "",
        "not base64",
        "AAAA",
        &STANDARD.encode([1u8; 31]),
        &STANDARD.encode([1u8; 33]),
    ] {
        assert!(
            matches!(
                TrustedKeys::new().with_key_base64(bad),
                Err(ProvenanceError::InvalidKey { .. })
            ),
            "{bad:?}"
        );
    }
    // Raw bytes are taken as given; nothing verifies against a key that is no key.
    let trusted = TrustedKeys::new().with_key_bytes([0xff; 32]);
    assert_eq!(trusted.len(), 1);
    assert!(verify_chain(&chain(), &trusted).is_err());
}

// ---------------------------------------------------------------------------------------
// Keys pinned by id, as the sidecar prints them (`signer ed25519:…`)
// ---------------------------------------------------------------------------------------

#[test]
fn a_key_pinned_by_its_id_trusts_exactly_that_key() {
    let (key_id, _) = signer();
    let by_id = TrustedKeys::new().with_key_id(&key_id).unwrap();
    assert!(by_id.contains_key_id(&key_id));
    // The whole recorded chain verifies under the id alone, as under the key itself.
    verify_chain(&chain(), &by_id).unwrap();
    // The same id in upper case, with blanks, or listed with commas is the same pin.
    assert_eq!(
        TrustedKeys::new()
            .with_key_id(&format!(
                "  ed25519:{} ",
                key_id["ed25519:".len()..].to_ascii_uppercase()
            ))
            .unwrap(),
        by_id
    );
    assert_eq!(format!(" ,{key_id},").parse::<TrustedKeys>().unwrap(), by_id);
    // Pinning the bytes too keeps them: the record must then carry those very bytes.
    let both = by_id.clone().with_key_base64(&signer().1).unwrap();
    assert_eq!(both.len(), 1);
    verify_chain(&chain(), &both).unwrap();

    for raw in raw_records() {
        // Honestly signed by another key (its own id and key): not trusted.
        let mut ours = raw.clone();
        resign(&mut ours, &other_key());
        assert!(
            matches!(check(&ours, &by_id), Err(ProvenanceError::UntrustedKey { .. })),
            "{}",
            raw["seq"]
        );
        // Another key claiming the pinned id: its key does not hash to it.
        let mut claimed = raw.clone();
        claimed["signerPublicKey"] = json!(STANDARD.encode(other_key().verifying_key().to_bytes()));
        seal(&mut claimed, &other_key());
        assert!(matches!(
            check(&claimed, &by_id),
            Err(ProvenanceError::KeyIdMismatch { .. })
        ));
        // The pinned key and id, but signed by another key: the signature fails.
        let mut forged = raw.clone();
        forged["verdict"] = json!("ALLOW");
        seal(&mut forged, &other_key());
        assert!(matches!(
            check(&forged, &by_id),
            Err(ProvenanceError::BadSignature { .. })
        ));
    }
}

#[test]
fn a_key_id_that_is_not_one_is_refused_with_where_ids_come_from() {
    let (key_id, _) = signer();
    let hex = &key_id["ed25519:".len()..];
    for bad in [
        String::new(),
        hex.to_owned(),
        format!("ed25519:{}", &hex[1..]),
        format!("ed25519:{hex}0"),
        format!("ed25519:{}g", &hex[1..]),
        format!("sha256:{hex}"),
        signer().1,
    ] {
        let err = TrustedKeys::new().with_key_id(&bad).unwrap_err();
        assert!(
            matches!(&err, ProvenanceError::InvalidKey { reason } if reason.contains("signer ed25519:")),
            "{bad:?}: {err}"
        );
    }
    for bad_list in ["", " , ", &format!("{key_id},nope")] {
        assert!(bad_list.parse::<TrustedKeys>().is_err(), "{bad_list:?}");
    }
}
