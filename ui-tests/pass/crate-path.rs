//! `crate = path`: the attribute reached through a framework's re-export (or a renamed
//! dependency) names the facade by that path.
#![deny(warnings)]

mod framework {
    pub use sentinel;
}

#[framework::sentinel::guarded(policy = "p", crate = framework::sentinel)]
fn through_a_reexport(n: u8) -> Result<u8, framework::sentinel::Denied> { Ok(n) }

// The string form serde and tokio use.
#[framework::sentinel::guarded(policy = "p", crate = "crate::framework::sentinel")]
async fn as_a_string(n: u8) -> Result<u8, framework::sentinel::Denied> { Ok(n) }

fn main() {
    assert!(through_a_reexport(1).is_err());
    let _future = as_a_string(1);
}
