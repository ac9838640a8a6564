//! Compile-time behaviour of `#[sentinel::guarded]` without the facade's `verify` feature
//! (`default-features = false`): a plain guard compiles, and receipt mode is one error on
//! `receipt` naming the feature to enable. Refresh the snapshots with
//! `TRYBUILD=overwrite cargo test -p sentinel-ui-tests-without-verify`, then read every
//! changed `.stderr`.

use std::process::Command;

/// The compiler the `.stderr` snapshots were written with (as in `ui-tests/tests/ui.rs`).
const SNAPSHOT_RUSTC: &str = "rustc 1.95.";

#[test]
fn ui_without_verify() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let version = Command::new(&rustc)
        .arg("--version")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).into_owned())
        .unwrap_or_default();
    if !version.starts_with(SNAPSHOT_RUSTC) {
        println!(
            "skipped: the ui snapshots were written for {SNAPSHOT_RUSTC}x; this is {:?}",
            version.trim()
        );
        return;
    }
    let t = trybuild::TestCases::new();
    t.pass("pass/*.rs");
    t.compile_fail("fail/*.rs");
}
