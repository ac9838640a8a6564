//! Outside this crate's semver promise, like ureq's `unversioned`: what is here may change in
//! any release, minor or patch, so that the stable API never has to freeze it.
//!
//! [`transport`] is the HTTP exchange under a guard, behind a small trait: the way tests
//! script a sidecar's answers and the extension point for a custom HTTP stack. Its shape
//! follows what the default transport needs from one release to the next (a method given as
//! text, a hook to drop a connection whose answer was not honoured, counters for tests).
//! Freezing it would freeze those choices; fencing it costs users nothing they rely on for
//! the guard itself: [`SentinelClientBuilder::transport`](crate::SentinelClientBuilder::transport)
//! is stable, the trait it takes is not. The error a transport returns,
//! [`TransportError`](crate::TransportError), is stable: the stable errors carry it.
//!
//! [`json`] is the strict JSON reader the client reads sidecar answers with, for tools of this
//! workspace (the MCP gate reads its client's lines with it) rather than a second copy.
//!
//! Pin an exact version of this crate (`=x.y.z`) if you implement [`transport::Transport`]
//! yourself.
//!
//! ```
//! use sentinel_runtime::unversioned::json::parse_strict;
//! use sentinel_runtime::unversioned::transport::{HttpRequest, HttpResponse};
//! use sentinel_runtime::{Action, Context, SentinelClient, TransportError};
//!
//! // A transport of your own: here, a sidecar whose answer repeats a key.
//! const ANSWER: &str = r#"{"verdict":"BLOCK","verdict":"ALLOW","recordId":"rec_1","checks":[]}"#;
//! let client = SentinelClient::builder("http://localhost:4000")
//!     .transport(|_: &HttpRequest| Ok::<_, TransportError>(HttpResponse::new(200, ANSWER)))
//!     .build()
//!     .unwrap();
//! // The strict reader refuses it, so the guard fails closed rather than pick a verdict.
//! assert!(parse_strict(ANSWER.as_bytes()).is_err());
//! let decision = client.guard(&Action::payment(serde_json::json!({})), &Context::new("r"), "p");
//! assert!(decision.is_fallback() && !decision.allowed());
//! ```

pub mod transport {
    //! The HTTP exchange under a guard (unversioned: see [the module above](super)).
    //!
    //! ```
    //! use sentinel_runtime::unversioned::transport::{HttpRequest, HttpResponse, Transport};
    //! use sentinel_runtime::TransportError;
    //!
    //! /// A transport that records what it was asked and answers BLOCK.
    //! #[derive(Default)]
    //! struct Recording(std::sync::Mutex<Vec<String>>);
    //!
    //! impl Transport for Recording {
    //!     fn send(&self, request: &HttpRequest) -> Result<HttpResponse, TransportError> {
    //!         self.0.lock().unwrap().push(request.url.to_string());
    //!         Ok(HttpResponse::new(200, r#"{"verdict":"BLOCK","recordId":"rec_1","checks":[]}"#))
    //!     }
    //! }
    //! ```
    pub use crate::transport::{HttpRequest, HttpResponse, Transport, UreqTransport};

    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub use crate::tls::{TlsError, TlsOptions};
}

pub mod json {
    //! The client's strict JSON reader (unversioned: see [the module above](super)).
    //!
    //! ```
    //! let value = sentinel_runtime::unversioned::json::parse_strict(br#"{"ok":true}"#).unwrap();
    //! assert_eq!(value["ok"], true);
    //! ```

    /// Parses `bytes` as exactly one JSON value with no repeated key at any depth, and no
    /// number beyond a double: what `serde_json::from_slice::<Value>` would resolve
    /// last-one-wins (or refuse only sometimes) is an error.
    ///
    /// ```
    /// use sentinel_runtime::unversioned::json::parse_strict;
    ///
    /// assert!(parse_strict(br#"{"verdict":"BLOCK","verdict":"ALLOW"}"#).is_err());
    /// assert_eq!(parse_strict(br#"{"a":[1]}"#).unwrap()["a"][0], 1);
    /// ```
    ///
    /// # Errors
    ///
    /// serde_json's error, for a repeated key, trailing bytes, invalid JSON or nesting
    /// beyond serde_json's limit.
    pub fn parse_strict(bytes: &[u8]) -> Result<serde_json::Value, serde_json::Error> {
        crate::strict_json::parse(bytes)
    }
}
