//! `verify_export` is bounded: against a raw loopback server that keeps minting signed pages
//! (every page says there is a next one), it stops at its deadline or its record cap with
//! what it verified; a server that answers one page slowly cannot hold it past the
//! deadline; a chain cut short verifies (a prefix is a valid chain) until a checkpoint says
//! otherwise; and it reports progress and returns the head it verified.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sentinel::provenance::{Checkpoint, Record, StopReason};
use sentinel::records::{ExportError, ExportVerification};
use sentinel::testing::SignedChain;
use sentinel::SentinelClient;
use serde_json::{json, Value};
use support::{KeepAliveServer, Reply};

fn query(target: &str, name: &str) -> Option<u64> {
    target
        .split_once('?')?
        .1
        .split('&')
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('=')?.parse().ok())
}

fn page(records: Vec<Value>, next: Option<u64>) -> Reply {
    let mut page = json!({"format": "json", "count": records.len(), "records": records});
    if let Some(next) = next {
        page["nextOffset"] = json!(next);
    }
    let body = page.to_string();
    Reply::KeepAlive(
        format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    )
}

/// A sidecar whose chain never ends: each page is signed as it is asked for, in order,
/// `total` records in all (`u64::MAX`: for ever), every full page with a `nextOffset`.
/// Records already served are served again from a copy.
fn minting(total: u64) -> (KeepAliveServer, Arc<Mutex<Vec<String>>>, SignedChain) {
    let signer = SignedChain::new([5; 32]);
    let keys = SignedChain::new([5; 32]);
    let served = Arc::new(Mutex::new(Vec::<String>::new()));
    let chain = Arc::new(Mutex::new(signer));
    let log = Arc::clone(&served);
    let server = KeepAliveServer::start(move |target, _| {
        let (Some(offset), Some(limit)) = (query(target, "offset"), query(target, "limit")) else {
            return Reply::Close;
        };
        let end = offset.saturating_add(limit).min(total).max(offset);
        let mut served = log.lock().unwrap();
        let mut chain = chain.lock().unwrap();
        while (served.len() as u64) < end {
            served.push(chain.next_record());
        }
        let records = (offset..end)
            .map(|seq| serde_json::from_str(&served[seq as usize]).unwrap())
            .collect();
        page(records, (end - offset == limit).then_some(end))
    });
    (server, served, keys)
}

fn client(server: &KeepAliveServer) -> SentinelClient {
    SentinelClient::builder(server.endpoint())
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

#[test]
fn a_server_that_keeps_minting_pages_is_stopped_by_the_deadline() {
    let (server, _, keys) = minting(u64::MAX);
    let started = Instant::now();
    let mut calls = 0;
    let error = client(&server)
        .verify_export_with(
            &keys.trusted_keys(),
            &ExportVerification::new().timeout(Duration::from_millis(1500)),
            |_| calls += 1,
        )
        .unwrap_err();
    let took = started.elapsed();
    match error {
        ExportError::Stopped {
            reason: StopReason::Deadline,
            verified: Some(verified),
        } => {
            assert!(verified.records > 0);
            assert_eq!(verified.head.seq, verified.records - 1);
        }
        other => panic!("{other:?}"),
    }
    assert!(calls > 0, "progress was reported");
    // The deadline and at most one page in flight, with a wide margin for a loaded machine.
    assert!(took < Duration::from_secs(20), "{took:?}");
}

#[test]
fn a_server_that_keeps_minting_pages_is_stopped_by_the_record_cap() {
    let (server, served, keys) = minting(u64::MAX);
    let error = client(&server)
        .verify_export_with(
            &keys.trusted_keys(),
            &ExportVerification::new().max_records(2500),
            |_| {},
        )
        .unwrap_err();
    match error {
        ExportError::Stopped {
            reason: StopReason::RecordCap,
            verified: Some(verified),
        } => {
            assert_eq!(verified.records, 2500);
            let head = Record::from_json(&served.lock().unwrap()[2499]).unwrap();
            assert_eq!(
                verified.head,
                Checkpoint::new(2499, head.content_hash().to_owned())
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_slow_page_does_not_hold_it_past_the_deadline() {
    let keys = SignedChain::new([5; 32]);
    let server = KeepAliveServer::start(|_, _| Reply::Delayed(Duration::from_secs(30), Vec::new()));
    let client = SentinelClient::builder(server.endpoint())
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let started = Instant::now();
    let error = client
        .verify_export_with(
            &keys.trusted_keys(),
            &ExportVerification::new().timeout(Duration::from_millis(800)),
            |_| {},
        )
        .unwrap_err();
    assert!(
        matches!(error, ExportError::Read(_) | ExportError::Stopped { .. }),
        "{error:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn a_prefix_verifies_and_only_a_checkpoint_tells_it_from_the_whole_chain() {
    // The whole chain: 2300 records.
    let (whole, served, keys) = minting(2300);
    let verified = client(&whole).verify_export(&keys.trusted_keys()).unwrap();
    assert_eq!(verified.records, 2300);
    let checkpoint = verified.head.clone();
    assert_eq!(checkpoint.seq, 2299);
    let records = served.lock().unwrap().clone();

    // A sidecar that serves only its first 1500 records: a valid chain on its own.
    let (cut, _, _) = minting(1500);
    let prefix = client(&cut).verify_export(&keys.trusted_keys()).unwrap();
    assert_eq!(prefix.records, 1500);
    assert_ne!(prefix.head, checkpoint, "the head differs from the checkpoint");
    // With the checkpoint, the cut is found.
    let error = client(&cut)
        .verify_export_with(
            &keys.trusted_keys(),
            &ExportVerification::new().resume_from(checkpoint.clone()),
            |_| {},
        )
        .unwrap_err();
    assert!(
        matches!(error, ExportError::CheckpointNotReached { .. }),
        "{error:?}"
    );

    // Resuming from an earlier checkpoint verifies only what is new, from the checkpoint's
    // record on.
    let earlier = Checkpoint::new(
        1999,
        Record::from_json(&records[1999])
            .unwrap()
            .content_hash()
            .to_owned(),
    );
    let mut seen = 0;
    let resumed = client(&whole)
        .verify_export_with(
            &keys.trusted_keys(),
            &ExportVerification::new().resume_from(earlier),
            |progress| seen = progress.verified,
        )
        .unwrap();
    assert_eq!((resumed.records, resumed.head.clone()), (301, checkpoint));
    assert_eq!(seen, 301);
    // A checkpoint of another chain at that seq: refused.
    let error = client(&whole)
        .verify_export_with(
            &keys.trusted_keys(),
            &ExportVerification::new().resume_from(Checkpoint::new(1999, "0".repeat(64))),
            |_| {},
        )
        .unwrap_err();
    assert!(
        matches!(error, ExportError::CheckpointMismatch { .. }),
        "{error:?}"
    );
}
