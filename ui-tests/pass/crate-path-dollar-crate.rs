//! A framework's `macro_rules!` names the crate as `crate = $crate::sentinel`: its users
//! depend on the framework alone (nothing here names `sentinel` directly), and the paths
//! the attribute generates resolve in the framework's crate, wherever the user's tokens sit.
use sentinel_ui_framework::sentinel::Denied;

#[derive(Debug)]
pub enum ToolError {
    Denied(Denied),
}

impl From<Denied> for ToolError {
    fn from(denied: Denied) -> Self {
        ToolError::Denied(denied)
    }
}

sentinel_ui_framework::tool! {
    /// Sends an email.
    pub fn send_email(to: String, subject: String) -> Result<usize, ToolError> {
        Ok(to.len() + subject.len())
    }
}

sentinel_ui_framework::tool! {
    fn refund(amount: u64) -> Result<u64, Denied> {
        Ok(amount)
    }
}

fn main() {
    // No client is configured: denied, the body not run.
    assert!(matches!(send_email("a@b.c".into(), "hi".into()), Err(ToolError::Denied(_))));
    assert!(refund(5).is_err());
}
