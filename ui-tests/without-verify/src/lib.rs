//! Compile-time tests of `#[sentinel::guarded]` with the facade's `verify` feature off; the
//! cases live in `pass/` and `fail/`, the runner in `tests/ui.rs`. Nothing here is published.
