// Types in messages are printed as written: `dyn ::std::any::Any`, not `dyn::std::any::Any`.
#[sentinel::guarded(policy = "p")]
fn pay(_: Box<dyn ::std::any::Any>) -> Box<dyn ::std::error::Error> {
    unimplemented!()
}

fn main() {}
