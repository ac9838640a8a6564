//! Raw identifiers, `mut` and `_`-prefixed parameters are plain names.
#![deny(warnings)]
use sentinel::Denied;

#[sentinel::guarded(policy = "p")]
fn r#move(r#type: &str, mut count: u32, _unused: bool, r#ref: Option<u8>) -> Result<u32, Denied> {
    count += 1;
    let _ = (r#type, r#ref);
    Ok(count)
}

#[sentinel::guarded(policy = "p", skip(r#type), rename(r#in = "within"))]
fn shadow(r#type: u8, r#in: u8) -> Result<u8, Denied> {
    Ok(r#type + r#in)
}

#[sentinel::guarded(policy = "p", skip(type), rename(in = "inside"))]
fn unraw_in_attribute(r#type: u8, r#in: u8) -> Result<u8, Denied> {
    Ok(r#type + r#in)
}

fn main() {
    let denied = r#move("wire", 1, true, None).unwrap_err();
    assert_eq!(denied.kind(), "move");
    assert!(shadow(1, 2).is_err());
    assert!(unraw_in_attribute(1, 2).is_err());
}
