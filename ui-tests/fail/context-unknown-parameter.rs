use sentinel::Context;

#[sentinel::guarded(policy = "fintech.payments", context = cx)]
fn pay(ctx: &Context, amount: u64) -> Result<(), sentinel::Denied> {
    let _ = (ctx, amount);
    Ok(())
}

#[sentinel::guarded(policy = "fintech.payments", context = ctx.clone())]
fn refund(ctx: &Context, amount: u64) -> Result<(), sentinel::Denied> {
    let _ = (ctx, amount);
    Ok(())
}

fn main() {}
