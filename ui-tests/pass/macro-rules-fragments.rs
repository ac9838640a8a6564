//! Options written by a `macro_rules!` macro arrive wrapped in invisible groups
//! (`$p:literal`, `$p:expr`, `$p:ident`): every option reads them like hand-written ones.
#![deny(warnings)]
use sentinel::{Context, Denied};

macro_rules! tool_literal {
    ($name:ident, $policy:literal, $kind:literal, $to:literal, $key:ident, $value:literal, $timeout:literal) => {
        #[sentinel::guarded(
            policy = $policy,
            kind = $kind,
            rename(to = $to),
            fields($key = $value),
            meta($key = $value),
            on_escalate = wait(timeout = $timeout),
        )]
        fn $name(to: &str) -> Result<(), Denied> {
            let _ = to;
            Ok(())
        }
    };
}

macro_rules! tool_expr {
    ($name:ident, $policy:expr, $kind:expr, $to:expr, $param:ident, $ctx:expr, $value:expr, $timeout:expr, $escalate:expr) => {
        #[sentinel::guarded(
            policy = $policy,
            kind = $kind,
            rename(to = $to),
            context = $ctx,
            fields(channel = $value),
            on_escalate = $escalate,
        )]
        fn $name($param: &Context, to: &str) -> Result<(), Denied> {
            let _ = to;
            Ok(())
        }

        #[sentinel::guarded(policy = $policy, on_escalate = wait(timeout = $timeout))]
        fn waits(n: u8) -> Result<u8, Denied> {
            Ok(n)
        }
    };
}

tool_literal!(pay, "fintech.payments", "payment", "recipient", currency, "USD", "10m");
// The parameter and the option naming it both come from the caller, as hygiene requires.
tool_expr!(refund, "fintech.payments", "refund", "recipient", ctx, ctx, 7, "30s", deny);

fn main() {
    assert!(pay("v").is_err());
    assert!(refund(&Context::new("run-1"), "v").is_err());
    assert!(waits(1).is_err());
}
