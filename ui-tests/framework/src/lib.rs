//! A stand-in for an agent framework: it re-exports `sentinel`, and its `tool!` macro
//! guards the tools its users write, naming the crate as `crate = $crate::sentinel` (its
//! users need not depend on `sentinel` themselves).

pub use sentinel;

/// `tool!(fn name(args) -> Result<T, E> { body })`: the function, guarded under the
/// framework's policy.
#[macro_export]
macro_rules! tool {
    ($(#[$attr:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty $body:block) => {
        $(#[$attr])*
        #[$crate::sentinel::guarded(crate = $crate::sentinel, policy = "framework.tools")]
        $vis fn $name($($arg: $ty),*) -> $ret $body
    };
}
