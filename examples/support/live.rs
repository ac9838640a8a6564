//! What the examples' tests share (included with `#[path]`; not an example of its own).

use std::collections::BTreeSet;
use std::process::Command;

use sentinel::{SentinelClient, Verdict};

/// Set in the process [`ran_in_a_child`] starts, where the test body runs.
const CHILD: &str = "SENTINEL_EXAMPLE_TEST_IN_CHILD";

/// Runs the test `name` (its path in this binary, such as `tests::against_the_real_sidecar`)
/// in a process of its own and returns `true`, unless this is that process: then `false`,
/// and the caller runs the body.
///
/// Each test that runs an example calls `sentinel::init`, which installs the process-wide
/// client once: two of them in one process (`cargo test --examples -- --include-ignored`)
/// would meet `AlreadyInitialized`. A child process per test gives each its own.
pub fn ran_in_a_child(name: &str) -> bool {
    if std::env::var_os(CHILD).is_some() {
        return false;
    }
    let output = Command::new(std::env::current_exe().expect("the test binary's path"))
        .args([
            name,
            "--exact",
            "--include-ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .output()
        .expect("run the test binary again");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    print!("{stdout}");
    eprint!("{stderr}");
    assert!(output.status.success(), "{name} failed in its own process");
    // A name that matched no test would pass having run nothing.
    assert!(
        stdout.contains("test result: ok. 1 passed"),
        "{name} did not run in its own process:\n{stdout}"
    );
    true
}

/// Every `rec_…` id in `out`, once each.
pub fn record_ids(out: &str) -> BTreeSet<String> {
    out.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        .filter(|word| word.starts_with("rec_") && word.len() > 4)
        .map(str::to_owned)
        .collect()
}

/// Checks what an example printed against the sidecar at `endpoint`: `claims` gives, for
/// the records it names, the verdict the output says each holds. Every record id printed
/// must be claimed (none goes unchecked), and each must be a record the sidecar serves
/// (`GET /v1/records/{id}`) with that verdict.
pub fn assert_printed_records_hold(endpoint: &str, out: &str, claims: &[(String, Verdict)]) {
    let printed = record_ids(out);
    assert!(!printed.is_empty(), "the output names no record:\n{out}");
    let claimed: BTreeSet<String> = claims.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(printed, claimed, "every record printed is checked:\n{out}");
    let client = SentinelClient::builder(endpoint).build().unwrap();
    for (id, verdict) in claims {
        let record = client
            .record(id)
            .unwrap_or_else(|e| panic!("{id} is not a record of the sidecar: {e}\n{out}"));
        assert_eq!(
            record.verdict(),
            verdict.as_str(),
            "the sidecar's record {id} says {}, the output {verdict}:\n{out}",
            record.verdict()
        );
    }
}

/// The record id on `line` and the verdict the line starts with: `ESCALATE  … [record rec_…]`.
pub fn verdict_line_claim(line: &str) -> Option<(String, Verdict)> {
    let id = record_ids(line).into_iter().next()?;
    let verdict = Verdict::from_wire(line.split_whitespace().next()?)?;
    Some((id, verdict))
}
