//! `verify_export` over a long chain in bounded memory: a raw server signs records on the fly
//! (nothing stored on either side beyond one page), the client pages through `/v1/export`
//! and verifies each page after the last. Ignored by default (it is a measurement):
//!
//! ```sh
//! SENTINEL_CHAIN_RECORDS=1000000 cargo test -p sentinel-tests --release --all-features --test long_chain -- --ignored --nocapture
//! ```

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey};
use sentinel::provenance::{action_fingerprint, canonical_json, TrustedKeys};
use sentinel::SentinelClient;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use support::{KeepAliveServer, ProcStats, Reply};

struct Signer {
    key: SigningKey,
    key_id: String,
    public: String,
    next_seq: u64,
    prev_hash: String,
}

impl Signer {
    fn record(&mut self) -> Value {
        let seq = self.next_seq;
        let payload = json!({"amount": seq % 25_000 + 1, "from": "acct_ops", "to": "vendor_42"});
        let mut body = json!({
            "id": format!("rec_{seq:012}"),
            "ts": "2026-11-30T10:00:00.000Z",
            "seq": seq,
            "prevHash": self.prev_hash,
            "action": {"type": "payment", "payload": payload},
            "actionFingerprint": action_fingerprint("payment", &payload),
            "context": {"runId": "long-chain"},
            "checks": [{"check": "schema", "outcome": "pass", "verdict": "ALLOW", "latencyMs": 1}],
            "verdict": "ALLOW",
            "keyId": self.key_id,
            "signerPublicKey": self.public,
        });
        let digest: [u8; 32] = Sha256::digest(canonical_json(&body).as_bytes()).into();
        let hash: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        body["contentHash"] = json!(hash);
        body["sig"] =
            json!(base64::engine::general_purpose::STANDARD.encode(self.key.sign(&digest).to_bytes()));
        self.prev_hash = hash;
        self.next_seq += 1;
        body
    }
}

fn query(target: &str, name: &str) -> Option<u64> {
    target
        .split_once('?')?
        .1
        .split('&')
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('=')?.parse().ok())
}

#[test]
#[ignore = "a measurement: run with --release --ignored"]
fn a_long_chain_verifies_in_bounded_memory() {
    let total: u64 = std::env::var("SENTINEL_CHAIN_RECORDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    let key = SigningKey::from_bytes(&std::array::from_fn(|i| i as u8));
    let public = key.verifying_key().to_bytes();
    let trusted = TrustedKeys::new().with_key_bytes(public);
    let signer = Arc::new(Mutex::new(Signer {
        key_id: TrustedKeys::key_id_of(&public),
        public: base64::engine::general_purpose::STANDARD.encode(public),
        key,
        next_seq: 0,
        prev_hash: "GENESIS".into(),
    }));
    let server = KeepAliveServer::start(move |target, _| {
        let (Some(offset), Some(limit)) = (query(target, "offset"), query(target, "limit")) else {
            return Reply::Close;
        };
        let mut signer = signer.lock().unwrap();
        // Pages are asked for in order; the chain is signed as they are.
        assert_eq!(offset, signer.next_seq, "pages in order");
        let end = (offset + limit).min(total);
        let records: Vec<Value> = (offset..end).map(|_| signer.record()).collect();
        let mut page = json!({"format": "json", "count": records.len(), "records": records});
        if end - offset == limit {
            page["nextOffset"] = json!(end);
        }
        let body = page.to_string();
        Reply::KeepAlive(
            format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            )
            .into_bytes(),
        )
    });
    let client = SentinelClient::builder(server.endpoint())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let before = ProcStats::now();
    let started = Instant::now();
    let verified = client.verify_export(&trusted).expect("the chain verifies");
    let wall = started.elapsed();
    let after = ProcStats::now();
    assert_eq!(verified.records, total);
    println!(
        "figures: {total} records verified page by page ({} a page) in {:.1} s; RSS {} MiB before, {} MiB after, peak {} MiB",
        sentinel::records::DEFAULT_EXPORT_PAGE,
        wall.as_secs_f64(),
        before.rss_bytes >> 20,
        after.rss_bytes >> 20,
        peak_rss_kib() >> 10,
    );
}

/// The process's peak resident set (`VmHWM`), KiB.
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
