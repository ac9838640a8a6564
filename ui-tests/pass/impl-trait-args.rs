//! `impl Trait` parameters and return types; unsendable arguments are skipped.
#![deny(warnings)]
use std::fmt::Display;

use sentinel::Denied;
use serde::Serialize;

#[sentinel::guarded(policy = "p", skip(callback))]
fn notify(to: impl Serialize + Display, callback: impl Fn(&str) -> usize) -> Result<impl Display, Denied> {
    Ok(callback(&to.to_string()))
}

#[sentinel::guarded(policy = "p", skip(items))]
fn count(items: impl IntoIterator<Item = u8>, label: &dyn erased::Label) -> Result<usize, Denied> {
    let _ = label;
    Ok(items.into_iter().count())
}

mod erased {
    pub trait Label {}
    impl serde::Serialize for dyn Label + '_ {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_str("label")
        }
    }
    impl Label for () {}
}

fn main() {
    assert!(notify("ops", |s: &str| s.len()).is_err());
    assert!(count(vec![1, 2], &()).is_err());
}
