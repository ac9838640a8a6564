#[derive(Debug)]
pub enum PayError {
    Insufficient,
}

#[sentinel::guarded(policy = "fintech.payments")]
fn pay(amount: u64) -> Result<u64, PayError> {
    if amount > 10 {
        return Err(PayError::Insufficient);
    }
    Ok(amount)
}

#[sentinel::guarded(policy = "fintech.payments")]
fn read(path: &str) -> std::io::Result<String> {
    std::fs::read_to_string(path)
}

fn main() {}
