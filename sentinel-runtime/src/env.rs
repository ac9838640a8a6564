//! Configuration from the environment: [`SentinelClient::from_env`] and [`init_from_env`].

use std::fmt;
use std::time::Duration;

use crate::client::{BuildError, SentinelClient};
use crate::decision::FailMode;
use crate::global::{init, AlreadyInitialized};

impl SentinelClient {
    /// Builds a client from the `SENTINEL_*` variables:
    ///
    /// | variable | meaning | default |
    /// |---|---|---|
    /// | `SENTINEL_ENDPOINT` | the sidecar's base URL, such as `http://localhost:4000` | required |
    /// | `SENTINEL_FAIL_MODE` | `closed` or `open` | `closed` |
    /// | `SENTINEL_TIMEOUT_MS` | whole-request deadline in milliseconds, > 0 | `5000` |
    /// | `SENTINEL_BODY_LIMIT` | largest response body in bytes, > 0 | `1048576` |
    /// | `SENTINEL_HEADERS` | extra headers, `name=value` pairs separated by commas; quote a value that holds a comma: `x-api-key="abc,def=ghi"` | none |
    /// | `SENTINEL_TRUSTED_KEY_IDS` | the sidecar's signing key ids, `ed25519:<64 hex>` separated by commas, as it prints them at start-up (`signer ed25519:…`); then every `ALLOW` is verified against its signed record (feature `verify`) | none |
    ///
    /// A variable that is set but wrong is an error naming it; nothing falls back to a
    /// default silently. Header values are never printed.
    ///
    /// ```no_run
    /// let client = sentinel_runtime::SentinelClient::from_env()?;
    /// # Ok::<(), sentinel_runtime::EnvError>(())
    /// ```
    pub fn from_env() -> Result<SentinelClient, EnvError> {
        from_lookup(|name| std::env::var(name).ok())
    }
}

/// [`init`] with [`SentinelClient::from_env`] (its table lists the variables).
///
/// ```no_run
/// // At startup, with SENTINEL_ENDPOINT (and SENTINEL_TRUSTED_KEY_IDS…) set.
/// if let Err(why) = sentinel_runtime::init_from_env() {
///     eprintln!("no Sentinel client: {why}"); // names the variable that is missing or wrong
///     std::process::exit(2);
/// }
/// ```
pub fn init_from_env() -> Result<(), InitError> {
    init(SentinelClient::from_env().map_err(InitError::Env)?).map_err(InitError::AlreadyInitialized)
}

pub(crate) fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<SentinelClient, EnvError> {
    let endpoint = lookup("SENTINEL_ENDPOINT").ok_or(EnvError::missing("SENTINEL_ENDPOINT"))?;
    let mut builder = SentinelClient::builder(endpoint);
    if let Some(mode) = lookup("SENTINEL_FAIL_MODE") {
        builder = builder.fail_mode(match mode.trim().to_ascii_lowercase().as_str() {
            "closed" => FailMode::Closed,
            "open" => FailMode::Open,
            _ => {
                return Err(EnvError::invalid(
                    "SENTINEL_FAIL_MODE",
                    format!("expected `closed` or `open`, got {mode:?}"),
                ))
            }
        });
    }
    if let Some(ms) = lookup("SENTINEL_TIMEOUT_MS") {
        builder = builder.timeout(Duration::from_millis(positive("SENTINEL_TIMEOUT_MS", &ms)?));
    }
    if let Some(bytes) = lookup("SENTINEL_BODY_LIMIT") {
        let bytes = positive("SENTINEL_BODY_LIMIT", &bytes)?;
        builder = builder.body_limit(usize::try_from(bytes).unwrap_or(usize::MAX));
    }
    if let Some(headers) = lookup("SENTINEL_HEADERS") {
        for (name, value) in header_entries(&headers)? {
            builder = builder.header(name, value);
        }
    }
    if let Some(key_ids) = lookup("SENTINEL_TRUSTED_KEY_IDS") {
        builder = pin_key_ids(builder, &key_ids)?;
    }
    builder.build().map_err(|e| {
        let variable = match e {
            BuildError::InvalidHeader { .. } => "SENTINEL_HEADERS",
            BuildError::InvalidKeyId(_) | BuildError::NoTrustedKeys => "SENTINEL_TRUSTED_KEY_IDS",
            _ => "SENTINEL_ENDPOINT",
        };
        EnvError {
            variable,
            problem: e.to_string(),
            build_error: Some(e),
        }
    })
}

/// Pins the key ids of `SENTINEL_TRUSTED_KEY_IDS`. Set but empty is an error, not "no key":
/// a client that looks configured to verify must verify.
#[cfg(feature = "verify")]
fn pin_key_ids(
    builder: crate::client::SentinelClientBuilder,
    list: &str,
) -> Result<crate::client::SentinelClientBuilder, EnvError> {
    let keys: crate::provenance::TrustedKeys =
        list.parse().map_err(|e: crate::provenance::ProvenanceError| {
            EnvError::invalid("SENTINEL_TRUSTED_KEY_IDS", e.to_string())
        })?;
    Ok(builder.verify_decisions(keys))
}

/// Without the `verify` feature nothing can be verified: a pinned key is refused rather
/// than ignored.
#[cfg(not(feature = "verify"))]
fn pin_key_ids(
    _: crate::client::SentinelClientBuilder,
    _: &str,
) -> Result<crate::client::SentinelClientBuilder, EnvError> {
    Err(EnvError::invalid(
        "SENTINEL_TRUSTED_KEY_IDS",
        "verifying decisions needs the `verify` feature (on by default in the `sentinel` crate)".into(),
    ))
}

/// `name=value` entries separated by commas outside double quotes; a quoted value loses
/// its quotes. An entry without `=`, or a quote left open, is an error (which never quotes
/// the text: it may hold a token).
fn header_entries(text: &str) -> Result<Vec<(&str, &str)>, EnvError> {
    let invalid = |why: String| EnvError::invalid("SENTINEL_HEADERS", why);
    let mut entries = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (at, c) in text.char_indices().chain(std::iter::once((text.len(), ','))) {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted || at == text.len() => {
                let entry = &text[start..at];
                start = at + 1;
                if entry.trim().is_empty() {
                    continue;
                }
                let number = entries.len() + 1;
                let Some((name, value)) = entry.split_once('=') else {
                    return Err(invalid(format!("entry {number} is not `name=value`")));
                };
                let value = value.trim();
                let value = match value.strip_prefix('"') {
                    Some(rest) => rest
                        .strip_suffix('"')
                        .filter(|inner| !inner.contains('"'))
                        .ok_or_else(|| invalid(format!("entry {number} has an unbalanced `\"`")))?,
                    None if value.contains('"') => {
                        return Err(invalid(format!("entry {number}: quote the whole value")))
                    }
                    None => value,
                };
                entries.push((name.trim(), value));
            }
            _ => {}
        }
    }
    if quoted {
        return Err(invalid("a `\"` is not closed".into()));
    }
    Ok(entries)
}

fn positive(variable: &'static str, text: &str) -> Result<u64, EnvError> {
    match text.trim().parse::<u64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(EnvError::invalid(
            variable,
            format!("expected a whole number greater than 0, got {text:?}"),
        )),
    }
}

/// A `SENTINEL_*` variable is missing or wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvError {
    variable: &'static str,
    problem: String,
    build_error: Option<BuildError>,
}

impl EnvError {
    fn missing(variable: &'static str) -> Self {
        EnvError {
            variable,
            problem: "is not set".into(),
            build_error: None,
        }
    }

    fn invalid(variable: &'static str, problem: String) -> Self {
        EnvError {
            variable,
            problem,
            build_error: None,
        }
    }

    /// The variable at fault.
    ///
    /// ```no_run
    /// match sentinel_runtime::SentinelClient::from_env() {
    ///     Ok(client) => println!("guarding through {}", client.endpoint()),
    ///     Err(e) if e.variable() == "SENTINEL_ENDPOINT" => eprintln!("set SENTINEL_ENDPOINT: {e}"),
    ///     Err(e) => match e.build_error() {
    ///         Some(refused) => eprintln!("{} describes no valid client: {refused}", e.variable()),
    ///         None => eprintln!("{e}"),
    ///     },
    /// }
    /// ```
    pub fn variable(&self) -> &'static str {
        self.variable
    }

    /// Why the builder refused the variables, when that is the problem.
    pub fn build_error(&self) -> Option<&BuildError> {
        self.build_error.as_ref()
    }
}

impl fmt::Display for EnvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.variable, self.problem)
    }
}

/// `Display` already says what the [`BuildError`] said, so `source()` is `None` (see
/// [`build_error`](EnvError::build_error)).
impl std::error::Error for EnvError {}

/// Why [`init_from_env`] failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InitError {
    /// The environment does not describe a client.
    Env(EnvError),
    /// A client was installed before.
    AlreadyInitialized(AlreadyInitialized),
}

impl fmt::Display for InitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InitError::Env(e) => write!(f, "the environment does not describe a Sentinel client: {e}"),
            InitError::AlreadyInitialized(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for InitError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> Result<SentinelClient, EnvError> {
        let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        from_lookup(|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
    }

    #[test]
    fn a_builder_refusal_is_said_once_and_reachable() {
        let err = env(&[("SENTINEL_ENDPOINT", "ftp://nowhere")]).unwrap_err();
        let build_error = err.build_error().expect("the builder refused it").to_string();
        assert_eq!(err.variable(), "SENTINEL_ENDPOINT");
        assert_eq!(err.to_string().matches(&build_error).count(), 1, "{err}");
        assert!(std::error::Error::source(&err).is_none());
    }

    #[test]
    fn reads_every_variable() {
        let client = env(&[
            ("SENTINEL_ENDPOINT", "http://127.0.0.1:4000/"),
            ("SENTINEL_FAIL_MODE", "open"),
            ("SENTINEL_TIMEOUT_MS", "1500"),
            ("SENTINEL_HEADERS", "authorization=Bearer abc, x-tenant=acme"),
        ])
        .unwrap();
        assert_eq!(client.endpoint(), "http://127.0.0.1:4000");
        assert_eq!(client.fail_mode(), FailMode::Open);
        assert_eq!(client.timeout(), Duration::from_millis(1500));
        let debug = format!("{client:?}");
        assert!(debug.contains("x-tenant") && !debug.contains("abc"), "{debug}");
    }

    #[test]
    fn a_quoted_value_keeps_its_commas() {
        assert_eq!(
            header_entries(r#"x-api-key="abc,def=ghi", x-tenant=acme"#).unwrap(),
            [("x-api-key", "abc,def=ghi"), ("x-tenant", "acme")]
        );
        // Unquoted, a comma separates headers, as documented.
        assert_eq!(
            header_entries("x-api-key=abc,def=ghi").unwrap(),
            [("x-api-key", "abc"), ("def", "ghi")]
        );
        assert_eq!(header_entries(" , a=b ,").unwrap(), [("a", "b")]);
        for bad in [r#"a="b"#, r#"a=b"c"#, r#"a="b"c""#, "a"] {
            let err = header_entries(bad).unwrap_err();
            assert_eq!(err.variable(), "SENTINEL_HEADERS");
        }
    }

    const KEY_ID: &str = "ed25519:56475aa75463474c0285df5dbf2bcab73da651358839e9b77481b2eab107708c";

    #[cfg(feature = "verify")]
    #[test]
    fn trusted_key_ids_turn_verification_on() {
        let client = env(&[
            ("SENTINEL_ENDPOINT", "http://localhost:4000"),
            ("SENTINEL_TRUSTED_KEY_IDS", &format!(" {KEY_ID} , ")),
        ])
        .unwrap();
        assert!(client.verifies_decisions());
        assert!(client
            .trusted_keys()
            .is_some_and(|keys| keys.contains_key_id(KEY_ID)));
        let unpinned = env(&[("SENTINEL_ENDPOINT", "http://localhost:4000")]).unwrap();
        assert!(!unpinned.verifies_decisions() && unpinned.trusted_keys().is_none());
        for bad in ["", " , ", "ed25519:abc", &format!("{KEY_ID},x")] {
            let err = env(&[
                ("SENTINEL_ENDPOINT", "http://localhost:4000"),
                ("SENTINEL_TRUSTED_KEY_IDS", bad),
            ])
            .unwrap_err();
            assert_eq!(err.variable(), "SENTINEL_TRUSTED_KEY_IDS", "{bad:?}: {err}");
        }
        // Verified decisions and failing open contradict each other.
        let err = env(&[
            ("SENTINEL_ENDPOINT", "http://localhost:4000"),
            ("SENTINEL_FAIL_MODE", "open"),
            ("SENTINEL_TRUSTED_KEY_IDS", KEY_ID),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("FailMode::Open"), "{err}");
    }

    #[cfg(not(feature = "verify"))]
    #[test]
    fn trusted_key_ids_without_verify_are_refused_not_ignored() {
        let err = env(&[
            ("SENTINEL_ENDPOINT", "http://localhost:4000"),
            ("SENTINEL_TRUSTED_KEY_IDS", KEY_ID),
        ])
        .unwrap_err();
        assert_eq!(err.variable(), "SENTINEL_TRUSTED_KEY_IDS");
        assert!(err.to_string().contains("`verify` feature"), "{err}");
    }

    #[test]
    fn defaults_to_failing_closed() {
        let client = env(&[("SENTINEL_ENDPOINT", "http://localhost:4000")]).unwrap();
        assert_eq!(client.fail_mode(), FailMode::Closed);
        assert_eq!(
            client.timeout(),
            crate::client::SentinelClientBuilder::DEFAULT_TIMEOUT
        );
    }

    #[test]
    fn a_bad_value_names_its_variable_and_never_defaults() {
        let cases = [
            (vec![], "SENTINEL_ENDPOINT"),
            (vec![("SENTINEL_ENDPOINT", "localhost")], "SENTINEL_ENDPOINT"),
            (
                vec![("SENTINEL_ENDPOINT", "http://h:1"), ("SENTINEL_FAIL_MODE", "opn")],
                "SENTINEL_FAIL_MODE",
            ),
            (
                vec![("SENTINEL_ENDPOINT", "http://h:1"), ("SENTINEL_TIMEOUT_MS", "5s")],
                "SENTINEL_TIMEOUT_MS",
            ),
            (
                vec![("SENTINEL_ENDPOINT", "http://h:1"), ("SENTINEL_TIMEOUT_MS", "0")],
                "SENTINEL_TIMEOUT_MS",
            ),
            (
                vec![("SENTINEL_ENDPOINT", "http://h:1"), ("SENTINEL_BODY_LIMIT", "-1")],
                "SENTINEL_BODY_LIMIT",
            ),
            (
                vec![
                    ("SENTINEL_ENDPOINT", "http://h:1"),
                    ("SENTINEL_HEADERS", "tokenonly"),
                ],
                "SENTINEL_HEADERS",
            ),
        ];
        for (vars, variable) in cases {
            let err = env(&vars).unwrap_err();
            assert_eq!(err.variable(), variable, "{err}");
            assert!(err.to_string().starts_with(variable), "{err}");
        }
        let err = env(&[
            ("SENTINEL_ENDPOINT", "http://h:1"),
            ("SENTINEL_HEADERS", "bad name=s3cret"),
        ])
        .unwrap_err();
        assert_eq!(err.variable(), "SENTINEL_HEADERS");
        assert!(!err.to_string().contains("s3cret"), "{err}");
    }
}
