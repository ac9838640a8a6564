//! Compile-time behaviour of `#[sentinel::guarded]` without the facade's `verify` feature
//! (`default-features = false`): a plain guard compiles, and receipt mode is one error on
//! `receipt` naming the feature to enable. Refresh the snapshots with
//! `TRYBUILD=overwrite cargo test -p sentinel-ui-tests-without-verify`, then read every
//! changed `.stderr`.

/// A guard that is not in receipt mode compiles and runs without `verify`.
#[test]
fn a_plain_guard_compiles_without_verify() {
    trybuild::TestCases::new().pass("pass/*.rs");
}

/// Receipt mode without `verify` fails with the reviewed message. The snapshots are one
/// compiler's wording (see `build.rs`): under another this test is ignored, with the reason.
#[test]
#[cfg_attr(
    ui_snapshots_from_another_rustc,
    ignore = "the .stderr snapshots were written for rustc 1.95.x; this compiler words diagnostics differently"
)]
fn receipt_mode_without_verify_names_the_feature() {
    trybuild::TestCases::new().compile_fail("fail/*.rs");
}
