//! Canonical JSON and record verification on arbitrary text.
//!
//! Invariants (a violation aborts, so libFuzzer records a crash):
//! - nothing panics;
//! - canonical JSON is a fixed point: the canonical form of any value `parse_json` accepts
//!   parses again, and its canonical form is the same text;
//! - no forgery: a record (or a chain of records) that verifies against the conformance
//!   signer's key has exactly the canonical body of one of the genuine records, so only
//!   what the sidecar signed ever verifies.
#![no_main]

use std::collections::HashMap;
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use sentinel_runtime::provenance::{
    canonical_json, parse_json, verify_chain, verify_record, Record, TrustedKeys,
};

const SIGNER_KEY: &str = "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=";
const RECORDS: &str = include_str!("../../sentinel-tests/tests/fixtures/records.json");
const RECORDS_CANONICAL: &str = include_str!("../../sentinel-tests/tests/fixtures/records_canonical.json");

static TRUSTED: LazyLock<TrustedKeys> = LazyLock::new(|| {
    TrustedKeys::new()
        .with_key_base64(SIGNER_KEY)
        .expect("the signer key")
});

/// contentHash → canonical body of every genuine record.
static GENUINE: LazyLock<HashMap<String, String>> = LazyLock::new(|| {
    let mut genuine = HashMap::new();
    for text in [RECORDS, RECORDS_CANONICAL] {
        for record in Record::list_from_json(text).expect("the conformance records parse") {
            verify_record(&record, &TRUSTED).expect("the conformance records verify");
            genuine.insert(record.content_hash().to_owned(), record.canonical_body());
        }
    }
    genuine
});

fn assert_genuine(record: &Record) {
    let body = GENUINE.get(record.content_hash());
    assert_eq!(
        body.map(String::as_str),
        Some(record.canonical_body().as_str()),
        "a record that is not one the sidecar signed verified: {record:?}"
    );
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };

    if let Ok(value) = parse_json(text) {
        let canonical = canonical_json(&value);
        let reparsed = parse_json(&canonical)
            .unwrap_or_else(|e| panic!("canonical JSON {canonical:?} does not parse: {e}"));
        assert_eq!(
            canonical_json(&reparsed),
            canonical,
            "canonical JSON is not a fixed point"
        );
    }

    if let Ok(record) = Record::from_json(text) {
        let _ = record.canonical_body();
        if verify_record(&record, &TRUSTED).is_ok() {
            assert_genuine(&record);
        }
    }

    if let Ok(records) = Record::list_from_json(text) {
        if verify_chain(&records, &TRUSTED).is_ok() {
            records.iter().for_each(assert_genuine);
        }
    }
});
