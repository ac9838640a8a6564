//! Visibility, doc comments, `#[must_use]` and other attributes (outer and inner) stay.
#![deny(warnings)]
#![deny(unused_must_use, missing_docs)]

use sentinel::Denied;

/// A module with tools.
pub mod tools {
    use super::Denied;

    /// Documented, crate-visible, must be used.
    #[must_use = "the transfer may have been denied"]
    #[sentinel::guarded(policy = "p")]
    #[inline]
    pub(crate) fn transfer(amount: u64) -> Result<u64, Denied> {
        #![allow(clippy::needless_return)]
        return Ok(amount);
    }

    /// Public.
    #[sentinel::guarded(policy = "p")]
    #[allow(clippy::too_many_arguments)]
    #[cfg_attr(all(), allow(unused_variables))]
    pub fn public(a: u8, #[cfg(all())] b: u8, #[cfg(any())] c: u8) -> Result<(), Denied> {
        Ok(())
    }

    #[sentinel::guarded(policy = "p")]
    pub(super) unsafe fn unsafe_tool(n: u8) -> Result<u8, Denied> {
        Ok(n)
    }

    /// With a foreign ABI.
    #[sentinel::guarded(policy = "p")]
    #[allow(improper_ctypes_definitions)]
    pub extern "C" fn c_abi(n: u8) -> Result<u8, Denied> {
        Ok(n)
    }
}

fn main() {
    let _ = tools::transfer(1);
    assert!(tools::public(1, 2).is_err());
    // SAFETY: the tool has no safety requirements.
    assert!(unsafe { tools::unsafe_tool(1) }.is_err());
    assert!(tools::c_abi(1).is_err());
}
