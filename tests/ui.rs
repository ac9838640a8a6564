//! Compile-time behaviour of `#[sentinel::guarded]`: every supported signature shape
//! compiles (and runs), and every misuse fails with a clear message on the right token.
//! Refresh the snapshots with `TRYBUILD=overwrite cargo test --test ui`, then read them.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("ui-tests/pass/*.rs");
    t.compile_fail("ui-tests/fail/*.rs");
}
