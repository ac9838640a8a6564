//! The example of the issue: a payment tool with its own error type.
#![deny(warnings)]
use sentinel::{Context, Denied};

#[derive(Debug)]
pub struct Receipt {
    pub amount: u64,
}

#[derive(Debug)]
pub enum PayError {
    Denied(Denied),
    Bank(String),
}

impl From<Denied> for PayError {
    fn from(denied: Denied) -> Self {
        PayError::Denied(denied)
    }
}

#[sentinel::guarded(policy = "fintech.payments", kind = "payment")]
fn pay(amount: u64, from: &str, to: &str) -> Result<Receipt, PayError> {
    if from == to {
        return Err(PayError::Bank("same account".into()));
    }
    Ok(Receipt { amount })
}

fn main() {
    // No client was installed with sentinel::init: every call is denied, the body never runs.
    let ctx = Context::new("run-42")
        .with_provider("anthropic")
        .with_actor("agent-007", ["ops"]);
    match ctx.scope(|| pay(42_000, "acct_ops", "vendor_42")) {
        Err(PayError::Denied(denied)) => {
            assert!(denied.is_fallback());
            assert_eq!(denied.kind(), "payment");
            assert_eq!(denied.policy(), "fintech.payments");
        }
        other => panic!("expected a denial, got {other:?}"),
    }
}
