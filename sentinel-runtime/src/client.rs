//! [`SentinelClient`]: asks the sidecar, and fails safe whenever it cannot get a
//! trustworthy answer.

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::action::Action;
use crate::context::Context;
use crate::decision::GuardDecision;
use crate::http::UreqTransport;
use crate::transport::{HttpRequest, HttpResponse, RedactedHeaders, Transport, TransportError};

/// What the client does when it cannot get a trustworthy answer from the sidecar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum FailMode {
    /// Deny: the synthetic decision is `BLOCK`. The default, and the only safe choice for
    /// actions that matter.
    #[default]
    Closed,
    /// Allow: the synthetic decision is `ALLOW`, marked as a fallback. Choose it only for
    /// actions whose being blocked costs more than their happening unchecked.
    Open,
}

/// The most requests one `POST /v1/guard/batch` carries; longer batches are split.
pub const MAX_BATCH: usize = 256;

/// The default whole-request deadline.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// The default cap on a response body.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;
/// The default number of idle keep-alive connections kept to the sidecar.
pub const DEFAULT_POOL_SIZE: usize = 16;

/// How many times a 429/503 answer is tried again at most (the deadline usually ends the
/// retries first).
const MAX_ATTEMPTS: u32 = 8;
/// The first backoff after a 429/503 without `Retry-After`; doubles each time.
const FIRST_BACKOFF: Duration = Duration::from_millis(25);
const MAX_BACKOFF: Duration = Duration::from_millis(500);

/// The client of a Sentinel sidecar. Cheap to clone: clones share one connection pool.
///
/// ```no_run
/// use sentinel_runtime::{Action, Context, SentinelClient};
/// use serde_json::json;
///
/// let client = SentinelClient::builder("http://localhost:4000").build()?;
/// let decision = client.guard(
///     &Action::payment(json!({"amount": 100, "from": "acct_ops", "to": "vendor_42"})),
///     &Context::new("run-42"),
///     "fintech.payments",
/// );
/// if decision.allowed() {
///     // move the money
/// }
/// # Ok::<(), sentinel_runtime::BuildError>(())
/// ```
#[derive(Clone)]
pub struct SentinelClient {
    inner: Arc<Inner>,
}

struct Inner {
    endpoint: String,
    guard_url: Arc<str>,
    batch_url: Arc<str>,
    fail_mode: FailMode,
    timeout: Duration,
    body_limit: usize,
    headers: Arc<[(String, String)]>,
    transport: Arc<dyn Transport>,
    #[cfg(feature = "verify")]
    trusted_keys: Option<crate::provenance::TrustedKeys>,
    #[cfg(feature = "verify")]
    seen_records: crate::verified::SeenRecords,
}

impl SentinelClient {
    /// Starts configuring a client for the sidecar at `endpoint`, such as
    /// `http://localhost:4000`.
    pub fn builder(endpoint: impl Into<String>) -> SentinelClientBuilder {
        SentinelClientBuilder {
            endpoint: endpoint.into(),
            fail_mode: FailMode::Closed,
            timeout: DEFAULT_TIMEOUT,
            body_limit: DEFAULT_BODY_LIMIT,
            pool_size: DEFAULT_POOL_SIZE,
            headers: Vec::new(),
            transport: None,
            #[cfg(feature = "verify")]
            trusted_keys: None,
            #[cfg(feature = "tls")]
            tls: crate::tls::TlsOptions::default(),
        }
    }

    /// Asks the sidecar whether `action` may happen under `policy`.
    ///
    /// Never fails and never panics: anything but a well-formed decision in a 2xx answer
    /// within the deadline becomes the [fallback](GuardDecision::fallback) decision of the
    /// client's [`FailMode`]. A request the sidecar would refuse before looking at it (an
    /// empty policy, run id or action type, a payload that is not a JSON object) is
    /// refused without asking, whatever the fail mode; so is an `ALLOW` whose signed record
    /// does not match the call, with [`verify_decisions`](SentinelClientBuilder::verify_decisions).
    pub fn guard(&self, action: &Action, context: &Context, policy: &str) -> GuardDecision {
        #[cfg(feature = "tracing")]
        let span = crate::telemetry::guard_span(action, policy);
        #[cfg(feature = "tracing")]
        let _entered = span.enter();
        #[cfg(feature = "tracing")]
        let started = Instant::now();

        let mut attempts = 0;
        let decision = self.guard_counting(action, context, policy, &mut attempts);

        #[cfg(feature = "tracing")]
        crate::telemetry::record_decision(&span, &decision, started.elapsed(), attempts);
        decision
    }

    fn guard_counting(
        &self,
        action: &Action,
        context: &Context,
        policy: &str,
        attempts: &mut u32,
    ) -> GuardDecision {
        // A request the sidecar would refuse is the caller's error, not the sidecar's
        // absence: it is denied whatever the fail mode.
        if let Some(why) = request_error(action, context, policy) {
            return GuardDecision::refused(why);
        }
        // Sized for a typical request, so serializing does not reallocate.
        let mut body = Vec::with_capacity(512);
        if let Err(e) = serde_json::to_writer(
            &mut body,
            &GuardRequest {
                action,
                context,
                policy,
            },
        ) {
            return GuardDecision::refused(format!("request could not be serialized: {e}"));
        }
        let deadline = self.deadline();
        let decision = match self.exchange_until("POST", &self.inner.guard_url, body, deadline, attempts) {
            Ok(response) => self.decision_from(response),
            Err(why) => return self.fail_safe(why),
        };
        self.checked(decision, action, context, deadline)
    }

    /// With `verify_decisions`, an `ALLOW` only stands once its signed record matches the
    /// call; every other decision passes through.
    #[cfg_attr(not(feature = "verify"), allow(unused_variables))]
    fn checked(
        &self,
        decision: GuardDecision,
        action: &Action,
        context: &Context,
        deadline: Instant,
    ) -> GuardDecision {
        #[cfg(feature = "verify")]
        if let Some(trusted) = &self.inner.trusted_keys {
            if decision.allowed() && !decision.is_fallback() {
                return self.verified(decision, trusted, action, context, deadline);
            }
        }
        decision
    }

    #[cfg(feature = "verify")]
    pub(crate) fn seen_records(&self) -> &crate::verified::SeenRecords {
        &self.inner.seen_records
    }

    /// The keys `ALLOW`s are checked against, with `verify_decisions`.
    #[cfg(feature = "verify")]
    pub(crate) fn trusted_keys(&self) -> Option<&crate::provenance::TrustedKeys> {
        self.inner.trusted_keys.as_ref()
    }

    /// When a call that starts now must be over.
    pub(crate) fn deadline(&self) -> Instant {
        deadline_after(self.inner.timeout)
    }

    /// Asks about many actions in as few requests as the protocol allows
    /// (`POST /v1/guard/batch`, at most [`MAX_BATCH`] a request). Returns one decision per
    /// request, in order. A malformed decision fails safe for its own request; an answer
    /// that is not a list of the right length fails safe for every request it covered.
    pub fn guard_batch<P: AsRef<str>>(&self, requests: &[(Action, Context, P)]) -> Vec<GuardDecision> {
        let mut decisions = Vec::with_capacity(requests.len());
        for chunk in requests.chunks(MAX_BATCH) {
            decisions.extend(self.guard_chunk(chunk));
        }
        decisions
    }

    fn guard_chunk<P: AsRef<str>>(&self, chunk: &[(Action, Context, P)]) -> Vec<GuardDecision> {
        let deadline = self.deadline();
        let sent: Vec<GuardRequest<'_>> = chunk
            .iter()
            .filter(|(action, context, policy)| request_error(action, context, policy.as_ref()).is_none())
            .map(|(action, context, policy)| GuardRequest {
                action,
                context,
                policy: policy.as_ref(),
            })
            .collect();
        let mut answers = if sent.is_empty() {
            Vec::new().into_iter()
        } else {
            self.batch_exchange(&sent, deadline).into_iter()
        };
        chunk
            .iter()
            .map(
                |(action, context, policy)| match request_error(action, context, policy.as_ref()) {
                    Some(why) => GuardDecision::refused(why),
                    // batch_exchange returns exactly one decision per request sent.
                    None => match answers.next() {
                        Some(decision) => self.checked(decision, action, context, deadline),
                        None => self.fail_safe("batch answer too short"),
                    },
                },
            )
            .collect()
    }

    /// Sends one batch; returns exactly one decision per request.
    fn batch_exchange(&self, requests: &[GuardRequest<'_>], deadline: Instant) -> Vec<GuardDecision> {
        #[derive(Serialize)]
        struct Batch<'a> {
            requests: &'a [GuardRequest<'a>],
        }
        let count = requests.len();
        let fail_all = |why: String| (0..count).map(|_| self.fail_safe(why.clone())).collect();
        let body = match serde_json::to_vec(&Batch { requests }) {
            Ok(body) => body,
            Err(e) => return fail_all(format!("request could not be serialized: {e}")),
        };
        let response = match self.exchange_until("POST", &self.inner.batch_url, body, deadline, &mut 0) {
            Ok(response) => response,
            Err(why) => return fail_all(why),
        };
        if !(200..300).contains(&response.status) {
            return fail_all(describe_status(&response));
        }
        let items = match crate::strict_json::parse(&response.body) {
            Ok(serde_json::Value::Object(mut answer)) => match answer.remove("decisions") {
                Some(serde_json::Value::Array(items)) if items.len() == count => items,
                Some(serde_json::Value::Array(items)) => {
                    return fail_all(format!(
                        "batch answer has {} decisions for {count} requests",
                        items.len()
                    ))
                }
                _ => return fail_all("malformed batch answer: `decisions` must be an array".into()),
            },
            Ok(_) => return fail_all("malformed batch answer: expected an object".into()),
            Err(e) => return fail_all(format!("malformed batch answer: not valid JSON: {e}")),
        };
        items
            .into_iter()
            .map(|item| {
                GuardDecision::from_value(item)
                    .unwrap_or_else(|e| self.fail_safe(format!("malformed decision: {e}")))
            })
            .collect()
    }

    /// The fail-safe decision of this client's fail mode for `what_went_wrong`.
    pub fn fail_safe(&self, what_went_wrong: impl Into<String>) -> GuardDecision {
        let decision = GuardDecision::fallback(self.inner.fail_mode, what_went_wrong);
        if self.inner.fail_mode == FailMode::Open {
            log::warn!(target: "sentinel", "{}", decision.reason().unwrap_or_default());
        }
        decision
    }

    /// The sidecar's base URL, trailing slashes trimmed.
    pub fn endpoint(&self) -> &str {
        &self.inner.endpoint
    }

    /// The fail mode.
    pub fn fail_mode(&self) -> FailMode {
        self.inner.fail_mode
    }

    /// The whole-request deadline.
    pub fn timeout(&self) -> Duration {
        self.inner.timeout
    }

    /// How many connections the transport has opened, if it counts them (the default one
    /// does).
    pub fn connections_opened(&self) -> Option<u64> {
        self.inner.transport.connections_opened()
    }

    fn decision_from(&self, response: HttpResponse) -> GuardDecision {
        if !(200..300).contains(&response.status) {
            return self.fail_safe(describe_status(&response));
        }
        match GuardDecision::from_json(&response.body) {
            Ok(decision) => decision,
            Err(e) => self.fail_safe(format!("malformed decision: {e}")),
        }
    }

    /// Sends one request within the client's deadline; see [`exchange_until`](Self::exchange_until).
    pub(crate) fn exchange(
        &self,
        method: &'static str,
        url: &str,
        body: Vec<u8>,
    ) -> Result<HttpResponse, String> {
        self.exchange_until(method, url, body, self.deadline(), &mut 0)
    }

    /// Sends one request, every attempt before `deadline`, retrying answers the sidecar
    /// gave before evaluating anything (429, 503). Returns the last response, whatever its
    /// status, or why there was none. Counts the attempts in `attempts`.
    pub(crate) fn exchange_until(
        &self,
        method: &'static str,
        url: &str,
        body: Vec<u8>,
        deadline: Instant,
        attempts: &mut u32,
    ) -> Result<HttpResponse, String> {
        let mut request = HttpRequest {
            method,
            url: Arc::from(url),
            headers: Arc::clone(&self.inner.headers),
            body,
            timeout: self.inner.timeout,
            body_limit: self.inner.body_limit,
            replayable: method == "GET" || url == &*self.inner.guard_url,
        };
        loop {
            *attempts += 1;
            request.timeout = deadline.saturating_duration_since(Instant::now());
            if request.timeout.is_zero() {
                return Err(TransportError::Timeout.to_string());
            }
            let response = self.send_caught(&request).map_err(|e| e.to_string())?;
            if !matches!(response.status, 429 | 503) || *attempts >= MAX_ATTEMPTS {
                return Ok(response);
            }
            let wait = retry_after(&response).unwrap_or_else(|| backoff(*attempts));
            if wait >= deadline.saturating_duration_since(Instant::now()) {
                return Ok(response);
            }
            std::thread::sleep(wait);
        }
    }

    fn send_caught(&self, request: &HttpRequest) -> Result<HttpResponse, TransportError> {
        catch_unwind(AssertUnwindSafe(|| self.inner.transport.send(request))).unwrap_or_else(|panic| {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-string panic".into());
            Err(TransportError::Other(format!("transport panicked: {message}")))
        })
    }
}

impl fmt::Debug for SentinelClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SentinelClient")
            .field("endpoint", &self.inner.endpoint)
            .field("fail_mode", &self.inner.fail_mode)
            .field("timeout", &self.inner.timeout)
            .field("body_limit", &self.inner.body_limit)
            .field("headers", &RedactedHeaders(&self.inner.headers))
            .finish_non_exhaustive()
    }
}

/// Why the sidecar would refuse this request before looking at it (a 400), if it would.
fn request_error(action: &Action, context: &Context, policy: &str) -> Option<&'static str> {
    if policy.is_empty() {
        return Some("the policy name is empty");
    }
    if context.run_id().is_empty() {
        return Some("the context's run id is empty");
    }
    action.shape_error()
}

#[derive(Serialize)]
struct GuardRequest<'a> {
    action: &'a Action,
    context: &'a Context,
    policy: &'a str,
}

/// `HTTP 400: unknown policy pack: no.such.pack`, using the sidecar's `error` text when
/// the body has one.
fn describe_status(response: &HttpResponse) -> String {
    let error = serde_json::from_slice::<serde_json::Value>(&response.body)
        .ok()
        .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(|e| truncate(e, 200)));
    match error {
        Some(error) => format!("HTTP {}: {error}", response.status),
        None => format!("HTTP {}", response.status),
    }
}

fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// `Retry-After` in whole seconds (the HTTP-date form is not worth honouring within a
/// deadline of seconds; the backoff applies instead).
fn retry_after(response: &HttpResponse) -> Option<Duration> {
    let seconds: u64 = response.header("retry-after")?.trim().parse().ok()?;
    Some(Duration::from_secs(seconds))
}

/// `now + timeout`, saturating far in the future instead of overflowing on a huge timeout.
pub(crate) fn deadline_after(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout)
        .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600))
}

fn backoff(attempt: u32) -> Duration {
    FIRST_BACKOFF
        .saturating_mul(1 << attempt.saturating_sub(1).min(16))
        .min(MAX_BACKOFF)
}

/// Configures a [`SentinelClient`]; made by [`SentinelClient::builder`].
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
    trusted_keys: Option<crate::provenance::TrustedKeys>,
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

    /// Replaces the HTTP transport, for tests or a custom stack.
    pub fn transport(mut self, transport: impl Transport) -> Self {
        self.transport = Some(Arc::new(transport));
        self
    }

    /// Honours an `ALLOW` only after its signed record (`GET /v1/records/{recordId}`)
    /// verifies with one of `trusted_keys` and matches the action, verdict and run of the
    /// call. A forged or replayed `ALLOW` becomes a `BLOCK`. Costs one more request per
    /// `ALLOW`.
    #[cfg(feature = "verify")]
    pub fn verify_decisions(mut self, trusted_keys: crate::provenance::TrustedKeys) -> Self {
        self.trusted_keys = Some(trusted_keys);
        self
    }

    /// Trusts only these CA certificates (PEM) for an `https://` sidecar, instead of the
    /// platform's roots. Feature `tls`.
    #[cfg(feature = "tls")]
    pub fn tls_root_ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.tls.root_ca_pem = Some(pem.into());
        self
    }

    /// Presents this client certificate chain and private key (PEM) to an `https://`
    /// sidecar that asks for one (mutual TLS). The key never appears in `Debug` output or
    /// errors. Feature `tls`.
    #[cfg(feature = "tls")]
    pub fn tls_client_identity_pem(
        mut self,
        cert_chain_pem: impl Into<Vec<u8>>,
        key_pem: impl Into<Vec<u8>>,
    ) -> Self {
        self.tls.identity_pem = Some((cert_chain_pem.into(), key_pem.into()));
        self
    }

    /// Checks the configuration and builds the client.
    pub fn build(self) -> Result<SentinelClient, BuildError> {
        let endpoint = self.endpoint.trim().trim_end_matches('/').to_owned();
        check_endpoint(&endpoint, self.transport.is_some())?;
        if self.timeout.is_zero() {
            return Err(BuildError::InvalidTimeout);
        }
        #[cfg(feature = "verify")]
        if self.trusted_keys.is_some() && self.fail_mode == FailMode::Open {
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
        let transport = match self.transport {
            Some(transport) => transport,
            #[cfg(feature = "tls")]
            None if endpoint.starts_with("https://") => {
                Arc::new(UreqTransport::with_tls(self.pool_size, self.tls.to_ureq()?))
            }
            None => Arc::new(UreqTransport::new(self.pool_size)),
        };
        Ok(SentinelClient {
            inner: Arc::new(Inner {
                guard_url: format!("{endpoint}/v1/guard").into(),
                batch_url: format!("{endpoint}/v1/guard/batch").into(),
                endpoint,
                fail_mode: self.fail_mode,
                timeout: self.timeout,
                body_limit: self.body_limit,
                headers: headers.into(),
                transport,
                #[cfg(feature = "verify")]
                trusted_keys: self.trusted_keys,
                #[cfg(feature = "verify")]
                seen_records: Default::default(),
            }),
        })
    }
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
    Ok(())
}

/// Checks a header as the HTTP stack will, so a bad one fails at build time rather than
/// on every guard. A name that is not a valid header name is not echoed: it may be a
/// token pasted in the wrong place.
fn check_header(index: usize, name: &str, value: &str) -> Result<(), BuildError> {
    if ureq::http::HeaderName::from_bytes(name.as_bytes()).is_err() {
        return Err(BuildError::InvalidHeader {
            name: format!("#{} (its name is not a valid header name)", index + 1),
        });
    }
    if ureq::http::HeaderValue::from_str(value).is_err() {
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
    /// A header whose name is not an HTTP token or whose value holds a line break. (The
    /// value is never printed.)
    InvalidHeader {
        /// The header's name.
        name: String,
    },
    /// A zero timeout would deny every action.
    InvalidTimeout,
    /// `verify_decisions` on a client that fails open: an attacker who can forge answers
    /// would simply answer an error and get `ALLOW`.
    VerifyWithFailOpen,
    /// A TLS certificate or key could not be read. (Key material is never printed.)
    InvalidTls(String),
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
                "verify_decisions with FailMode::Open would let anyone on the path answer an error and get ALLOW; \
                 choose one"
            ),
            BuildError::InvalidTimeout => f.write_str("the timeout must be greater than zero"),
            BuildError::InvalidTls(why) => write!(f, "invalid TLS configuration: {why}"),
        }
    }
}

impl std::error::Error for BuildError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(not(feature = "tls"))]
    fn an_https_endpoint_without_tls_names_the_feature_to_enable() {
        let err = SentinelClient::builder("https://sidecar.internal")
            .build()
            .unwrap_err();
        assert_eq!(err, BuildError::TlsNotEnabled);
        assert!(err.to_string().contains("enable the `tls` feature"), "{err}");
    }

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        assert_eq!(backoff(1), FIRST_BACKOFF);
        assert_eq!(backoff(2), FIRST_BACKOFF * 2);
        assert_eq!(backoff(30), MAX_BACKOFF);
    }
}
