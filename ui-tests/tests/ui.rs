//! Compile-time behaviour of `#[sentinel::guarded]`: every supported signature shape
//! compiles with warnings denied (and runs), and every misuse fails with a clear message on
//! the right token. Refresh the snapshots with
//! `TRYBUILD=overwrite cargo test -p sentinel-ui-tests`, then read every changed `.stderr`.

use std::process::Command;

/// The compiler the `.stderr` snapshots were written with. Other compilers word and place
/// diagnostics differently, so on them the snapshots would fail for reasons that say nothing
/// about the attribute.
const SNAPSHOT_RUSTC: &str = "rustc 1.95.";

#[test]
fn ui() {
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
