// A path that does not resolve is reported where it is written.
#[sentinel::guarded(policy = "p", crate = gate)]
fn unresolved(n: u8) -> Result<u8, sentinel::Denied> {
    Ok(n)
}

fn main() {}
