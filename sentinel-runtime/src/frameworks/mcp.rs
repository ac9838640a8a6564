//! rmcp: a denial as the content of a failed tool result.
//!
//! rmcp turns a tool's `Err(e)` into a `CallToolResult` with `isError: true` when `e`
//! converts into content (`IntoContents`); an `ErrorData` would instead become a JSON-RPC
//! error, which MCP reserves for protocol failures the model never sees. So a tool
//! returning `Result<T, Denied>` (or an error of its own built on this impl) shows the
//! model [`Denied::model_feedback`].

use rmcp::model::{ContentBlock, IntoContents};

use crate::denied::Denied;

/// A denial as the content of a failed MCP tool result (`isError: true`): the model reads
/// [`Denied::model_feedback`]. An rmcp `#[tool]` returning `Result<T, Denied>` gets it as
/// it is; `frameworks/examples/mcp_server.rs` runs one.
#[cfg_attr(docsrs, doc(cfg(feature = "rmcp")))]
impl IntoContents for Denied {
    fn into_contents(self) -> Vec<ContentBlock> {
        vec![ContentBlock::text(self.model_feedback())]
    }
}

#[cfg(test)]
mod tests {
    use rmcp::model::{ContentBlock, IntoContents};

    use crate::decision::{GuardDecision, Verdict};
    use crate::denied::Denied;

    // That rmcp marks this content `isError: true` is shown end to end by
    // examples/mcp_server.rs, through rmcp's own server and client.
    #[test]
    fn a_denial_becomes_one_text_block_holding_the_feedback() {
        let decision = GuardDecision::new(Verdict::Block, "rec_1", Vec::new()).with_reason("over the limit");
        let denied = Denied::new(decision, "payment", "fintech.payments");
        let expected = denied.model_feedback();
        assert_eq!(denied.into_contents(), vec![ContentBlock::text(expected)]);
    }
}
