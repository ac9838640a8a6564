//! `extern crate montanalabs_sentinel as sentinel;`: the spelling that makes `::sentinel`
//! resolve without an extern of that name. A crate of its own (an integration test), since
//! the alias reaches every module of its crate and would make `src/lib.rs`'s build pass
//! without the attribute's reading of the renamed dependency.

extern crate montanalabs_sentinel as sentinel;

#[sentinel::guarded(policy = "fintech.payments", kind = "payment")]
fn pay(amount: u64) -> Result<u64, sentinel::Denied> {
    Ok(amount)
}

/// The expansion ran a guard: with no client installed, it fails closed.
#[test]
fn through_an_extern_crate_alias_the_guard_compiles_and_fails_closed() {
    let denied = pay(5).unwrap_err();
    assert!(denied.reason().contains("sentinel::init"), "{}", denied.reason());
}
