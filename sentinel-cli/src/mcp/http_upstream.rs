//! An upstream MCP server reached over streamable HTTP (rmcp's client transport), seen by
//! the relay as the same line-based link as a child over stdio.
//!
//! rmcp's transport speaks its typed messages, so each line is decoded into them and each
//! answer encoded back: over HTTP, a field rmcp's model does not know is lost on the way
//! (over stdio nothing is decoded). A line that is not a message rmcp can send is answered
//! here with a JSON-RPC error, never left without an answer.

use std::future::Future;

use rmcp::model::{ClientJsonRpcMessage, ErrorCode, ErrorData};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, Transport};

use super::config::UpstreamConfig;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::oneshot;

use super::relay::UpstreamLink;

/// How much either direction may hold unread.
const PIPE_BYTES: usize = 1 << 20;

/// rmcp's transport to the server at `url`, sending the `[upstream]` headers with every
/// request.
pub fn transport(url: &str, config: &UpstreamConfig) -> impl Transport<rmcp::RoleClient> + use<> {
    let headers = config.headers.iter().cloned().collect();
    StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(url.to_owned()).custom_headers(headers),
    )
}

/// The link to the server at `url`, and the future that says why it went away once it did.
pub fn link(
    url: &str,
    config: &UpstreamConfig,
) -> (UpstreamLink, impl Future<Output = String> + Send + 'static) {
    let (relay_side, bridge_side) = tokio::io::duplex(PIPE_BYTES);
    let (relay_read, relay_write) = tokio::io::split(relay_side);
    let (gone_tx, gone_rx) = oneshot::channel();
    let transport = transport(url, config);
    let url = Shown::new(url).hiding(config);
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
async fn bridge<T>(mut transport: T, pipe: tokio::io::DuplexStream, url: &Shown) -> String
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
                    break format!("the upstream MCP server at {} ended the session", url.shown);
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
async fn forward<T: Transport<rmcp::RoleClient>>(
    transport: &mut T,
    line: &str,
    url: &Shown,
) -> Option<Value> {
    // Only a request awaits an answer.
    let id = serde_json::from_str::<Value>(line)
        .ok()
        .filter(|v| v.get("method").is_some())
        .and_then(|v| v.get("id").cloned());
    let why = match serde_json::from_str::<ClientJsonRpcMessage>(line) {
        Ok(message) => match transport.send(message).await {
            Ok(()) => return None,
            Err(e) => format!(
                "the upstream MCP server at {} could not be reached: {}",
                url.shown,
                url.scrub(&e.to_string())
            ),
        },
        Err(e) => format!("the gate cannot forward this message over streamable HTTP: {e}"),
    };
    let id = id?;
    let error = ErrorData::new(ErrorCode::INTERNAL_ERROR, why, None);
    Some(json!({"jsonrpc": "2.0", "id": id, "error": error}))
}

/// The `--upstream-url` as the client (and the model behind it) may read it in an error:
/// scheme, host, port and path, never the userinfo, query or fragment (a token, say), nor
/// an `[upstream]` header's value.
pub struct Shown {
    /// What was given.
    given: String,
    /// What may be shown.
    pub shown: String,
    /// The parts that must never be shown.
    secrets: Vec<String>,
    /// The URL as a URL library writes it (how an HTTP error names it).
    normalized: Option<String>,
}

impl Shown {
    /// `given` as it may be shown.
    pub fn new(given: &str) -> Self {
        let Ok(url) = url::Url::parse(given) else {
            return Shown {
                given: given.to_owned(),
                shown: "--upstream-url (not a valid URL)".to_owned(),
                secrets: vec![given.to_owned()],
                normalized: None,
            };
        };
        let port = url
            .port_or_known_default()
            .map(|port| format!(":{port}"))
            .unwrap_or_default();
        let shown = format!(
            "{}://{}{port}{}",
            url.scheme(),
            url.host_str().unwrap_or(""),
            url.path()
        );
        let secrets = [Some(url.username()), url.password(), url.query(), url.fragment()]
            .into_iter()
            .flatten()
            .filter(|part| !part.is_empty())
            .map(str::to_owned)
            .collect();
        Shown {
            given: given.to_owned(),
            shown,
            secrets,
            normalized: Some(url.as_str().to_owned()),
        }
    }

    /// The same, also withholding any text that holds one of `config`'s header values, or
    /// a word of one long enough to be a token (a server may echo `s3cret` of
    /// `Bearer s3cret`, or the value lower-cased).
    pub fn hiding(mut self, config: &UpstreamConfig) -> Self {
        for value in config.headers.iter().filter_map(|(_, value)| value.to_str().ok()) {
            let words = value
                .split_whitespace()
                .filter(|word| word.chars().count() >= MIN_SECRET_WORD);
            self.secrets.extend(
                std::iter::once(value)
                    .chain(words)
                    .filter(|secret| !secret.is_empty())
                    .map(str::to_owned),
            );
        }
        self
    }

    /// `text` (an HTTP error) with the URL shown as it may be; when a secret part would
    /// still show, in any letter case, the text is withheld.
    pub fn scrub(&self, text: &str) -> String {
        let mut text = text.replace(&self.given, &self.shown);
        if let Some(normalized) = &self.normalized {
            text = text.replace(normalized, &self.shown);
        }
        let lower = text.to_lowercase();
        if self
            .secrets
            .iter()
            .any(|secret| lower.contains(&secret.to_lowercase()))
        {
            return "(the error named the URL with its credentials or query; not shown)".to_owned();
        }
        text
    }
}

/// The length from which a word of a header value is itself withheld from error texts.
const MIN_SECRET_WORD: usize = 8;

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_unreachable_upstream_url_is_named_without_its_userinfo_or_query() {
        let closed = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let given = format!("http://alice:pa55word@127.0.0.1:{closed}/mcp?token=s3cret#frag");
        let (link, _gone) = link(&given, &UpstreamConfig::default());
        let mut writer = link.writer.unwrap();
        let mut reader = link.reader.unwrap();
        let request = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"c","version":"1"}}}"#;
        writer.write_all(format!("{request}\n").as_bytes()).await.unwrap();
        let mut answer = String::new();
        tokio::time::timeout(std::time::Duration::from_secs(20), reader.read_line(&mut answer))
            .await
            .expect("an answer within 20 s")
            .unwrap();
        let answer: Value = serde_json::from_str(&answer).unwrap();
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(
            message.starts_with(&format!(
                "the upstream MCP server at http://127.0.0.1:{closed}/mcp could not be reached"
            )),
            "{message}"
        );
        for secret in ["alice", "pa55word", "s3cret", "token", "frag"] {
            assert!(!message.contains(secret), "{secret} in {message}");
        }
    }

    #[tokio::test]
    async fn the_upstream_headers_reach_the_server_and_their_values_no_error() {
        use std::io::{Read, Write};
        // A raw HTTP server: reads one request's head, answers 500 with a body that echoes
        // the token alone, upper-cased (a careless server), and hands the head to the test.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            stream
                .set_read_timeout(Some(std::time::Duration::from_secs(10)))
                .unwrap();
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
                head.push(byte[0]);
            }
            let body = "invalid token: S3CRET-TOKEN";
            let _ = write!(
                stream,
                "HTTP/1.1 500 Internal Server Error\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            String::from_utf8_lossy(&head).to_lowercase()
        });
        let config = crate::mcp::config::parse(
            std::path::Path::new("gate.toml"),
            "[upstream]\nheaders = { authorization = \"Bearer s3cret-token\", x-tenant = \"acme\" }\n",
        )
        .unwrap()
        .upstream;
        let (link, _gone) = link(&format!("http://127.0.0.1:{port}/mcp"), &config);
        let mut writer = link.writer.unwrap();
        let mut reader = link.reader.unwrap();
        let request = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"c","version":"1"}}}"#;
        writer.write_all(format!("{request}\n").as_bytes()).await.unwrap();
        let mut answer = String::new();
        tokio::time::timeout(std::time::Duration::from_secs(20), reader.read_line(&mut answer))
            .await
            .expect("an answer within 20 s")
            .unwrap();
        let head = server.join().unwrap();
        assert!(head.starts_with("post /mcp "), "{head}");
        assert!(
            head.contains("\r\nauthorization: bearer s3cret-token\r\n"),
            "{head}"
        );
        assert!(head.contains("\r\nx-tenant: acme\r\n"), "{head}");
        let answer: Value = serde_json::from_str(&answer).unwrap();
        assert_eq!(answer["id"], json!(1), "{answer}");
        assert!(!answer.to_string().to_lowercase().contains("s3cret"), "{answer}");
    }

    #[test]
    fn a_text_still_holding_a_secret_is_withheld() {
        let url = Shown::new("https://alice:p4ss@example.test/mcp?k=s3cret");
        assert_eq!(url.shown, "https://example.test:443/mcp");
        assert_eq!(
            url.scrub("failed for url (https://alice:p4ss@example.test/mcp?k=s3cret)"),
            "failed for url (https://example.test:443/mcp)"
        );
        assert!(!url.scrub("odd: k=s3cret").contains("s3cret"));
        let config = crate::mcp::config::parse(
            std::path::Path::new("gate.toml"),
            "[upstream]\nheaders = { authorization = \"Bearer t0ken\" }\n",
        )
        .unwrap()
        .upstream;
        let url = Shown::new("http://example.test/mcp").hiding(&config);
        assert!(!url.scrub("401: Bearer t0ken rejected").contains("t0ken"));
    }

    #[test]
    fn a_text_echoing_only_the_token_or_it_in_another_case_is_withheld() {
        let config = crate::mcp::config::parse(
            std::path::Path::new("gate.toml"),
            "[upstream]\nheaders = { authorization = \"Bearer S3cret-Token\" }\n",
        )
        .unwrap()
        .upstream;
        let url = Shown::new("http://example.test/mcp").hiding(&config);
        for echoed in [
            "401: invalid token S3cret-Token",
            "401: invalid token s3cret-token",
            "401: BEARER S3CRET-TOKEN",
        ] {
            let shown = url.scrub(echoed);
            assert!(!shown.to_lowercase().contains("s3cret"), "{echoed} -> {shown}");
        }
        // A short word of the value ("Bearer") alone is no secret.
        assert_eq!(url.scrub("401: Bearer expected"), "401: Bearer expected");
    }
}
