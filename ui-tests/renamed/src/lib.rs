//! A user crate that links the facade under another name, as a renamed dependency does.
//! Its build is the test: `#[guarded]` without `crate = …` compiles here although no
//! extern is named `sentinel`, so `::sentinel` resolves to nothing in this crate and only
//! the attribute's reading of rustc's `--extern` arguments (`crate_name.rs`) names the
//! facade. (The rarer spelling `extern crate montanalabs_sentinel as sentinel;` makes
//! `::sentinel` resolve across its whole crate, so it lives in a crate of its own:
//! `tests/extern_crate_alias.rs`.)

/// Through the dependency's name, with no `crate = …`.
#[montanalabs_sentinel::guarded(policy = "fintech.payments", kind = "payment")]
pub fn pay(amount: u64) -> Result<u64, montanalabs_sentinel::Denied> {
    Ok(amount)
}

/// A method too, with no `crate = …`.
pub struct Ledger;

impl Ledger {
    /// Guarded as a method: its kind is derived from `Self` by the facade.
    #[montanalabs_sentinel::guarded(policy = "fintech.payments")]
    pub fn refund(&self, amount: u64) -> Result<u64, montanalabs_sentinel::Denied> {
        Ok(amount)
    }
}

#[cfg(test)]
mod tests {
    /// Both expansions ran a guard: with no client installed, each fails closed.
    #[test]
    fn guarded_functions_of_a_renamed_facade_compile_and_guard() {
        let denied = super::pay(5).unwrap_err();
        assert!(denied.reason().contains("sentinel::init"), "{}", denied.reason());
        let denied = super::Ledger.refund(5).unwrap_err();
        assert!(denied.reason().contains("sentinel::init"), "{}", denied.reason());
    }
}
