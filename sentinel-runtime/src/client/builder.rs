//! [`SentinelClientBuilder`]: checks a client's configuration once, so that a bad one
//! fails at startup rather than on every guard.

use std::fmt;
use std::sync::{Arc, Once};
use std::time::Duration;

use super::{Inner, SentinelClient};
use crate::decision::FailMode;
use crate::protocol;
use crate::transport::{RedactedHeaders, Transport, UreqTransport};

/// Configures a [`SentinelClient`]; made by [`SentinelClient::builder`].
///
/// ```
/// use std::time::Duration;
/// use sentinel_runtime::{FailMode, SentinelClient};
///
/// let client = SentinelClient::builder("http://localhost:4000/")
///     .timeout(Duration::from_secs(2))
///     .fail_mode(FailMode::Closed)
///     .header("authorization", "Bearer my-token")
///     .body_limit(256 * 1024)   // refuse (fail safe on) answers longer than 256 KiB
///     .pool_size(32)            // idle keep-alive connections, for 32 guarding threads
///     .build()?;
/// assert_eq!(client.endpoint(), "http://localhost:4000");
/// assert!(!format!("{client:?}").contains("my-token"));
/// # Ok::<(), sentinel_runtime::BuildError>(())
/// ```
#[must_use = "a builder does nothing until .build()"]
pub struct SentinelClientBuilder {
    endpoint: String,
    fail_mode: FailMode,
    timeout: Duration,
    body_limit: usize,
    pool_size: usize,
    headers: Vec<(String, String)>,
    transport: Option<Arc<dyn Transport>>,
    #[cfg(feature = "verify")]
    trusted_keys: crate::provenance::TrustedKeys,
    /// The first key id given to `trusted_key_id` that is not one, reported by `build`.
    #[cfg(feature = "verify")]
    bad_key_id: Option<String>,
    #[cfg(feature = "verify")]
    trust_unverified_decisions: bool,
    /// `verify_decisions` was called: keys were asked for, so none at all is an error
    /// rather than "do not verify".
    #[cfg(feature = "verify")]
    verification_requested: bool,
    #[cfg(feature = "tls")]
    tls: crate::tls::TlsOptions,
}

impl fmt::Debug for SentinelClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SentinelClientBuilder")
            .field("endpoint", &self.endpoint)
            .field("fail_mode", &self.fail_mode)
            .field("timeout", &self.timeout)
            .field("headers", &RedactedHeaders(&self.headers))
            .finish_non_exhaustive()
    }
}

impl SentinelClientBuilder {
    /// The default whole-request deadline.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
    /// The default cap on a response body.
    pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;
    /// The default number of idle keep-alive connections kept to the sidecar.
    pub const DEFAULT_POOL_SIZE: usize = 16;

    pub(super) fn new(endpoint: String) -> Self {
        SentinelClientBuilder {
            endpoint,
            fail_mode: FailMode::Closed,
            timeout: Self::DEFAULT_TIMEOUT,
            body_limit: Self::DEFAULT_BODY_LIMIT,
            pool_size: Self::DEFAULT_POOL_SIZE,
            headers: Vec::new(),
            transport: None,
            #[cfg(feature = "verify")]
            trusted_keys: crate::provenance::TrustedKeys::new(),
            #[cfg(feature = "verify")]
            bad_key_id: None,
            #[cfg(feature = "verify")]
            trust_unverified_decisions: false,
            #[cfg(feature = "verify")]
            verification_requested: false,
            #[cfg(feature = "tls")]
            tls: crate::tls::TlsOptions::default(),
        }
    }

    /// What to do without a trustworthy answer. [`FailMode::Closed`] unless you say so.
    pub fn fail_mode(mut self, fail_mode: FailMode) -> Self {
        self.fail_mode = fail_mode;
        self
    }

    /// The whole-request deadline of one guard, retries included: connect, send, headers
    /// and body. Default 5 s.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The largest response body read; a longer one fails safe. Default 1 MiB.
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// How many idle keep-alive connections to keep; size it to the number of threads that
    /// guard at once. Default 16.
    pub fn pool_size(mut self, connections: usize) -> Self {
        self.pool_size = connections;
        self
    }

    /// Sends this header with every request, such as a gateway's auth token. Its value
    /// never appears in `Debug` output, logs or errors.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Replaces the HTTP transport, for tests or a custom stack (see
    /// [`Transport`](crate::unversioned::transport::Transport)).
    ///
    /// ```
    /// use sentinel_runtime::unversioned::transport::{HttpRequest, HttpResponse};
    /// use sentinel_runtime::TransportError;
    /// use sentinel_runtime::{Action, Context, SentinelClient};
    ///
    /// // A sidecar that is never there: every guard fails closed.
    /// let client = SentinelClient::builder("http://localhost:4000")
    ///     .transport(|_: &HttpRequest| Err::<HttpResponse, _>(TransportError::Timeout))
    ///     .build()?;
    /// let decision = client.guard(&Action::payment(serde_json::json!({})), &Context::new("r"), "p");
    /// assert!(decision.is_fallback() && !decision.allowed());
    /// # Ok::<(), sentinel_runtime::BuildError>(())
    /// ```
    pub fn transport(mut self, transport: impl Transport) -> Self {
        self.transport = Some(Arc::new(transport));
        self
    }

    /// Pins the sidecar's signing key by its id, `ed25519:<64 hex>`: the sidecar prints it
    /// at start-up (`signer ed25519:…`) and writes it in every record's `keyId`. Once a key
    /// is pinned, every `ALLOW` is verified (see [`verify_decisions`](Self::verify_decisions))
    /// and so are escalation approvals. Call it once per key the sidecars may sign with; an
    /// id that is not of that form fails [`build`](Self::build)
    /// ([`BuildError::InvalidKeyId`]). `SENTINEL_TRUSTED_KEY_IDS` sets it from the
    /// environment.
    ///
    /// ```
    /// let client = sentinel_runtime::SentinelClient::builder("http://localhost:4000")
    ///     .trusted_key_id("ed25519:56475aa75463474c0285df5dbf2bcab73da651358839e9b77481b2eab107708c")
    ///     .build()?;
    /// assert!(client.verifies_decisions());
    /// # Ok::<(), sentinel_runtime::BuildError>(())
    /// ```
    #[cfg(feature = "verify")]
    #[cfg_attr(docsrs, doc(cfg(feature = "verify")))]
    pub fn trusted_key_id(mut self, key_id: impl AsRef<str>) -> Self {
        match self.trusted_keys.clone().with_key_id(key_id.as_ref()) {
            Ok(keys) => self.trusted_keys = keys,
            Err(err) => {
                self.bad_key_id.get_or_insert(err.to_string());
            }
        }
        self
    }

    /// Pins these keys (added to any pinned before) and honours an `ALLOW` only after its
    /// signed record (`GET /v1/records/{recordId}`) verifies with one of them and matches
    /// the call: its action, verdict, run, tenant and policy. A forged, replayed or stray
    /// `ALLOW` becomes a `BLOCK`. Costs one more request per `ALLOW`. Pinning a key with
    /// [`trusted_key_id`](Self::trusted_key_id) does the same. An empty set with no other
    /// key pinned fails [`build`](Self::build) ([`BuildError::NoTrustedKeys`]) rather
    /// than quietly verifying nothing.
    ///
    /// ```
    /// use sentinel_runtime::provenance::TrustedKeys;
    /// use sentinel_runtime::{BuildError, SentinelClient};
    ///
    /// # let signer_public_key = "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=";
    /// let keys = TrustedKeys::new().with_key_base64(signer_public_key)?;
    /// let client = SentinelClient::builder("http://localhost:4000").verify_decisions(keys).build()?;
    /// assert!(client.verifies_decisions());
    ///
    /// let nothing = SentinelClient::builder("http://localhost:4000").verify_decisions(TrustedKeys::new());
    /// assert!(matches!(nothing.build(), Err(BuildError::NoTrustedKeys)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "verify")]
    #[cfg_attr(docsrs, doc(cfg(feature = "verify")))]
    pub fn verify_decisions(mut self, trusted_keys: crate::provenance::TrustedKeys) -> Self {
        self.trusted_keys = self.trusted_keys.merged(trusted_keys);
        self.verification_requested = true;
        self
    }

    /// Opts out of verifying each `ALLOW` although keys are pinned: the pinned keys still
    /// check escalation approvals, but a plain `ALLOW` is taken on the sidecar's word
    /// (saving one request per `ALLOW`). Anyone who can answer in the sidecar's place, or a
    /// stray answer on a reused connection, can then open the gate: use it only where the
    /// path to the sidecar is trusted.
    ///
    /// ```
    /// let client = sentinel_runtime::SentinelClient::builder("http://localhost:4000")
    ///     .trusted_key_id("ed25519:56475aa75463474c0285df5dbf2bcab73da651358839e9b77481b2eab107708c")
    ///     .trust_unverified_decisions()
    ///     .build()?;
    /// assert!(!client.verifies_decisions());
    /// # Ok::<(), sentinel_runtime::BuildError>(())
    /// ```
    #[cfg(feature = "verify")]
    #[cfg_attr(docsrs, doc(cfg(feature = "verify")))]
    pub fn trust_unverified_decisions(mut self) -> Self {
        self.trust_unverified_decisions = true;
        self
    }

    /// Trusts only these CA certificates (PEM) for an `https://` sidecar, instead of the
    /// platform's roots. Feature `tls`.
    ///
    /// ```no_run
    /// let client = sentinel_runtime::SentinelClient::builder("https://sentinel.internal:4000")
    ///     .tls_root_ca_pem(std::fs::read("/etc/sentinel/ca.pem")?)
    ///     .tls_client_identity_pem(
    ///         std::fs::read("/etc/sentinel/agent.pem")?,
    ///         std::fs::read("/etc/sentinel/agent.key")?,
    ///     )
    ///     .build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn tls_root_ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.tls.root_ca_pem = Some(pem.into());
        self
    }

    /// Presents this client certificate chain and private key (PEM) to an `https://`
    /// sidecar that asks for one (mutual TLS). The key never appears in `Debug` output or
    /// errors. Feature `tls`.
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn tls_client_identity_pem(
        mut self,
        cert_chain_pem: impl Into<Vec<u8>>,
        key_pem: impl Into<Vec<u8>>,
    ) -> Self {
        self.tls.identity_pem = Some((cert_chain_pem.into(), key_pem.into()));
        self
    }

    /// Checks the configuration and builds the client.
    ///
    /// ```
    /// use sentinel_runtime::{BuildError, SentinelClient};
    ///
    /// assert!(SentinelClient::builder("http://localhost:4000").build().is_ok());
    /// let error = SentinelClient::builder("localhost:4000").build().unwrap_err();
    /// assert!(matches!(error, BuildError::InvalidEndpoint { .. }), "{error}");
    /// ```
    pub fn build(self) -> Result<SentinelClient, BuildError> {
        let endpoint = self.endpoint.trim().trim_end_matches('/').to_owned();
        check_endpoint(&endpoint, self.transport.is_some())?;
        if self.timeout.is_zero() {
            return Err(BuildError::InvalidTimeout);
        }
        #[cfg(feature = "verify")]
        if let Some(reason) = self.bad_key_id {
            return Err(BuildError::InvalidKeyId(reason));
        }
        #[cfg(feature = "verify")]
        if self.verification_requested && self.trusted_keys.is_empty() {
            return Err(BuildError::NoTrustedKeys);
        }
        #[cfg(feature = "verify")]
        let trusted_keys = (!self.trusted_keys.is_empty()).then_some(self.trusted_keys);
        #[cfg(feature = "verify")]
        let verify_decisions = trusted_keys.is_some() && !self.trust_unverified_decisions;
        #[cfg(not(feature = "verify"))]
        let verify_decisions = false;
        if verify_decisions && self.fail_mode == FailMode::Open {
            return Err(BuildError::VerifyWithFailOpen);
        }
        let mut headers = Vec::with_capacity(self.headers.len() + 1);
        headers.push(("content-type".to_owned(), "application/json".to_owned()));
        for (index, (name, value)) in self.headers.into_iter().enumerate() {
            check_header(index, &name, &value)?;
            headers.push((name, value));
        }
        if self.fail_mode == FailMode::Open {
            static WARN_ONCE: Once = Once::new();
            WARN_ONCE.call_once(|| {
                log::warn!(
                    target: "sentinel",
                    "a Sentinel client fails OPEN: when the sidecar cannot be reached, actions are ALLOWED unchecked"
                );
            });
        }
        #[cfg(feature = "verify")]
        let key_pinned = trusted_keys.is_some();
        #[cfg(not(feature = "verify"))]
        let key_pinned = false;
        if !key_pinned && !is_loopback(&endpoint) {
            static WARN_ONCE: Once = Once::new();
            WARN_ONCE.call_once(|| {
                log::warn!(
                    target: "sentinel",
                    "a Sentinel client talks to a sidecar beyond loopback without a pinned signing key: an ALLOW \
                     cannot be told from one forged or misrouted on the way; pin the key id the sidecar prints at \
                     start-up (`signer ed25519:…`) with SENTINEL_TRUSTED_KEY_IDS or .trusted_key_id(…)"
                );
            });
        }
        let transport = match self.transport {
            Some(transport) => transport,
            #[cfg(feature = "tls")]
            None if endpoint.starts_with("https://") => {
                let transport = UreqTransport::with_tls(self.pool_size, &self.tls)
                    .map_err(|e| BuildError::InvalidTls(e.to_string()))?;
                Arc::new(transport)
            }
            None => Arc::new(UreqTransport::new(self.pool_size)),
        };
        Ok(SentinelClient {
            inner: Arc::new(Inner {
                guard_url: format!("{endpoint}{}", protocol::GUARD).into(),
                batch_url: format!("{endpoint}{}", protocol::GUARD_BATCH).into(),
                endpoint,
                fail_mode: self.fail_mode,
                timeout: self.timeout,
                body_limit: self.body_limit,
                headers: headers.into(),
                transport,
                #[cfg(feature = "verify")]
                trusted_keys,
                verify_decisions,
                #[cfg(feature = "verify")]
                seen_records: Default::default(),
                batch_pace: Default::default(),
            }),
        })
    }
}

/// Whether the endpoint's host is this machine (`localhost`, `127.0.0.0/8`, `::1`): the one
/// place an unsigned answer cannot have been changed on the way by anyone but this machine.
fn is_loopback(endpoint: &str) -> bool {
    let Ok(uri) = endpoint.parse::<ureq::http::Uri>() else {
        return false;
    };
    let Some(host) = uri.host() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn check_endpoint(endpoint: &str, custom_transport: bool) -> Result<(), BuildError> {
    let invalid = |reason: &str| BuildError::InvalidEndpoint {
        endpoint: endpoint.to_owned(),
        reason: reason.to_owned(),
    };
    let uri: ureq::http::Uri = endpoint
        .parse()
        .map_err(|e: ureq::http::uri::InvalidUri| invalid(&e.to_string()))?;
    if uri
        .authority()
        .is_some_and(|authority| authority.as_str().contains('@'))
    {
        // Never echo the endpoint here: it holds a credential.
        return Err(BuildError::InvalidEndpoint {
            endpoint: "<redacted: it holds credentials>".into(),
            reason: "credentials in the URL would be printed and logged; send them with .header(\"authorization\", …)"
                .into(),
        });
    }
    match uri.scheme_str() {
        Some("http") => {}
        Some("https") if custom_transport || cfg!(feature = "tls") => {}
        Some("https") => return Err(BuildError::TlsNotEnabled),
        Some(other) => return Err(invalid(&format!("scheme must be http or https, not {other}"))),
        None => return Err(invalid("expected an absolute URL such as http://localhost:4000")),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(invalid("no host"));
    }
    if uri.query().is_some() {
        return Err(invalid("an endpoint has no query string"));
    }
    // The URI parser drops a fragment silently: every request would then go elsewhere
    // than the endpoint reads.
    if endpoint.contains('#') {
        return Err(invalid("an endpoint has no #fragment"));
    }
    Ok(())
}

/// Headers the client or its HTTP stack owns: overriding them would misframe the request
/// (its body not sent, or read as another request), reroute it, or hold it back.
const OWN_HEADERS: [&str; 10] = [
    "content-length",
    "transfer-encoding",
    "host",
    "expect",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "content-type",
];

/// Checks a header as the HTTP stack will, so a bad one fails at build time rather than
/// on every guard. A name that is not a valid header name is not echoed: it may be a
/// token pasted in the wrong place.
fn check_header(index: usize, name: &str, value: &str) -> Result<(), BuildError> {
    if ureq::http::HeaderName::from_bytes(name.as_bytes()).is_err() {
        return Err(BuildError::InvalidHeader {
            name: format!("#{} (its name is not a valid header name)", index + 1),
        });
    }
    if OWN_HEADERS.iter().any(|own| own.eq_ignore_ascii_case(name)) {
        return Err(BuildError::InvalidHeader {
            name: format!("{name} (the client sets it; it cannot be overridden)"),
        });
    }
    // Visible ASCII, spaces and tabs: what the error says (the HTTP stack would also take
    // bytes above 0x7f, which reach the wire as whatever the other side decodes).
    let visible_ascii = value.bytes().all(|b| b == b'\t' || (b' '..=b'~').contains(&b));
    if !visible_ascii || ureq::http::HeaderValue::from_str(value).is_err() {
        return Err(BuildError::InvalidHeader {
            name: name.to_owned(),
        });
    }
    Ok(())
}

/// Why a client could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BuildError {
    /// The endpoint is not an absolute `http://` URL.
    InvalidEndpoint {
        /// The endpoint as given.
        endpoint: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An `https://` endpoint, but this build has no TLS.
    TlsNotEnabled,
    /// A header whose name is not an HTTP token, one the client sets itself
    /// (`content-length`, `transfer-encoding`, `host`, `expect`, …), or whose value is not
    /// visible ASCII (spaces and tabs allowed). (The value is never printed.)
    InvalidHeader {
        /// The header's name.
        name: String,
    },
    /// A zero timeout would deny every action.
    InvalidTimeout,
    /// A pinned key (decisions verified) on a client that fails open: an attacker who can forge answers
    /// would simply answer an error and get `ALLOW`.
    VerifyWithFailOpen,
    /// A TLS certificate or key could not be read. (Key material is never printed.)
    InvalidTls(String),
    /// A key id given to `trusted_key_id` is not `ed25519:<64 hex>`; says why.
    InvalidKeyId(String),
    /// `verify_decisions` was asked for with an empty key set: nothing could verify an
    /// `ALLOW`, and building a client that does not verify would hide the mistake.
    NoTrustedKeys,
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::InvalidEndpoint { endpoint, reason } => {
                write!(f, "invalid Sentinel endpoint {endpoint:?}: {reason}")
            }
            BuildError::TlsNotEnabled => f.write_str(
                "https:// endpoints need TLS, which this build of sentinel does not include; enable the `tls` feature",
            ),
            BuildError::InvalidHeader { name } => write!(
                f,
                "invalid header {name}: a name must be an HTTP token, a value visible ASCII without line breaks"
            ),
            BuildError::VerifyWithFailOpen => f.write_str(
                "verifying decisions (a pinned key) with FailMode::Open would let anyone on the path answer an error \
                 and get ALLOW; choose one"
            ),
            BuildError::InvalidKeyId(why) => write!(f, "invalid trusted key id: {why}"),
            BuildError::NoTrustedKeys => f.write_str(
                "verify_decisions was given no trusted key: no ALLOW could be verified; pin the sidecar's \
                 signing key (as it prints it at start-up: `signer ed25519:…`) or do not ask for verification",
            ),
            BuildError::InvalidTimeout => f.write_str("the timeout must be greater than zero"),
            BuildError::InvalidTls(why) => write!(f, "invalid TLS configuration: {why}"),
        }
    }
}

impl std::error::Error for BuildError {}

#[cfg(all(test, not(feature = "tls")))]
mod tests {
    use super::*;

    #[test]
    fn an_https_endpoint_without_tls_names_the_feature_to_enable() {
        let err = SentinelClient::builder("https://sidecar.internal")
            .build()
            .unwrap_err();
        assert_eq!(err, BuildError::TlsNotEnabled);
        assert!(err.to_string().contains("enable the `tls` feature"), "{err}");
    }
}

#[cfg(all(test, feature = "verify"))]
mod verify_tests {
    use super::*;
    use crate::provenance::TrustedKeys;

    const KEY_ID: &str = "ed25519:56475aa75463474c0285df5dbf2bcab73da651358839e9b77481b2eab107708c";

    #[test]
    fn verifying_with_an_empty_key_set_fails_to_build_instead_of_not_verifying() {
        let err = SentinelClient::builder("http://localhost:4000")
            .verify_decisions(TrustedKeys::new())
            .build()
            .unwrap_err();
        assert_eq!(err, BuildError::NoTrustedKeys);
        assert!(err.to_string().contains("no trusted key"), "{err}");
    }

    #[test]
    fn an_empty_key_set_beside_a_pinned_key_still_verifies() {
        let client = SentinelClient::builder("http://localhost:4000")
            .trusted_key_id(KEY_ID)
            .verify_decisions(TrustedKeys::new())
            .build()
            .unwrap();
        assert!(client.verifies_decisions());
    }
}
