//! The auditor's commands against files: `sentinelctl verify` on JSON Lines and JSON arrays,
//! from a file and from standard input, with checkpoints written and resumed from; a
//! tampered, cut or unpinned chain is refused with the record named and its exit code.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use sentinel::provenance::Record;
use sentinel::testing::SignedChain;
use serde_json::Value;

const SEED: [u8; 32] = [11; 32];

fn sentinelctl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sentinelctl"))
        .args(args)
        .env_remove("SENTINEL_TRUSTED_KEY_IDS")
        .env_remove("SENTINEL_ENDPOINT")
        .output()
        .expect("sentinelctl runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn chain(records: usize) -> (SignedChain, Vec<String>) {
    let mut chain = SignedChain::new(SEED);
    let lines = (0..records).map(|_| chain.next_record()).collect();
    (chain, lines)
}

fn write(dir: &Path, name: &str, lines: &[String]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

#[test]
fn a_genuine_export_verifies_and_its_checkpoint_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let (chain, lines) = chain(40);
    let file = write(dir.path(), "export.jsonl", &lines);
    let checkpoint = dir.path().join("checkpoint.json");
    let out = sentinelctl(&[
        "verify",
        file.to_str().unwrap(),
        "--key-id",
        chain.key_id(),
        "--write-checkpoint",
        checkpoint.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(
        stdout(&out).starts_with("verified 40 records"),
        "{}",
        stdout(&out)
    );
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&checkpoint).unwrap()).unwrap();
    let last = Record::from_json(&lines[39]).unwrap();
    assert_eq!(
        written,
        serde_json::json!({"seq": 39, "contentHash": last.content_hash()})
    );

    // The same chain as a JSON array on standard input, for a script.
    let mut child = Command::new(env!("CARGO_BIN_EXE_sentinelctl"))
        .args(["verify", "-", "--json", "--public-key", chain.public_key_base64()])
        .env_remove("SENTINEL_TRUSTED_KEY_IDS")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("[{}]", lines.join(",")).as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["ok"], true);
    assert_eq!(answer["verified"], 40);
    assert_eq!(answer["head"]["seq"], 39);
}

#[test]
fn tomorrow_only_the_new_records_are_verified_from_the_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let (mut chain, mut lines) = chain(30);
    let file = write(dir.path(), "export.jsonl", &lines);
    let checkpoint = dir.path().join("checkpoint.json");
    let key = chain.key_id().to_owned();
    let first = sentinelctl(&[
        "verify",
        file.to_str().unwrap(),
        "--key-id",
        &key,
        "--write-checkpoint",
        checkpoint.to_str().unwrap(),
    ]);
    assert_eq!(first.status.code(), Some(0));
    // A day later the export has grown.
    lines.extend((0..12).map(|_| chain.next_record()));
    let file = write(dir.path(), "export.jsonl", &lines);
    let args = [
        "verify",
        file.to_str().unwrap(),
        "--key-id",
        &key,
        "--from-checkpoint",
        checkpoint.to_str().unwrap(),
        "--write-checkpoint",
        checkpoint.to_str().unwrap(),
        "--json",
    ];
    let out = sentinelctl(&args);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    // The checkpoint's record and the 12 after it; the 29 before are passed over.
    assert_eq!(
        (answer["verified"].as_u64(), answer["skipped"].as_u64()),
        (Some(13), Some(29))
    );
    assert_eq!(answer["head"]["seq"], 41);
    let moved: Value = serde_json::from_str(&std::fs::read_to_string(&checkpoint).unwrap()).unwrap();
    assert_eq!(moved["seq"], 41);

    // The export cut back to 35 records: refused, the checkpoint says there were 42.
    let cut = write(dir.path(), "cut.jsonl", &lines[..35]);
    let out = sentinelctl(&[
        "verify",
        cut.to_str().unwrap(),
        "--key-id",
        &key,
        "--from-checkpoint",
        checkpoint.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("the chain ends at seq 34, before the checkpoint at seq 41"),
        "{}",
        stdout(&out)
    );
    // Without the checkpoint the cut chain verifies: a prefix is a valid chain.
    let out = sentinelctl(&["verify", cut.to_str().unwrap(), "--key-id", &key]);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn a_tampered_record_is_named_with_the_reason_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let (chain, mut lines) = chain(40);
    lines[17] = lines[17].replacen("\"amount\":18", "\"amount\":99918", 1);
    let file = write(dir.path(), "export.jsonl", &lines);
    let out = sentinelctl(&["verify", file.to_str().unwrap(), "--key-id", chain.key_id()]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(
        text.starts_with("FAILED: record seq 17: content hash mismatch"),
        "{text}"
    );
    assert!(text.contains("The chain does not verify at seq 17"), "{text}");

    // Each signature on its own: the same record, the same reason.
    let out = sentinelctl(&[
        "verify",
        file.to_str().unwrap(),
        "--key-id",
        chain.key_id(),
        "--strict-signatures",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).starts_with("FAILED: record seq 17: content hash mismatch"),
        "{}",
        stdout(&out)
    );

    let out = sentinelctl(&[
        "verify",
        file.to_str().unwrap(),
        "--key-id",
        chain.key_id(),
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (answer["ok"].as_bool(), answer["seq"].as_u64()),
        (Some(false), Some(17))
    );
    assert_eq!(answer["outcome"], "does-not-verify");
}

#[test]
fn a_chain_under_another_key_or_no_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_, lines) = chain(5);
    let file = write(dir.path(), "export.jsonl", &lines);
    let other = SignedChain::new([12; 32]);
    let out = sentinelctl(&["verify", file.to_str().unwrap(), "--key-id", other.key_id()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("record seq 0: signed by untrusted key"),
        "{}",
        stdout(&out)
    );

    let out = sentinelctl(&["verify", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no key pinned"));
    let out = sentinelctl(&["verify", file.to_str().unwrap(), "--key-id", "ed25519:nothex"]);
    assert_eq!(out.status.code(), Some(2));

    // The key ids from the environment, as the library reads them.
    let out = Command::new(env!("CARGO_BIN_EXE_sentinelctl"))
        .args(["verify", file.to_str().unwrap()])
        .env(
            "SENTINEL_TRUSTED_KEY_IDS",
            format!("{},{}", other.key_id(), SignedChain::new(SEED).key_id()),
        )
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

#[test]
fn an_unreadable_or_empty_export_is_not_a_verified_one() {
    let dir = tempfile::tempdir().unwrap();
    let (chain, lines) = chain(5);
    let empty = write(dir.path(), "empty.jsonl", &[]);
    let out = sentinelctl(&["verify", empty.to_str().unwrap(), "--key-id", chain.key_id()]);
    assert_eq!(out.status.code(), Some(3), "{}", stdout(&out));
    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, format!("[{},{}", lines[0], lines[1])).unwrap();
    let out = sentinelctl(&["verify", broken.to_str().unwrap(), "--key-id", chain.key_id()]);
    assert_eq!(out.status.code(), Some(3), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("2 records verified before that"),
        "{}",
        stdout(&out)
    );
    let out = sentinelctl(&["verify", "/nonexistent/export.jsonl", "--key-id", chain.key_id()]);
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn the_longest_timeout_is_no_deadline_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let (chain, lines) = chain(20);
    let file = write(dir.path(), "export.jsonl", &lines);
    let out = sentinelctl(&[
        "verify",
        file.to_str().unwrap(),
        "--key-id",
        chain.key_id(),
        "--timeout",
        &u64::MAX.to_string(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        String::from_utf8_lossy(&out.stderr)
    );
}
