//! Which compiler the ui tests run under. The `.stderr` snapshots of the compile-fail cases
//! were written with one rustc; others word and place diagnostics differently, so on them the
//! snapshots would fail for reasons that say nothing about the attribute. There the
//! compile-fail test is `#[ignore]`d with a reason (the `cargo test` summary counts it) and
//! the build prints a warning: it never reports `ok` having compared nothing.

use std::process::Command;

/// The compiler the `.stderr` snapshots were written with.
const SNAPSHOT_RUSTC: &str = "rustc 1.95.";

fn main() {
    println!("cargo::rustc-check-cfg=cfg(ui_snapshots_from_another_rustc)");
    println!("cargo::rerun-if-changed=build.rs");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let version = Command::new(&rustc)
        .arg("--version")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .unwrap_or_default();
    if !version.starts_with(SNAPSHOT_RUSTC) {
        println!("cargo::rustc-cfg=ui_snapshots_from_another_rustc");
        println!(
            "cargo::warning=the ui .stderr snapshots were written for {SNAPSHOT_RUSTC}x, this is {version:?}: \
             the compile-fail cases are ignored (run them with {SNAPSHOT_RUSTC}x)"
        );
    }
}
