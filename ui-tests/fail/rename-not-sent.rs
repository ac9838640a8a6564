use sentinel::Context;

#[sentinel::guarded(policy = "fintech.payments", skip(db), context = ctx, rename(db = "database", ctx = "context"))]
fn pay(db: &str, ctx: &Context, amount: u64) -> Result<(), sentinel::Denied> {
    let _ = (db, ctx, amount);
    Ok(())
}

fn main() {}
