//! The auditor's progress on stderr: under a terminal (a pseudo-terminal made by util-linux's
//! `script`, in every Debian), `verify` on a file draws a bar with the rate and the ETA and
//! `export` a spinner with the rate; with stderr piped (a CI log, a cron mail) both write
//! plain lines instead, with no terminal control in them; `--json` writes neither.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use sentinel::testing::{MockSidecar, SignedChain};
use sentinel::{Action, Context, SentinelClient, Verdict};
use serde_json::json;

const SEED: [u8; 32] = [5; 32];

/// Runs sentinelctl with `args` with its standard streams on a pseudo-terminal: its exit
/// code, and everything it wrote (stdout and stderr both go to the terminal).
fn under_a_terminal(args: &[&str]) -> (Option<i32>, String) {
    let quoted: Vec<String> = std::iter::once(env!("CARGO_BIN_EXE_sentinelctl"))
        .chain(args.iter().copied())
        .map(|arg| format!("'{}'", arg.replace('\'', r"'\''")))
        .collect();
    let output = Command::new("script")
        // -q: no banner; -e: its exit code is the command's; /dev/null: no typescript file.
        .args(["-qec", &quoted.join(" "), "/dev/null"])
        .env("TERM", "xterm")
        .env_remove("SENTINEL_TRUSTED_KEY_IDS")
        .env_remove("SENTINEL_ENDPOINT")
        .stdin(Stdio::null())
        .output()
        .expect("the `script` command (util-linux) runs");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

/// Runs sentinelctl with `args`, its stdout and stderr pipes.
fn piped(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sentinelctl"))
        .args(args)
        .env_remove("SENTINEL_TRUSTED_KEY_IDS")
        .env_remove("SENTINEL_ENDPOINT")
        .stdin(Stdio::null())
        .output()
        .expect("sentinelctl runs")
}

/// Whether `line` is a plain progress line: `N records (R/s)`.
fn is_plain_line(line: &str) -> bool {
    let Some((count, rest)) = line.split_once(" records (") else {
        return false;
    };
    let Some(rate) = rest.strip_suffix("/s)") else {
        return false;
    };
    !count.is_empty()
        && count.chars().all(|c| c.is_ascii_digit())
        && !rate.is_empty()
        && rate.chars().all(|c| c.is_ascii_digit())
}

/// Asserts that piped stderr holds plain progress lines and nothing a terminal would draw.
fn assert_plain(stderr: &[u8]) {
    let stderr = String::from_utf8_lossy(stderr);
    assert!(
        !stderr.contains('\x1b') && !stderr.contains('\r') && !stderr.contains("ETA"),
        "no terminal control when stderr is not a terminal: {stderr:?}"
    );
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(!lines.is_empty(), "a plain progress line: {stderr:?}");
    assert!(lines.iter().all(|line| is_plain_line(line)), "{stderr:?}");
}

/// Asserts that what a terminal received holds a drawn progress line with the rate.
fn assert_drawn(screen: &str) {
    // Escape sequences (a line cleared, the cursor moved): the bar is redrawn in place. A
    // plain line has none (the terminal's own `\r\n` for `\n` is no sign of a bar).
    assert!(
        screen.contains("\x1b["),
        "terminal control (the bar is redrawn in place): {screen:?}"
    );
    assert!(
        screen.contains(" records (") && screen.contains("/s)"),
        "the rate: {screen:?}"
    );
}

fn write_chain(dir: &Path, records: usize) -> (String, String) {
    let mut chain = SignedChain::new(SEED);
    let lines: Vec<String> = (0..records).map(|_| chain.next_record()).collect();
    let file = dir.join("export.jsonl");
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    (file.to_str().unwrap().to_owned(), chain.key_id().to_owned())
}

#[test]
fn verify_draws_a_bar_with_rate_and_eta_on_a_terminal_and_plain_lines_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let (file, key) = write_chain(dir.path(), 600);

    let (code, screen) = under_a_terminal(&["verify", &file, "--key-id", &key]);
    assert_eq!(code, Some(0), "{screen}");
    assert!(screen.contains("verified 600 records"), "{screen}");
    assert_drawn(&screen);
    assert!(
        screen.contains("ETA ") && screen.contains('%'),
        "a file's size gives the bar a percentage and an ETA: {screen:?}"
    );

    let out = piped(&["verify", &file, "--key-id", &key]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("verified 600 records"));
    assert_plain(&out.stderr);

    // For a script: one JSON object, no progress at all.
    let (code, screen) = under_a_terminal(&["verify", &file, "--key-id", &key, "--json"]);
    assert_eq!(code, Some(0), "{screen}");
    assert!(
        !screen.contains(" records (") && !screen.contains("ETA"),
        "{screen:?}"
    );
}

#[test]
fn export_draws_a_spinner_with_rate_on_a_terminal_and_plain_lines_otherwise() {
    let sidecar = MockSidecar::allow_all();
    let client = SentinelClient::builder(sidecar.endpoint()).build().unwrap();
    let context = Context::new("progress-test");
    for amount in 0..250 {
        let decision = client.guard(
            &Action::payment(json!({"amount": amount, "from": "acct_ops", "to": "vendor_42"})),
            &context,
            "fintech.payments",
        );
        assert_eq!(decision.verdict(), Verdict::Allow);
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("export.jsonl");
    let file = file.to_str().unwrap();
    let endpoint = sidecar.endpoint();

    let (code, screen) = under_a_terminal(&["export", "--endpoint", &endpoint, "--output", file]);
    assert_eq!(code, Some(0), "{screen}");
    assert!(screen.contains("exported 250 records"), "{screen:?}");
    assert_drawn(&screen);
    assert!(
        screen.contains("[00:00:"),
        "the spinner's elapsed time: {screen:?}"
    );

    let out = piped(&["export", "--endpoint", &endpoint, "--output", file]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("exported 250 records"));
    assert_plain(&out.stderr);
}
