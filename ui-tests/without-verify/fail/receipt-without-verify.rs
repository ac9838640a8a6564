//! Receipt mode needs the facade's `verify` feature; without it, one error on `receipt`
//! that names the feature (not rustc's "no method named `execute_with_receipt`").
#[sentinel::guarded(policy = "fintech.payments", kind = "payment", receipt)]
fn pay(amount: u64) -> Result<u64, sentinel::Denied> {
    Ok(amount)
}

static RECEIPTS: u8 = 0;

#[sentinel::guarded(policy = "fintech.payments", kind = "payment", receipt = &RECEIPTS)]
fn pay_with(amount: u64) -> Result<u64, sentinel::Denied> {
    Ok(amount)
}

fn main() {}
