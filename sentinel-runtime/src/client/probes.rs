//! The sidecar's health probes, `GET /readyz` and `GET /healthz`: no optional feature, since
//! a deployment checks its sidecar whatever else it verifies.

use serde_json::Value;

use super::SentinelClient;
use crate::protocol;
use crate::sidecar_error::SidecarError;

impl SentinelClient {
    /// Whether the sidecar can decide now (`GET /readyz`: its provenance store answers).
    /// `Err` says why not: a 503 while its store is down, or no answer at all.
    ///
    /// ```no_run
    /// let client = sentinel_runtime::SentinelClient::builder("http://localhost:4000").build()?;
    /// if let Err(why) = client.ready() {
    ///     eprintln!("the sidecar cannot decide now: {why}");
    /// }
    /// # Ok::<(), sentinel_runtime::BuildError>(())
    /// ```
    pub fn ready(&self) -> Result<(), SidecarError> {
        self.probe("/readyz", "ready")
    }

    /// Whether the sidecar process is up (`GET /healthz`); says nothing about its store.
    ///
    /// ```no_run
    /// let client = sentinel_runtime::SentinelClient::builder("http://localhost:4000").build()?;
    /// assert!(client.healthy().is_ok(), "the sidecar process is down");
    /// # Ok::<(), sentinel_runtime::BuildError>(())
    /// ```
    pub fn healthy(&self) -> Result<(), SidecarError> {
        self.probe("/healthz", "ok")
    }

    fn probe(&self, path: &str, status: &str) -> Result<(), SidecarError> {
        let url = format!("{}{path}", self.endpoint());
        let response = self
            .exchange("GET", &url, Vec::new())
            .map_err(SidecarError::Transport)?;
        let message = || self.redact(protocol::error_text(&response.body).unwrap_or_default());
        match response.status {
            200..=299 => {}
            404 => return Err(SidecarError::NotFound(message())),
            status => {
                return Err(SidecarError::Status {
                    status,
                    message: message(),
                })
            }
        }
        let answer: Value =
            serde_json::from_slice(&response.body).map_err(|e| SidecarError::Malformed(e.to_string()))?;
        if answer.get("status").and_then(Value::as_str) == Some(status) {
            Ok(())
        } else {
            Err(SidecarError::Malformed(format!("{path} did not say {status:?}")))
        }
    }
}
