#[sentinel::guarded(policy = "p")]
struct Payment {
    amount: u64,
}

trait Tool {
    #[sentinel::guarded(policy = "p")]
    fn call(&self, input: &str) -> Result<String, sentinel::Denied>;
}

fn main() {}

extern "C" {
    #[sentinel::guarded(policy = "p")]
    fn abs(n: i32) -> i32;
}
