use async_trait::async_trait;

#[derive(Debug)]
pub struct MyError;

#[async_trait]
pub trait Tool {
    async fn call(&self, input: String) -> Result<String, MyError>;
    async fn plain(&self, input: String) -> String;
}

pub struct Search;

// Errors land on the user's tokens, not on #[async_trait].
#[async_trait]
impl Tool for Search {
    #[sentinel::guarded(policy = "p")]
    async fn call(&self, input: String) -> Result<String, MyError> {
        Ok(input)
    }

    #[sentinel::guarded(policy = "p")]
    async fn plain(&self, input: String) -> String {
        input
    }
}

fn main() {}
