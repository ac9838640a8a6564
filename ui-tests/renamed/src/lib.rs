//! A user crate that links the facade under another name, as a renamed dependency does.
//! Its build is the test: `#[guarded]` without `crate = …` compiles here, both through
//! `extern crate montanalabs_sentinel as sentinel;` (the rare spelling that makes
//! `::sentinel` resolve without an extern of that name) and through the dependency's own
//! name. Nothing in the attribute may refuse either.

extern crate montanalabs_sentinel as sentinel;

/// Through the `extern crate` alias.
#[sentinel::guarded(policy = "fintech.payments", kind = "payment")]
pub fn pay(amount: u64) -> Result<u64, sentinel::Denied> {
    Ok(amount)
}

/// Through the dependency's name, with no `crate = …`.
#[montanalabs_sentinel::guarded(policy = "fintech.payments", kind = "refund")]
pub fn refund(amount: u64) -> Result<u64, montanalabs_sentinel::Denied> {
    Ok(amount)
}

#[cfg(test)]
mod tests {
    /// Both expansions ran a guard: with no client installed, each fails closed.
    #[test]
    fn guarded_functions_of_a_renamed_facade_compile_and_guard() {
        let denied = super::pay(5).unwrap_err();
        assert!(denied.reason().contains("sentinel::init"), "{}", denied.reason());
        assert!(super::refund(5).is_err());
    }
}
