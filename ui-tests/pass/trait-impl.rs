//! Methods of trait implementations, and a trait's default method.
#![deny(warnings)]
use sentinel::Denied;

trait Tool {
    fn call(&self, input: &str) -> Result<String, Denied>;

    #[sentinel::guarded(policy = "p", kind = "tool.describe")]
    fn describe(&self, verbose: bool) -> Result<String, Denied> {
        Ok(if verbose { "a tool".into() } else { String::new() })
    }
}

struct Search;

impl Tool for Search {
    #[sentinel::guarded(policy = "search", kind = "search")]
    fn call(&self, input: &str) -> Result<String, Denied> {
        Ok(input.to_uppercase())
    }
}

trait AsyncTool {
    async fn run(&self, input: u32) -> Result<u32, Denied>;
}

impl AsyncTool for Search {
    #[sentinel::guarded(policy = "p")]
    async fn run(&self, input: u32) -> Result<u32, Denied> {
        Ok(input + 1)
    }
}

fn main() {
    assert!(Search.call("x").is_err());
    assert!(Search.describe(true).is_err());
    let dyn_tool: &dyn Tool = &Search;
    assert!(dyn_tool.call("y").is_err());
    let _future = Search.run(1);
}
