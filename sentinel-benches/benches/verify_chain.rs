//! How fast a chain of signed records is verified: this library before and after the
//! streaming verifier, the sidecar's own verifier, and the machine's limit, as ratios from
//! one run, printed as a markdown table (BENCHMARKS.md, "Verifying a chain").
//!
//! ```text
//! cargo bench -p sentinel-benches --bench verify_chain                 # 1 000 000 records
//! cargo bench -p sentinel-benches --bench verify_chain -- 200000       # fewer
//! ```
//!
//! The chain is generated once (signed as the sidecar signs, with its default key) into
//! `$SENTINEL_CHAIN_DIR` (default: the system's temporary directory) and reused; it is never
//! in git. The sidecar's verifier is timed when the installed real sidecar is found
//! (`$SENTINEL_SIDECAR_APP`, default `${TMPDIR:-/tmp}/sentinel-sidecar-peer/app`, which
//! `../shared/peers/sentinel-sidecar.sh start` installs) and node is on the PATH.
//! Nothing here asserts on time; every loop is bounded by the chain's length.

use std::fs::File;
use std::hint::black_box;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use base64::Engine as _;
use ed25519_dalek::{Signature, VerifyingKey};
use sentinel::provenance::{
    verify_chain_from, ChainStart, ChainVerifier, Record, RecordTexts, SignatureCheck, TrustedKeys,
};
use sentinel::testing::SignedChain;
use sha2::{Digest, Sha256};

/// The sidecar start script's default signing seed: bytes 0..31.
const SEED: [u8; 32] = {
    let mut seed = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        seed[i] = i as u8;
        i += 1;
    }
    seed
};

/// Records timed for the slower verifiers (the library before, node): their rate is flat.
const SAMPLE: usize = 100_000;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    if args.first().map(String::as_str) == Some("child-verify") {
        child_verify(Path::new(&args[1]), &args[2]);
        return;
    }
    let records: usize = args.first().and_then(|n| n.parse().ok()).unwrap_or(1_000_000);
    let file = chain_file(records);
    let chain = SignedChain::new(SEED);
    let trusted = chain.trusted_keys();
    let sample_file = head_file(&file, SAMPLE.min(records));
    println!(
        "chain: {records} records, {} MiB, {}; load average {}",
        std::fs::metadata(&file).map_or(0, |m| m.len() >> 20),
        file.display(),
        load_average()
    );

    let limit = hardware_limit(&sample_file, &trusted);
    let before = library_before(&sample_file, &trusted);
    let (after, peak_kib) = library_after(&file, chain.key_id(), records);
    let one_core = library_one_core(&sample_file, &trusted);
    let strict = library_strict(&sample_file, &trusted);
    let node = node_paged(&sample_file, chain.key_id());
    let framing = framing(&sample_file);

    println!();
    println!("| verifier | records | records/s | vs the library before | vs the sidecar's own |");
    println!("|---|---:|---:|---:|---:|");
    let row = |name: &str, n: usize, rate: f64| {
        let vs_node = node.map_or("—".to_owned(), |node| format!("{:.1}×", rate / node));
        println!("| {name} | {n} | {rate:.0} | {:.2}× | {vs_node} |", rate / before);
    };
    row(
        "the library before: `Record::from_json` + `verify_chain_from`, pages of 1000, one thread",
        SAMPLE.min(records),
        before,
    );
    if let Some(node) = node {
        row(
            "the sidecar's own `verifyChainPaged` (node, pages of 1000)",
            SAMPLE.min(records),
            node,
        );
    }
    row(
        "`ChainVerifier`, one worker, batch signatures",
        SAMPLE.min(records),
        one_core,
    );
    row(
        "`ChainVerifier`, every core, `SignatureCheck::Strict`",
        SAMPLE.min(records),
        strict,
    );
    row(
        &format!(
            "**`ChainVerifier`, every core, batch signatures** (peak RSS {} MiB)",
            peak_kib >> 10
        ),
        records,
        after,
    );
    row(
        "the machine's limit on every core (parse + SHA-256 + batch Ed25519, no overhead)",
        0,
        limit.two_cores,
    );
    println!();
    println!(
        "per record on one core: typed parse {:.2} µs, canonical body + SHA-256 {:.2} µs, Ed25519 batch (256) {:.2} µs, `verify_strict` {:.2} µs; cores used: {}",
        limit.parse_us,
        limit.hash_us,
        limit.batch_us,
        limit.strict_us,
        limit.cores
    );
    println!(
        "framing the export alone (the reader thread's share), MiB/s: the hand-written scanner \
         (`RecordTexts`) {:.0}, serde_json's `StreamDeserializer` of `Box<RawValue>` {:.0} ({:.2}×)",
        framing.scanner_mib_s,
        framing.serde_mib_s,
        framing.serde_mib_s / framing.scanner_mib_s
    );
    println!();
    println!(
        "RESULT: the streaming verifier {after:.0} records/s = {:.0} % of the two-core limit measured \
         in this run ({:.0} records/s); peak RSS {} MiB; load average at the end {}",
        100.0 * after / limit.two_cores,
        limit.two_cores,
        peak_kib >> 10,
        load_average()
    );
}

struct Framing {
    scanner_mib_s: f64,
    serde_mib_s: f64,
}

/// The export split into record texts, nothing verified: `RecordTexts` against serde_json's
/// streaming deserializer (the alternative a reviewer asked about), over the same buffered
/// file, each reading every record's text into a `String` as the verifier's reader thread does.
fn framing(sample: &Path) -> Framing {
    let bytes = std::fs::metadata(sample).map_or(0, |m| m.len()) as f64 / (1 << 20) as f64;
    let (mut scanner, mut serde) = (0.0f64, 0.0f64);
    // Best of three each, alternated: the machine's load moves.
    for _ in 0..3 {
        let input = BufReader::with_capacity(1 << 16, File::open(sample).expect("open"));
        let started = Instant::now();
        let mut count = 0usize;
        for text in RecordTexts::new(input) {
            count += black_box(text.expect("a record text")).len();
        }
        black_box(count);
        scanner = scanner.max(bytes / started.elapsed().as_secs_f64());

        let input = BufReader::with_capacity(1 << 16, File::open(sample).expect("open"));
        let started = Instant::now();
        let mut count = 0usize;
        for text in
            serde_json::Deserializer::from_reader(input).into_iter::<Box<serde_json::value::RawValue>>()
        {
            count += black_box(String::from(text.expect("a record text").get())).len();
        }
        black_box(count);
        serde = serde.max(bytes / started.elapsed().as_secs_f64());
    }
    Framing {
        scanner_mib_s: scanner,
        serde_mib_s: serde,
    }
}

/// The chain file of `records` records, generated if it is not there yet.
fn chain_file(records: usize) -> PathBuf {
    let dir = std::env::var_os("SENTINEL_CHAIN_DIR").map_or_else(std::env::temp_dir, PathBuf::from);
    let file = dir.join(format!("sentinel-chain-{records}.jsonl"));
    if std::fs::metadata(&file).is_ok_and(|m| m.len() > 0) {
        return file;
    }
    eprintln!(
        "generating {records} signed records into {} (once)",
        file.display()
    );
    let partial = file.with_extension("partial");
    let mut out = BufWriter::new(File::create(&partial).expect("create the chain file"));
    let mut chain = SignedChain::new(SEED);
    let started = Instant::now();
    for n in 0..records {
        writeln!(out, "{}", chain.next_record()).expect("write the chain file");
        if n % 100_000 == 99_999 {
            eprintln!("  {} records, {:.0} s", n + 1, started.elapsed().as_secs_f64());
        }
    }
    out.flush().expect("write the chain file");
    drop(out);
    std::fs::rename(&partial, &file).expect("rename the chain file");
    file
}

/// The first `records` lines of `file`, as a file of their own.
fn head_file(file: &Path, records: usize) -> PathBuf {
    let head = file.with_file_name(format!("sentinel-chain-head-{records}.jsonl"));
    if std::fs::metadata(&head).is_ok_and(|m| m.len() > 0) {
        return head;
    }
    let input = BufReader::new(File::open(file).expect("open the chain file"));
    let mut out = BufWriter::new(File::create(&head).expect("create the head file"));
    for line in input.lines().take(records) {
        writeln!(out, "{}", line.expect("read the chain file")).expect("write the head file");
    }
    out.flush().expect("write the head file");
    head
}

fn lines(file: &Path) -> Vec<String> {
    BufReader::new(File::open(file).expect("open"))
        .lines()
        .map(|line| line.expect("read"))
        .collect()
}

struct Limit {
    parse_us: f64,
    hash_us: f64,
    batch_us: f64,
    strict_us: f64,
    cores: usize,
    two_cores: f64,
}

/// What one record costs at the least on one core, each part timed alone over the sample:
/// a typed parse with borrowed strings, SHA-256 of the canonical body, and Ed25519 batch
/// verification (256 a batch); and `verify_strict` one by one, for comparison.
fn hardware_limit(sample: &Path, trusted: &TrustedKeys) -> Limit {
    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct Typed<'a> {
        #[serde(borrow)]
        id: std::borrow::Cow<'a, str>,
        seq: u64,
        #[serde(borrow, rename = "prevHash")]
        prev_hash: std::borrow::Cow<'a, str>,
        #[serde(borrow, rename = "contentHash")]
        content_hash: std::borrow::Cow<'a, str>,
        #[serde(borrow)]
        sig: std::borrow::Cow<'a, str>,
        action: serde_json::Value,
        context: serde_json::Value,
        checks: serde_json::Value,
    }
    let texts = lines(sample);
    let n = texts.len() as f64;
    let records: Vec<Record> = texts
        .iter()
        .map(|t| Record::from_json(t).expect("a record"))
        .collect();

    let started = Instant::now();
    for text in &texts {
        black_box(serde_json::from_str::<Typed>(text).expect("typed parse"));
    }
    let parse_us = started.elapsed().as_secs_f64() * 1e6 / n;

    let bodies: Vec<String> = records.iter().map(Record::canonical_body).collect();
    let started = Instant::now();
    let digests: Vec<[u8; 32]> = bodies
        .iter()
        .map(|b| Sha256::digest(b.as_bytes()).into())
        .collect();
    let hash_us = started.elapsed().as_secs_f64() * 1e6 / n;

    let key_bytes: [u8; 32] = base64::engine::general_purpose::STANDARD
        .decode(records[0].signer_public_key())
        .expect("key")
        .try_into()
        .expect("32 bytes");
    assert!(trusted.contains_key_id(&TrustedKeys::key_id_of(&key_bytes)));
    let key = VerifyingKey::from_bytes(&key_bytes).expect("key");
    let signatures: Vec<Signature> = records
        .iter()
        .map(|r| {
            let bytes: [u8; 64] = base64::engine::general_purpose::STANDARD
                .decode(r.sig())
                .expect("sig")
                .try_into()
                .expect("64 bytes");
            Signature::from_bytes(&bytes)
        })
        .collect();
    let started = Instant::now();
    for (digests, signatures) in digests.chunks(256).zip(signatures.chunks(256)) {
        let messages: Vec<&[u8]> = digests.iter().map(|d| d.as_slice()).collect();
        let keys = vec![key; messages.len()];
        ed25519_dalek::verify_batch(&messages, signatures, &keys).expect("the batch verifies");
    }
    let batch_us = started.elapsed().as_secs_f64() * 1e6 / n;
    let strict_n = texts.len().min(20_000);
    let started = Instant::now();
    for (digest, signature) in digests.iter().zip(&signatures).take(strict_n) {
        key.verify_strict(digest, signature).expect("verifies");
    }
    let strict_us = started.elapsed().as_secs_f64() * 1e6 / strict_n as f64;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    Limit {
        parse_us,
        hash_us,
        batch_us,
        strict_us,
        cores,
        two_cores: cores as f64 * 1e6 / (parse_us + hash_us + batch_us),
    }
}

/// The library as it was: every record parsed, then verified a page of 1000 at a time.
fn library_before(sample: &Path, trusted: &TrustedKeys) -> f64 {
    let input = BufReader::new(File::open(sample).expect("open"));
    let started = Instant::now();
    let mut start = ChainStart::Genesis;
    let mut page = Vec::with_capacity(1000);
    let mut count = 0usize;
    let mut flush = |page: &mut Vec<Record>, start: &mut ChainStart| {
        verify_chain_from(page, trusted, start.clone()).expect("the chain verifies");
        *start = ChainStart::after(page.last().expect("a record"));
        count += page.len();
        page.clear();
    };
    for line in input.lines() {
        page.push(Record::from_json(&line.expect("read")).expect("a record"));
        if page.len() == 1000 {
            flush(&mut page, &mut start);
        }
    }
    if !page.is_empty() {
        flush(&mut page, &mut start);
    }
    count as f64 / started.elapsed().as_secs_f64()
}

/// The streaming verifier over the whole file, in a process of its own so its peak RSS is
/// its own: (records/s, peak RSS KiB).
fn library_after(file: &Path, key_id: &str, records: usize) -> (f64, u64) {
    let output = Command::new(std::env::current_exe().expect("this bench"))
        .args(["child-verify", &file.display().to_string(), key_id])
        .output()
        .expect("run the child");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "child failed: {text} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut fields = text.split_whitespace();
    let verified: usize = fields.next().and_then(|f| f.parse().ok()).expect("records");
    let seconds: f64 = fields.next().and_then(|f| f.parse().ok()).expect("seconds");
    let peak: u64 = fields.next().and_then(|f| f.parse().ok()).expect("peak");
    assert_eq!(verified, records);
    (verified as f64 / seconds, peak)
}

fn child_verify(file: &Path, key_id: &str) {
    let mut chain = SignedChain::new(SEED);
    assert_eq!(chain.key_id(), key_id);
    let trusted = chain.trusted_keys();
    let _ = chain.next_record();
    let started = Instant::now();
    let input = BufReader::with_capacity(1 << 16, File::open(file).expect("open"));
    let verified = ChainVerifier::new(&trusted)
        .verify(RecordTexts::new(input), |_| {})
        .expect("the chain verifies");
    let seconds = started.elapsed().as_secs_f64();
    println!("{} {seconds} {}", verified.verified, peak_rss_kib());
}

fn library_one_core(sample: &Path, trusted: &TrustedKeys) -> f64 {
    timed(sample, ChainVerifier::new(trusted).workers(1))
}

fn library_strict(sample: &Path, trusted: &TrustedKeys) -> f64 {
    timed(
        sample,
        ChainVerifier::new(trusted).signatures(SignatureCheck::Strict),
    )
}

fn timed(sample: &Path, verifier: ChainVerifier<'_>) -> f64 {
    let input = BufReader::new(File::open(sample).expect("open"));
    let started = Instant::now();
    let verified = verifier
        .verify(RecordTexts::new(input), |_| {})
        .expect("the chain verifies");
    verified.verified as f64 / started.elapsed().as_secs_f64()
}

/// The sidecar's `verifyChainPaged` over the sample, when node and the installed sidecar
/// are there: records/s, the time node reports (reading, parsing and verifying).
fn node_paged(sample: &Path, key_id: &str) -> Option<f64> {
    let app = std::env::var_os("SENTINEL_SIDECAR_APP").map_or_else(
        || std::env::temp_dir().join("sentinel-sidecar-peer").join("app"),
        PathBuf::from,
    );
    let tsx = app.join("node_modules/.bin/tsx");
    if !tsx.exists() {
        println!(
            "the sidecar's verifier: skipped ({} not found; `sentinel-sidecar.sh start` installs it)",
            tsx.display()
        );
        return None;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sentinel-tests/tests/peer/verify_chain.mts");
    let output = Command::new("node")
        .arg(&tsx)
        .arg(&script)
        .arg(sample)
        .arg(key_id)
        .arg("paged")
        .env("SIDECAR_APP", &app)
        .output()
        .ok()?;
    let answer: serde_json::Value = serde_json::from_slice(&output.stdout).ok()?;
    assert_eq!(
        answer["ok"], true,
        "the sidecar's verifier accepts the chain: {answer}"
    );
    let records = answer["records"].as_f64()?;
    let ms = answer["ms"].as_f64()?;
    Some(records * 1000.0 / ms)
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}
