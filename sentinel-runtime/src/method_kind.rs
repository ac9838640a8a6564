//! The default action type of a guarded method: `type.method`, the `Self` type's name in
//! snake_case, so that every `impl Tool for X { fn call(&self, …) }` does not send the same
//! bare `"call"`.
//!
//! The attribute sees only the method, never the `impl` around it, so the type's name is
//! read at run time from `std::any::type_name::<Self>()` (which, in a trait's default
//! method, is the implementing type). Each distinct name is built once and kept for the
//! life of the process: there are as many as there are guarded `(type, method)` pairs in
//! the program, so the memory is bounded.

use std::collections::HashSet;
use std::sync::{Mutex, PoisonError};

/// `"wallet.send"` for `Wallet::send`, `"send_email.call"` for `<SendEmail as Tool>::call`.
/// Module path and generic arguments are dropped (`a::Wrapper<b::T>` is `wrapper`).
pub fn method_kind<T: ?Sized>(method: &'static str) -> &'static str {
    static NAMES: Mutex<Option<HashSet<&'static str>>> = Mutex::new(None);
    let name = format!(
        "{}.{method}",
        snake_case(type_base_name(std::any::type_name::<T>()))
    );
    let mut names = NAMES.lock().unwrap_or_else(PoisonError::into_inner);
    let names = names.get_or_insert_with(HashSet::new);
    if let Some(&known) = names.get(name.as_str()) {
        return known;
    }
    let leaked: &'static str = Box::leak(name.into_boxed_str());
    names.insert(leaked);
    leaked
}

/// `Wrapper` from `&mut a::b::Wrapper<c::T>`; for types without a path name (tuples,
/// slices) whatever identifier characters are there, or `self`.
fn type_base_name(full: &str) -> &str {
    let without_generics = full.split(['<', '[', '(', ';']).next().unwrap_or(full);
    let last = without_generics.rsplit("::").next().unwrap_or(without_generics);
    let name = last.trim_start_matches(|c: char| !(c.is_alphanumeric() || c == '_'));
    let name = name.trim_start_matches("mut ").trim_start_matches("dyn ");
    if name.is_empty() {
        "self"
    } else {
        name
    }
}

/// `SendEmail` → `send_email`, `HTTPClient` → `http_client`.
fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() {
            let prev = i.checked_sub(1).map(|p| chars[p]);
            let next = chars.get(i + 1);
            let boundary = match prev {
                Some(p) if p.is_lowercase() || p.is_ascii_digit() => true,
                Some(p) if p.is_uppercase() => next.is_some_and(|n| n.is_lowercase()),
                _ => false,
            };
            if boundary && !out.ends_with('_') {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{method_kind, snake_case, type_base_name};

    struct SendEmail;
    #[allow(dead_code)]
    struct Wrapper<T>(T);

    #[test]
    fn type_and_method() {
        assert_eq!(method_kind::<SendEmail>("call"), "send_email.call");
        assert_eq!(method_kind::<Wrapper<SendEmail>>("run"), "wrapper.run");
        assert_eq!(method_kind::<&mut SendEmail>("call"), "send_email.call");
        // The same name twice is the same allocation.
        assert!(std::ptr::eq(
            method_kind::<SendEmail>("call"),
            method_kind::<SendEmail>("call")
        ));
    }

    #[test]
    fn names() {
        assert_eq!(type_base_name("a::b::Wallet"), "Wallet");
        assert_eq!(type_base_name("dyn a::Tool"), "Tool");
        assert_eq!(type_base_name("(u8, u8)"), "self");
        assert_eq!(snake_case("HTTPClient"), "http_client");
        assert_eq!(snake_case("Wallet2Fa"), "wallet2_fa");
        assert_eq!(snake_case("search"), "search");
    }
}
