//! `ChainVerifier` (the streaming, multi-threaded chain verifier) against the reference
//! `verify_chain_from`: the same verdict and the same error, naming the same record, for a
//! whole chain and for every tampering of every member of records in several chunks; and
//! its checkpoint, deadline, record cap and input errors.

use std::time::{Duration, Instant};

use sentinel::provenance::{
    verify_chain_from, ChainStart, ChainVerifier, Checkpoint, InputError, ProvenanceError, Record,
    RecordTexts, SignatureCheck, StopReason, StreamError, TrustedKeys, VerifiedChain,
};
use sentinel::testing::SignedChain;
use serde_json::{json, Map, Value};

const SEED: [u8; 32] = [42; 32];

fn chain(records: usize) -> (Vec<String>, TrustedKeys) {
    let mut chain = SignedChain::new(SEED);
    let texts = (0..records).map(|_| chain.next_record()).collect();
    (texts, chain.trusted_keys())
}

/// Chunks of 16 records, so short chains (tests run unoptimized) still span several.
const CHUNK: usize = 16;

fn ours(texts: &[String], trusted: &TrustedKeys, check: SignatureCheck) -> Result<VerifiedChain, String> {
    let source = texts.iter().cloned().map(Ok::<_, InputError>);
    ChainVerifier::new(trusted)
        .chunk_records(CHUNK)
        .signatures(check)
        .verify(source, |_| {})
        .map_err(|e| match e {
            StreamError::Chain(e) => describe(&e),
            other => format!("not a chain error: {other}"),
        })
}

/// The reference: every record parsed, then `verify_chain_from` from GENESIS.
fn reference(texts: &[String], trusted: &TrustedKeys) -> Result<(), String> {
    let records = texts
        .iter()
        .map(|text| Record::from_json(text))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| describe(&e))?;
    verify_chain_from(&records, trusted, ChainStart::Genesis).map_err(|e| describe(&e))
}

/// An error as compared: its variant and record, and all of it but a parse error's wording.
fn describe(error: &ProvenanceError) -> String {
    match error {
        ProvenanceError::Malformed { seq, .. } => format!("Malformed at {seq:?}"),
        other => format!("{other:?}"),
    }
}

#[test]
fn a_whole_chain_verifies_with_its_head_and_progress() {
    let (texts, trusted) = chain(1000);
    let mut seen = Vec::new();
    let verified = ChainVerifier::new(&trusted)
        .workers(3)
        // Four chunks (the default, 1024, would hold the whole chain in one).
        .chunk_records(250)
        .verify(texts.iter().cloned().map(Ok::<_, InputError>), |p| {
            seen.push(p.verified)
        })
        .unwrap();
    let last = Record::from_json(&texts[999]).unwrap();
    assert_eq!(verified.verified, 1000);
    assert_eq!(verified.head, Checkpoint::new(999, last.content_hash()));
    assert_eq!(seen.last(), Some(&1000));
    assert!(
        seen.windows(2).all(|w| w[0] < w[1]),
        "progress goes forward: {seen:?}"
    );
    assert!(seen.len() >= 4, "progress after each chunk: {seen:?}");
}

#[test]
fn a_file_as_json_lines_or_as_an_array_verifies_alike() {
    let (texts, trusted) = chain(300);
    let lines = texts.join("\n") + "\n";
    let array = format!("[\n{}\n]", texts.join(",\n"));
    for file in [lines, array] {
        let verified = ChainVerifier::new(&trusted)
            .verify(RecordTexts::new(file.as_bytes()), |_| {})
            .unwrap();
        assert_eq!(verified.verified, 300);
    }
}

/// Every leaf of a record changed in turn (a string's first character, a number plus one, a
/// boolean negated), and the record removed, moved, repeated and re-signed: the streaming
/// verifier says exactly what the reference says, in batch and in strict mode.
#[test]
fn every_tampering_gets_the_reference_verdict_and_record() {
    let (texts, trusted) = chain(40);
    // The first record, the last of a chunk, the first of the next, one inside, the last.
    let targets = [0usize, CHUNK - 1, CHUNK, 20, 39];
    let mut cases = 0;
    for &target in &targets {
        let original: Value = serde_json::from_str(&texts[target]).unwrap();
        for path in leaves(&original, Vec::new()) {
            let mut changed = original.clone();
            tamper(pointer_mut(&mut changed, &path));
            let mut tampered = texts.clone();
            tampered[target] = changed.to_string();
            compare(&tampered, &trusted, &format!("record {target}, member {path:?}"));
            cases += 1;
        }
        let mut dropped = texts.clone();
        dropped.remove(target);
        compare(&dropped, &trusted, &format!("record {target} dropped"));
        if target + 1 < texts.len() {
            let mut swapped = texts.clone();
            swapped.swap(target, target + 1);
            compare(
                &swapped,
                &trusted,
                &format!("records {target} and {} swapped", target + 1),
            );
        }
        let mut repeated = texts.clone();
        repeated.insert(target, texts[target].clone());
        compare(&repeated, &trusted, &format!("record {target} repeated"));
        cases += 3;
    }
    assert!(cases > 200, "{cases} cases");
}

fn compare(texts: &[String], trusted: &TrustedKeys, case: &str) {
    let expected = reference(texts, trusted);
    for check in [SignatureCheck::Batch, SignatureCheck::Strict] {
        let found = ours(texts, trusted, check).map(|_| ());
        assert_eq!(found, expected, "{case} ({check:?})");
    }
}

/// The JSON pointer paths of every leaf (string, number, boolean, null) of a value.
fn leaves(value: &Value, path: Vec<String>) -> Vec<Vec<String>> {
    match value {
        Value::Object(members) => members
            .iter()
            .flat_map(|(key, member)| {
                let mut path = path.clone();
                path.push(key.clone());
                leaves(member, path)
            })
            .collect(),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .flat_map(|(index, item)| {
                let mut path = path.clone();
                path.push(index.to_string());
                leaves(item, path)
            })
            .collect(),
        _ => vec![path],
    }
}

fn pointer_mut<'v>(value: &'v mut Value, path: &[String]) -> &'v mut Value {
    path.iter().fold(value, |value, step| match value {
        Value::Array(items) => &mut items[step.parse::<usize>().unwrap()],
        other => &mut other[step.as_str()],
    })
}

fn tamper(leaf: &mut Value) {
    *leaf = match leaf.take() {
        Value::String(text) => {
            let mut chars: Vec<char> = text.chars().collect();
            // Another character of the same kind, so base64 and hex stay well-formed.
            chars[0] = match chars[0] {
                'a' => 'b',
                'A' => 'B',
                '0' => '1',
                c if c.is_ascii_digit() => '0',
                c if c.is_ascii_lowercase() => 'a',
                c if c.is_ascii_uppercase() => 'A',
                _ => 'x',
            };
            Value::String(chars.into_iter().collect())
        }
        Value::Number(n) => json!(n.as_u64().unwrap_or(0) + 1),
        Value::Bool(b) => Value::Bool(!b),
        Value::Null => json!("null"),
        other => other,
    };
}

#[test]
fn records_signed_by_an_unpinned_key_or_resigned_out_of_place_are_named() {
    let (mut texts, trusted) = chain(40);
    let after_29 = Checkpoint::new(
        29,
        Record::from_json(&texts[29]).unwrap().content_hash().to_owned(),
    );
    // A record made under another key, consistent in itself and linked in place.
    let mut forger = SignedChain::new([9; 32]).resume(&after_29);
    let mut unpinned = texts.clone();
    unpinned[30] = forger.next_record();
    compare(&unpinned, &trusted, "a record signed by an unpinned key");
    assert_eq!(
        ours(&unpinned, &trusted, SignatureCheck::Batch).unwrap_err(),
        describe(&ProvenanceError::UntrustedKey {
            seq: 30,
            key_id: forger.key_id().to_owned()
        })
    );
    // The pinned key's holder re-signs record 30 with another amount: it verifies on its
    // own, and record 31 no longer links to it.
    let mut resigner = SignedChain::new(SEED).resume(&after_29);
    let mut members: Map<String, Value> = serde_json::from_str(&texts[30]).unwrap();
    members["action"]["payload"]["amount"] = json!(999_999);
    for derived in [
        "seq",
        "prevHash",
        "actionFingerprint",
        "keyId",
        "signerPublicKey",
        "contentHash",
        "sig",
    ] {
        members.remove(derived);
    }
    texts[30] = resigner.sign(members);
    let error = ours(&texts, &trusted, SignatureCheck::Batch).unwrap_err();
    assert!(error.starts_with("BrokenLink { seq: 31"), "{error}");
    compare(&texts, &trusted, "a record re-signed under the pinned key");
}

#[test]
fn a_repeated_key_is_refused_where_the_reference_refuses_it() {
    let (mut texts, trusted) = chain(10);
    texts[4] = texts[4].replacen(
        "\"verdict\":\"ALLOW\"",
        "\"verdict\":\"BLOCK\",\"verdict\":\"ALLOW\"",
        1,
    );
    compare(&texts, &trusted, "a repeated key");
    // The record has no seq that can be trusted: it is named by its place in the input.
    let error = ChainVerifier::new(&trusted)
        .verify(texts.iter().cloned().map(Ok::<_, InputError>), |_| {})
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("record 4 of the input (counting from 0, after seq 3)"),
        "{error}"
    );
    assert!(error.contains("duplicate key `verdict`"), "{error}");
}

fn resume(
    texts: &[String],
    trusted: &TrustedKeys,
    checkpoint: Checkpoint,
) -> Result<VerifiedChain, StreamError<InputError>> {
    ChainVerifier::new(trusted)
        .resume_from(checkpoint)
        .verify(texts.iter().cloned().map(Ok), |_| {})
}

#[test]
fn a_checkpoint_tells_a_cut_or_rewritten_chain_from_a_whole_one() {
    let (texts, trusted) = chain(600);
    let hash = |seq: usize| Record::from_json(&texts[seq]).unwrap().content_hash().to_owned();
    let checkpoint = Checkpoint::new(400, hash(400));

    // The whole export: records before the checkpoint are passed over.
    let verified = resume(&texts, &trusted, checkpoint.clone()).unwrap();
    assert_eq!((verified.verified, verified.skipped), (200, 400));
    assert_eq!(verified.head, Checkpoint::new(599, hash(599)));
    // From the checkpoint's record, or from the one after it.
    assert_eq!(
        resume(&texts[400..], &trusted, checkpoint.clone())
            .unwrap()
            .verified,
        200
    );
    assert_eq!(
        resume(&texts[401..], &trusted, checkpoint.clone())
            .unwrap()
            .verified,
        199
    );
    // Nothing new since: the checkpoint's record alone.
    assert_eq!(
        resume(&texts[400..401], &trusted, checkpoint.clone())
            .unwrap()
            .head,
        checkpoint
    );

    // The end cut off before the checkpoint: a prefix verifies on its own, not with it.
    assert!(reference(&texts[..350], &trusted).is_ok());
    match resume(&texts[..350], &trusted, checkpoint.clone()) {
        Err(StreamError::CheckpointNotReached {
            last_seq: Some(349), ..
        }) => {}
        other => panic!("{other:?}"),
    }
    // Another record at the checkpoint's seq.
    match resume(&texts, &trusted, Checkpoint::new(400, hash(401))) {
        Err(StreamError::CheckpointMismatch { found, .. }) => assert_eq!(found, hash(400)),
        other => panic!("{other:?}"),
    }
    // Records after the checkpoint that do not link to it.
    match resume(&texts[401..], &trusted, Checkpoint::new(400, hash(399))) {
        Err(StreamError::Chain(ProvenanceError::BrokenLink { seq: 401, .. })) => {}
        other => panic!("{other:?}"),
    }
    match resume(&texts[402..], &trusted, checkpoint) {
        Err(StreamError::Chain(ProvenanceError::SeqGap {
            seq: 402,
            expected: 400,
        })) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_deadline_or_a_record_cap_stops_it_with_what_was_verified() {
    let (texts, trusted) = chain(600);
    let endless = texts.iter().cloned().map(Ok::<_, InputError>).cycle();
    match ChainVerifier::new(&trusted)
        .max_records(300)
        .verify(endless, |_| {})
    {
        Err(StreamError::Stopped {
            reason: StopReason::RecordCap,
            verified: Some(verified),
        }) => assert_eq!(verified.verified, 300),
        other => panic!("{other:?}"),
    }
    // Exactly the cap and nothing more: the chain is whole.
    let exact = ChainVerifier::new(&trusted)
        .max_records(600)
        .verify(texts.iter().cloned().map(Ok::<_, InputError>), |_| {});
    assert_eq!(exact.unwrap().verified, 600);

    let endless = texts.iter().cloned().map(Ok::<_, InputError>).cycle();
    let started = Instant::now();
    match ChainVerifier::new(&trusted)
        .deadline(Instant::now() + Duration::from_millis(300))
        .verify(endless, |_| {})
    {
        // The cycle repeats seq 0 after 599: the deadline or that, whichever comes first.
        Err(StreamError::Stopped {
            reason: StopReason::Deadline,
            ..
        })
        | Err(StreamError::Chain(ProvenanceError::SeqGap {
            seq: 0,
            expected: 600,
        })) => {}
        other => panic!("{other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(30));

    // A deadline already passed: nothing is claimed.
    match ChainVerifier::new(&trusted)
        .deadline(Instant::now())
        .verify(texts.iter().cloned().map(Ok::<_, InputError>), |_| {})
    {
        Err(StreamError::Stopped {
            reason: StopReason::Deadline,
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_unreadable_input_is_reported_after_the_records_before_it() {
    let (texts, trusted) = chain(300);
    let file = format!("[{},{} oops]", texts[..299].join(","), texts[299]);
    match ChainVerifier::new(&trusted).verify(RecordTexts::new(file.as_bytes()), |_| {}) {
        Err(StreamError::Source {
            error: InputError::Framing { index: 300, .. },
            verified: Some(verified),
        }) => assert_eq!(verified.verified, 300),
        other => panic!("{other:?}"),
    }
    // A record broken before the unreadable part is the first problem.
    let mut broken = texts.clone();
    broken[10] = broken[10].replacen("\"tenant\":\"acme\"", "\"tenant\":\"acne\"", 1);
    let file = format!("[{},{} oops]", broken[..299].join(","), broken[299]);
    match ChainVerifier::new(&trusted).verify(RecordTexts::new(file.as_bytes()), |_| {}) {
        Err(StreamError::Chain(ProvenanceError::ContentHashMismatch { seq: 10, .. })) => {}
        other => panic!("{other:?}"),
    }
    match ChainVerifier::new(&trusted).verify(RecordTexts::new("".as_bytes()), |_| {}) {
        Err(StreamError::Chain(ProvenanceError::EmptyChain)) => {}
        other => panic!("{other:?}"),
    }
}

/// A source that panics part-way (its own code, on the reader thread) did not end: the
/// records verified before are a prefix, never a verified chain.
#[test]
fn a_reader_that_panics_is_a_failure_not_the_end_of_the_chain() {
    let (texts, trusted) = chain(40);
    let source = texts
        .into_iter()
        .map(Ok::<_, InputError>)
        .chain(std::iter::from_fn(|| -> Option<Result<String, InputError>> {
            panic!("the source failed mid-chain")
        }));
    let result = ChainVerifier::new(&trusted)
        .chunk_records(CHUNK)
        .verify(source, |_| {});
    match result {
        Err(StreamError::ReaderFailed { verified }) => {
            assert!(verified.is_some_and(|v| v.verified <= 40));
        }
        other => panic!("expected ReaderFailed, got {other:?}"),
    }
}
