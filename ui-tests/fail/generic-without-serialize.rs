#[sentinel::guarded(policy = "p")]
fn store<T: Clone>(item: T) -> Result<T, sentinel::Denied> {
    Ok(item.clone())
}

fn main() {}
