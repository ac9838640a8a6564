//! Every problem is reported in one build, and the function is still emitted as written:
//! `main` below compiles against it.
#[sentinel::guarded(kind = 5, skip(nope), rename(amount = "to"), unknown = 1)]
fn pay(amount: u64, to: &str, (a, b): (u8, u8)) -> u64 {
    let _ = (to, a, b);
    amount
}

fn main() {
    let total: u64 = pay(1, "x", (1, 2));
    let _ = total;
}
