//! Compile-time tests of `#[sentinel::guarded]`; the cases live in `pass/` and `fail/`, the
//! runner in `tests/ui.rs`. Nothing here is published.
