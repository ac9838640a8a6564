//! An upstream MCP server reached over streamable HTTP (rmcp's client transport), seen by
//! the relay as the same line-based link as a child over stdio.
//!
//! rmcp's transport speaks its typed messages, so each line is decoded into them and each
//! answer encoded back: over HTTP, a field rmcp's model does not know is lost on the way
//! (over stdio nothing is decoded). A line that is not a message rmcp can send is answered
//! here with a JSON-RPC error, never left without an answer.

use std::future::Future;

use rmcp::model::{ClientJsonRpcMessage, ErrorCode, ErrorData};
use rmcp::transport::{StreamableHttpClientTransport, Transport};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::oneshot;

use super::relay::UpstreamLink;

/// How much either direction may hold unread.
const PIPE_BYTES: usize = 1 << 20;

/// The link to the server at `url`, and the future that says why it went away once it did.
pub fn link(url: &str) -> (UpstreamLink, impl Future<Output = String> + Send + 'static) {
    let (relay_side, bridge_side) = tokio::io::duplex(PIPE_BYTES);
    let (relay_read, relay_write) = tokio::io::split(relay_side);
    let (gone_tx, gone_rx) = oneshot::channel();
    let transport = StreamableHttpClientTransport::from_uri(url.to_owned());
    let url = url.to_owned();
    tokio::spawn(async move {
        let why = bridge(transport, bridge_side, &url).await;
        let _ = gone_tx.send(why);
    });
    let link = UpstreamLink {
        writer: Some(Box::new(relay_write)),
        reader: Some(Box::new(BufReader::new(relay_read))),
        failed: None,
    };
    let gone = async move {
        gone_rx
            .await
            .unwrap_or_else(|_| "the upstream MCP server's connection ended".to_owned())
    };
    (link, gone)
}

/// Moves messages between the relay's lines and the transport until either side ends;
/// returns why.
async fn bridge<T>(mut transport: T, pipe: tokio::io::DuplexStream, url: &str) -> String
where
    T: Transport<rmcp::RoleClient>,
{
    let (read, mut write) = tokio::io::split(pipe);
    let mut lines = BufReader::new(read).lines();
    let why = loop {
        tokio::select! {
            line = lines.next_line() => {
                let Ok(Some(line)) = line else {
                    break "the client closed the session".to_owned();
                };
                if let Some(error) = forward(&mut transport, &line, url).await {
                    if write.write_all(format!("{error}\n").as_bytes()).await.is_err() {
                        break "the client closed the session".to_owned();
                    }
                }
            }
            message = transport.receive() => {
                let Some(message) = message else {
                    break format!("the upstream MCP server at {url} ended the session");
                };
                let Ok(text) = serde_json::to_string(&message) else { continue };
                if write.write_all(format!("{text}\n").as_bytes()).await.is_err() {
                    break "the client closed the session".to_owned();
                }
            }
        }
    };
    let _ = transport.close().await;
    why
}

/// Sends one line; for a request that cannot be sent, the error answer to give instead.
async fn forward<T: Transport<rmcp::RoleClient>>(transport: &mut T, line: &str, url: &str) -> Option<Value> {
    // Only a request awaits an answer.
    let id = serde_json::from_str::<Value>(line)
        .ok()
        .filter(|v| v.get("method").is_some())
        .and_then(|v| v.get("id").cloned());
    let why = match serde_json::from_str::<ClientJsonRpcMessage>(line) {
        Ok(message) => match transport.send(message).await {
            Ok(()) => return None,
            Err(e) => format!("the upstream MCP server at {url} could not be reached: {e}"),
        },
        Err(e) => format!("the gate cannot forward this message over streamable HTTP: {e}"),
    };
    let id = id?;
    let error = ErrorData::new(ErrorCode::INTERNAL_ERROR, why, None);
    Some(json!({"jsonrpc": "2.0", "id": id, "error": error}))
}
