#[sentinel::guarded(policy = "p", crate = "not a path")]
fn not_a_path(n: u8) -> Result<u8, sentinel::Denied> {
    Ok(n)
}

#[sentinel::guarded(policy = "p", crate = &sentinel)]
fn not_a_path_either(n: u8) -> Result<u8, sentinel::Denied> {
    Ok(n)
}

fn main() {}
