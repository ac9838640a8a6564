//! The gate's configuration file (TOML): where the sidecar is, the context of every guard,
//! and one rule per tool.
//!
//! Every mistake is one message naming the file, the line and the key, because a gate that
//! starts with a rule it did not understand would guard something else than the user wrote.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use hyper::header::{HeaderName, HeaderValue};
use serde::Deserialize;
use toml::Spanned;

use super::rules::{Rule, RuleSet, ToolPattern};

/// A configuration as the user wrote it, checked.
pub struct GateConfig {
    /// The sidecar, when the file has a `[sentinel]` table; else the `SENTINEL_*` variables.
    pub sentinel: Option<SidecarConfig>,
    /// The context fields the file sets.
    pub context: ContextConfig,
    /// The rules, in file order.
    pub rules: RuleSet,
    /// The protected executor's settings, for rules with `receipt = true`.
    pub receipts: Option<ReceiptsConfig>,
    /// How to reach an upstream over streamable HTTP (`--upstream-url`).
    pub upstream: UpstreamConfig,
}

/// The `[upstream]` table: what the gate sends an upstream reached over streamable HTTP.
#[derive(Clone, Default)]
pub struct UpstreamConfig {
    /// Request headers sent with every request (an `authorization`, say). Never printed.
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl fmt::Debug for UpstreamConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Header values are secrets: their names only.
        let names: Vec<&str> = self.headers.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("UpstreamConfig").field("headers", &names).finish()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpstreamEntry {
    #[serde(default)]
    headers: BTreeMap<String, Spanned<String>>,
}

/// Headers the streamable HTTP transport sets itself: a configured one would conflict.
const TRANSPORT_HEADERS: &[&str] = &[
    "accept",
    "content-type",
    "content-length",
    "host",
    "mcp-session-id",
    "mcp-protocol-version",
    "last-event-id",
];

/// The `[receipts]` table: the gate as the protected executor of authorization receipts.
pub struct ReceiptsConfig {
    /// The executor's identity, as the sidecar knows it.
    pub executor: String,
    /// The executor's Ed25519 seed, base64, read from `executor_seed_file`. Never printed.
    pub executor_seed: String,
    /// The sidecar's receipt-signing public keys (base64 of the 32 raw bytes).
    pub issuer_keys: Vec<String>,
    /// The canonical action's `targetService` (default `mcp`).
    pub target_service: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReceiptsEntry {
    executor: String,
    executor_seed_file: Spanned<String>,
    issuer_keys: Spanned<Vec<String>>,
    target_service: Option<String>,
}

/// The `[sentinel]` table: the sidecar's address and how to talk to it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SidecarConfig {
    /// The sidecar's base URL.
    pub endpoint: String,
    /// `closed` (the default) or `open`.
    #[serde(default)]
    pub fail_mode: Option<FailModeName>,
    /// The whole-request deadline of one guard, in milliseconds.
    #[serde(default)]
    pub timeout_ms: Option<Spanned<u64>>,
    /// Extra request headers (an API key, say). Never printed.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The sidecar's signing key ids (`ed25519:<64 hex>`, as it prints them at start-up):
    /// each `ALLOW` must carry a signed record that verifies under one of them.
    /// `None` when absent; present, it must name at least one key.
    #[serde(default)]
    pub trusted_key_ids: Option<Spanned<Vec<Spanned<String>>>>,
}

impl SidecarConfig {
    /// The pinned key ids (none when `trusted_key_ids` is absent).
    pub fn key_ids(&self) -> &[Spanned<String>] {
        self.trusted_key_ids.as_ref().map_or(&[], |ids| ids.get_ref())
    }
}

/// `fail_mode` as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FailModeName {
    /// No trustworthy answer denies.
    Closed,
    /// No trustworthy answer allows (the sidecar unreachable lets every call through).
    Open,
}

/// The `[context]` table. Fields left out come from the client's `initialize` (the actor)
/// or stay unset.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContextConfig {
    /// Who the agent acts for; default: the MCP client's name from `initialize`.
    pub actor: Option<String>,
    /// The actor's roles.
    #[serde(default)]
    pub roles: Vec<String>,
    /// The tenant.
    pub tenant: Option<String>,
    /// The model provider, such as `anthropic`.
    pub provider: Option<String>,
    /// The model.
    pub model: Option<String>,
}

impl fmt::Debug for SidecarConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Header values are secrets (API keys): their names only.
        f.debug_struct("SidecarConfig")
            .field("endpoint", &self.endpoint)
            .field("fail_mode", &self.fail_mode)
            .field("timeout_ms", &self.timeout_ms.as_ref().map(|t| *t.get_ref()))
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("trusted_key_ids", &self.key_ids().len())
            .finish()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    sentinel: Option<SidecarConfig>,
    #[serde(default)]
    context: ContextConfig,
    #[serde(default)]
    tools: Vec<ToolEntry>,
    receipts: Option<Spanned<ReceiptsEntry>>,
    upstream: Option<UpstreamEntry>,
}

/// One `[[tools]]` entry as written; [`ToolEntry::rule`] checks that it says one thing.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ToolEntry {
    name: Spanned<String>,
    allow: Option<Spanned<bool>>,
    deny: Option<Spanned<bool>>,
    policy: Option<Spanned<String>>,
    kind: Option<Spanned<String>>,
    wait_for_human_secs: Option<Spanned<u64>>,
    receipt: Option<Spanned<bool>>,
}

impl ToolEntry {
    fn rule(self) -> Result<(ToolPattern, Rule), (Range<usize>, String)> {
        let name_span = self.name.span();
        let pattern = ToolPattern::parse(self.name.get_ref()).map_err(|why| (name_span.clone(), why))?;
        let wants_true = |flag: &Option<Spanned<bool>>, key: &str| match flag {
            Some(value) if !value.get_ref() => Err((
                value.span(),
                format!("`{key} = false` means nothing; write `{key} = true` or leave the key out"),
            )),
            other => Ok(other.is_some()),
        };
        let allow = wants_true(&self.allow, "allow")?;
        let receipt = wants_true(&self.receipt, "receipt")?;
        let deny = wants_true(&self.deny, "deny")?;
        let what = [allow, deny, self.policy.is_some()];
        if what.iter().filter(|set| **set).count() != 1 {
            return Err((
                name_span,
                format!(
                    "the rule for `{}` must say exactly one of `allow = true`, `deny = true` or \
                     `policy = \"…\"`",
                    self.name.get_ref()
                ),
            ));
        }
        let guard_only = |key: &str, span: Range<usize>| {
            Err((span, format!("`{key}` applies only to a rule with a `policy`")))
        };
        let rule = match self.policy {
            Some(policy) => {
                if policy.get_ref().trim().is_empty() {
                    return Err((policy.span(), "`policy` is empty".into()));
                }
                let kind = match self.kind {
                    Some(kind) if kind.get_ref().trim().is_empty() => {
                        return Err((kind.span(), "`kind` is empty".into()))
                    }
                    Some(kind) => Some(kind.into_inner()),
                    None => None,
                };
                let wait_for_human =
                    match self.wait_for_human_secs {
                        Some(wait) if receipt && *wait.get_ref() > 0 => return Err((
                            wait.span(),
                            "a `receipt = true` rule parks every escalation; leave `wait_for_human_secs` out"
                                .into(),
                        )),
                        // A call held open longer than this holds its client, and a blocking
                        // thread, for what is better parked.
                        Some(wait) if *wait.get_ref() > MAX_WAIT_FOR_HUMAN_SECS => {
                            return Err((
                                wait.span(),
                                format!(
                                    "`wait_for_human_secs` is at most {MAX_WAIT_FOR_HUMAN_SECS} (an hour); \
                                 a longer wait should park (0)"
                                ),
                            ))
                        }
                        wait => Duration::from_secs(wait.map(Spanned::into_inner).unwrap_or(0)),
                    };
                Rule::Guard {
                    policy: policy.into_inner(),
                    kind,
                    wait_for_human,
                    receipt,
                }
            }
            None => {
                if let Some(kind) = self.kind {
                    return guard_only("kind", kind.span());
                }
                if let Some(wait) = self.wait_for_human_secs {
                    return guard_only("wait_for_human_secs", wait.span());
                }
                if let Some(flag) = self.receipt {
                    return guard_only("receipt", flag.span());
                }
                if allow {
                    Rule::Allow
                } else {
                    Rule::Deny
                }
            }
        };
        Ok((pattern, rule))
    }
}

/// The longest `wait_for_human_secs`.
const MAX_WAIT_FOR_HUMAN_SECS: u64 = 3600;

/// A configuration file that cannot be used: where and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// `file:line:column: ` or `file: `.
    location: String,
    message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.location, self.message)
    }
}

impl std::error::Error for ConfigError {}

impl ConfigError {
    fn at(path: &Path, text: &str, span: Option<Range<usize>>, message: impl Into<String>) -> Self {
        let message = message.into();
        let Some(span) = span else {
            return ConfigError {
                location: format!("{}: ", path.display()),
                message,
            };
        };
        let start = span.start.min(text.len());
        let before = &text[..start];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |at| at + 1);
        let column = text[line_start..start].chars().count() + 1;
        let line_text = text[line_start..].lines().next().unwrap_or("");
        // Name the key even when the parser's message does not (a wrong type, say).
        let key = line_text
            .split_once('=')
            .map(|(key, _)| key.trim())
            .filter(|key| !key.is_empty() && !key.starts_with('[') && !message.contains(&format!("`{key}`")));
        let message = match key {
            Some(key) => format!("`{key}`: {message}"),
            None => message,
        };
        // A line of the `[sentinel]` table may hold a header value (an API key): it is
        // named by its number, never shown.
        let message = if may_hold_a_secret(before, line_text) {
            message
        } else {
            format!("{message}\n  {line} | {line_text}")
        };
        ConfigError {
            location: format!("{}:{line}:{column}: ", path.display()),
            message,
        }
    }
}

/// Whether the line `line_text`, after `before`, is in the `[sentinel]` or `[upstream]` table
/// (or a sub-table) or names one or their headers: such a line may hold a header value.
fn may_hold_a_secret(before: &str, line_text: &str) -> bool {
    let table = before
        .lines()
        .map(str::trim_start)
        .rfind(|line| line.starts_with('['))
        .unwrap_or("");
    let table = table.trim_start_matches('[').trim_start();
    table.starts_with("sentinel")
        || table.starts_with("upstream")
        || line_text.contains("sentinel")
        || line_text.contains("upstream")
        || line_text.contains("headers")
}

/// Reads and checks the configuration at `path`.
pub fn load(path: &Path) -> Result<GateConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigError::at(
            path,
            "",
            None,
            format!("cannot read the gate's configuration: {e}"),
        )
    })?;
    parse(path, &text)
}

/// Checks `text`, the contents of the file at `path` (named in errors).
pub fn parse(path: &Path, text: &str) -> Result<GateConfig, ConfigError> {
    let file: File = toml::from_str(text).map_err(|e| {
        let message = e.message().trim_end().to_owned();
        ConfigError::at(path, text, e.span(), message)
    })?;
    if let Some(sentinel) = &file.sentinel {
        if let Some(ids) = sentinel
            .trusted_key_ids
            .as_ref()
            .filter(|ids| ids.get_ref().is_empty())
        {
            // An empty list would turn verification off while it reads as turned on.
            return Err(ConfigError::at(
                path,
                text,
                Some(ids.span()),
                "`trusted_key_ids` is empty: name at least one key id (`ed25519:<64 hex>`), or remove the key to verify nothing",
            ));
        }
        for key_id in sentinel.key_ids() {
            if let Err(e) = key_id.get_ref().parse::<sentinel::provenance::TrustedKeys>() {
                return Err(ConfigError::at(path, text, Some(key_id.span()), e.to_string()));
            }
        }
        if let Some(timeout) = &sentinel.timeout_ms {
            if *timeout.get_ref() == 0 {
                return Err(ConfigError::at(
                    path,
                    text,
                    Some(timeout.span()),
                    "must be greater than 0",
                ));
            }
        }
    }
    let receipts = match file.receipts {
        Some(entry) => Some(receipts(path, text, entry)?),
        None => None,
    };
    let mut rules = RuleSet::default();
    for entry in file.tools {
        if let (Some(flag), None) = (&entry.receipt, &receipts) {
            if *flag.get_ref() {
                return Err(ConfigError::at(
                    path,
                    text,
                    Some(flag.span()),
                    "`receipt = true` needs a [receipts] table (the executor's identity and key)",
                ));
            }
        }
        let name_span = entry.name.span();
        let (pattern, rule) = entry
            .rule()
            .map_err(|(span, why)| ConfigError::at(path, text, Some(span), why))?;
        rules
            .push(pattern, rule, line_of(text, name_span.start))
            .map_err(|why| ConfigError::at(path, text, Some(name_span), why))?;
    }
    let upstream = match file.upstream {
        Some(entry) => upstream(path, text, entry)?,
        None => UpstreamConfig::default(),
    };
    Ok(GateConfig {
        sentinel: file.sentinel,
        context: file.context,
        rules,
        receipts,
        upstream,
    })
}

/// The `[upstream]` table checked: each header a valid HTTP header the transport does not set
/// itself. A mistake names its line and header, never its value.
fn upstream(path: &Path, text: &str, entry: UpstreamEntry) -> Result<UpstreamConfig, ConfigError> {
    let mut headers = Vec::new();
    for (name, value) in entry.headers {
        let span = Some(value.span());
        let header = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
            ConfigError::at(
                path,
                text,
                span.clone(),
                format!("`{name}` is not a valid HTTP header name"),
            )
        })?;
        if TRANSPORT_HEADERS.contains(&header.as_str()) {
            return Err(ConfigError::at(
                path,
                text,
                span,
                format!("`{name}` is set by the streamable HTTP transport itself; leave it out"),
            ));
        }
        let mut header_value = HeaderValue::from_str(value.get_ref()).map_err(|_| {
            ConfigError::at(
                path,
                text,
                span.clone(),
                format!("the value of header `{name}` is not a valid HTTP header value (not shown)"),
            )
        })?;
        header_value.set_sensitive(true);
        headers.push((header, header_value));
    }
    Ok(UpstreamConfig { headers })
}

/// The `[receipts]` table checked, its seed read (a path relative to the configuration's
/// folder) and parsed, so a wrong key stops the gate before it starts.
fn receipts(path: &Path, text: &str, entry: Spanned<ReceiptsEntry>) -> Result<ReceiptsConfig, ConfigError> {
    let entry = entry.into_inner();
    let seed_path = Path::new(entry.executor_seed_file.get_ref());
    let seed_path = path
        .parent()
        .map_or(seed_path.to_path_buf(), |dir| dir.join(seed_path));
    let span = Some(entry.executor_seed_file.span());
    let seed = std::fs::read_to_string(&seed_path).map_err(|e| {
        ConfigError::at(
            path,
            text,
            span.clone(),
            format!("cannot read {}: {e}", seed_path.display()),
        )
    })?;
    sentinel::adjudication::ExecutorKey::from_seed_base64(seed.trim(), entry.executor.clone())
        .map_err(|why| ConfigError::at(path, text, span, why))?;
    let keys_span = entry.issuer_keys.span();
    let issuer_keys = entry.issuer_keys.into_inner();
    let mut trusted = sentinel::provenance::TrustedKeys::new();
    for key in &issuer_keys {
        trusted = trusted
            .with_key_base64(key)
            .map_err(|e| ConfigError::at(path, text, Some(keys_span.clone()), e.to_string()))?;
    }
    if trusted.is_empty() {
        return Err(ConfigError::at(
            path,
            text,
            Some(keys_span),
            "no issuer key: a receipt could never verify",
        ));
    }
    Ok(ReceiptsConfig {
        executor: entry.executor,
        executor_seed: seed.trim().to_owned(),
        issuer_keys,
        target_service: entry.target_service.unwrap_or_else(|| "mcp".into()),
    })
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(text: &str) -> String {
        match parse(Path::new("gate.toml"), text) {
            Ok(_) => panic!("accepted:\n{text}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn an_unknown_key_names_the_file_line_and_key() {
        let text = "[[tools]]\nname = \"write_file\"\npolicy = \"p\"\npolcy = \"q\"\n";
        let message = error_of(text);
        assert!(
            message.starts_with("gate.toml:4:1: unknown field `polcy`"),
            "{message}"
        );
        assert!(message.contains("4 | polcy = \"q\""), "{message}");
    }

    #[test]
    fn an_unknown_table_is_refused() {
        let message = error_of("[sentinal]\nendpoint = \"http://x\"\n");
        assert!(message.starts_with("gate.toml:1:"), "{message}");
        assert!(message.contains("unknown field `sentinal`"), "{message}");
    }

    #[test]
    fn a_bad_glob_names_its_rule() {
        let message = error_of("[[tools]]\nname = \"read_[\"\nallow = true\n");
        assert!(message.starts_with("gate.toml:2:8: `name`: "), "{message}");
        assert!(message.contains("read_["), "{message}");
    }

    #[test]
    fn an_unknown_option_value_names_its_key() {
        let message = error_of("[sentinel]\nendpoint = \"http://x\"\nfail_mode = \"ajar\"\n");
        assert!(
            message.starts_with("gate.toml:3:13: `fail_mode`: unknown variant `ajar`"),
            "{message}"
        );
    }

    #[test]
    fn a_wrong_type_names_its_key() {
        let message = error_of("[sentinel]\nendpoint = \"http://x\"\ntimeout_ms = \"soon\"\n");
        assert!(
            message.starts_with("gate.toml:3:14: `timeout_ms`: invalid type"),
            "{message}"
        );
    }

    #[test]
    fn a_rule_must_say_exactly_one_thing() {
        let both = error_of("[[tools]]\nname = \"x\"\nallow = true\npolicy = \"p\"\n");
        assert!(both.contains("exactly one of"), "{both}");
        let none = error_of("[[tools]]\nname = \"x\"\n");
        assert!(none.contains("exactly one of"), "{none}");
        let false_flag = error_of("[[tools]]\nname = \"x\"\ndeny = false\n");
        assert!(
            false_flag.starts_with("gate.toml:3:8: `deny`: `deny = false` means nothing"),
            "{false_flag}"
        );
        let stray_kind = error_of("[[tools]]\nname = \"x\"\nallow = true\nkind = \"k\"\n");
        assert!(
            stray_kind.contains("`kind` applies only to a rule with a `policy`"),
            "{stray_kind}"
        );
    }

    #[test]
    fn the_same_exact_name_twice_is_refused() {
        let message =
            error_of("[[tools]]\nname = \"x\"\nallow = true\n[[tools]]\nname = \"x\"\ndeny = true\n");
        assert!(message.starts_with("gate.toml:5:8: "), "{message}");
        assert!(message.contains("line 2"), "{message}");
    }

    #[test]
    fn an_unreadable_file_names_the_file() {
        let message = load(Path::new("/nonexistent/gate.toml"))
            .err()
            .unwrap()
            .to_string();
        assert!(
            message.starts_with("/nonexistent/gate.toml: cannot read the gate's configuration: "),
            "{message}"
        );
    }

    #[test]
    fn a_wait_for_a_human_beyond_an_hour_is_a_mistake() {
        let rule =
            |secs: u64| format!("[[tools]]\nname = \"x\"\npolicy = \"p\"\nwait_for_human_secs = {secs}\n");
        assert!(parse(Path::new("gate.toml"), &rule(3600)).is_ok());
        let message = error_of(&rule(3601));
        assert!(
            message.starts_with("gate.toml:4:23: `wait_for_human_secs` is at most 3600"),
            "{message}"
        );
    }

    #[test]
    fn an_empty_trusted_key_id_list_is_a_mistake_not_verification_off() {
        let message = error_of("[sentinel]\nendpoint = \"http://x\"\ntrusted_key_ids = []\n");
        assert!(
            message.starts_with("gate.toml:3:19: `trusted_key_ids` is empty"),
            "{message}"
        );
    }

    #[test]
    fn a_malformed_key_id_names_its_line() {
        let message = error_of("[sentinel]\nendpoint = \"http://x\"\ntrusted_key_ids = [\"ed25519:xyz\"]\n");
        assert!(
            message.starts_with("gate.toml:3:20: `trusted_key_ids`: "),
            "{message}"
        );
    }

    #[test]
    fn receipt_rules_need_a_receipts_table_and_park() {
        let message = error_of("[[tools]]\nname = \"x\"\npolicy = \"p\"\nreceipt = true\n");
        assert!(
            message.starts_with("gate.toml:4:11: `receipt`: `receipt = true` needs a [receipts] table"),
            "{message}"
        );
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("seed"),
            "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=",
        )
        .unwrap();
        let receipts = "[receipts]\nexecutor = \"gate\"\nexecutor_seed_file = \"seed\"\n\
                        issuer_keys = [\"A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=\"]\n";
        let path = dir.path().join("gate.toml");
        let waits = format!(
            "{receipts}[[tools]]\nname = \"x\"\npolicy = \"p\"\nreceipt = true\nwait_for_human_secs = 5\n"
        );
        let message = parse(&path, &waits).err().unwrap().to_string();
        assert!(
            message.contains(
                ":9:23: a `receipt = true` rule parks every escalation; leave `wait_for_human_secs` out"
            ),
            "{message}"
        );
        let fine = format!("{receipts}[[tools]]\nname = \"x\"\npolicy = \"p\"\nreceipt = true\n");
        let config = parse(&path, &fine).unwrap();
        assert_eq!(config.receipts.unwrap().target_service, "mcp");
    }

    #[test]
    fn a_missing_or_bad_executor_seed_names_its_key_and_never_echoes_the_seed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gate.toml");
        let text = "[receipts]\nexecutor = \"gate\"\nexecutor_seed_file = \"seed\"\nissuer_keys = []\n";
        let missing = parse(&path, text).err().unwrap().to_string();
        assert!(
            missing.contains(":3:22: `executor_seed_file`: cannot read "),
            "{missing}"
        );
        std::fs::write(dir.path().join("seed"), "not-a-seed-s3cret").unwrap();
        let bad = parse(&path, text).err().unwrap().to_string();
        assert!(
            bad.contains("`executor_seed_file`: ") && !bad.contains("s3cret"),
            "{bad}"
        );
    }

    #[test]
    fn a_mistake_on_a_line_with_a_header_value_never_echoes_the_line() {
        for text in [
            "[sentinel]\nendpoint = \"http://x\"\nheaders = { x-api-key = \"s3cret\", x-b = 5 }\n",
            "[sentinel]\nendpoint = \"http://x\"\n[sentinel.headers]\nx-api-key = \"s3cret\" junk\n",
            "sentinel = { endpoint = \"http://x\", headers = { x-api-key = \"s3cret\" }, x = 1 }\n",
        ] {
            let message = error_of(text);
            assert!(
                message.starts_with("gate.toml:") && !message.contains("s3cret"),
                "{message}"
            );
        }
        // Elsewhere the line is still shown.
        let message = error_of("[[tools]]\nname = \"x\"\npolicy = 5\n");
        assert!(message.contains("3 | policy = 5"), "{message}");
    }

    #[test]
    fn upstream_headers_are_checked_and_their_values_never_shown() {
        let config = parse(
            Path::new("gate.toml"),
            "[upstream]\nheaders = { authorization = \"Bearer s3cret\", x-tenant = \"t1\" }\n",
        )
        .unwrap();
        let names: Vec<&str> = config.upstream.headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["authorization", "x-tenant"]);
        let debug = format!("{:?}", config.upstream);
        assert!(
            debug.contains("authorization") && !debug.contains("s3cret"),
            "{debug}"
        );
        for (text, expected) in [
            (
                "[upstream]\nheaders = { \"bad name\" = \"s3cret\" }\n",
                "gate.toml:2:26: `headers`: `bad name` is not a valid HTTP header name",
            ),
            (
                "[upstream.headers]\naccept = \"s3cret\"\n",
                "gate.toml:2:10: `accept` is set by the streamable HTTP transport itself",
            ),
            (
                "[upstream.headers]\nauthorization = \"s3cret\\n\"\n",
                "gate.toml:2:17: the value of header `authorization` is not a valid HTTP header value",
            ),
            (
                "[upstream]\nheader = { authorization = \"s3cret\" }\n",
                "gate.toml:2:1: unknown field `header`",
            ),
        ] {
            let message = error_of(text);
            assert!(message.starts_with(expected), "{message}");
            assert!(!message.contains("s3cret"), "{message}");
        }
    }

    #[test]
    fn header_values_stay_out_of_debug_output() {
        let text = "[sentinel]\nendpoint = \"http://x\"\nheaders = { x-api-key = \"s3cret\" }\n";
        let config = parse(Path::new("gate.toml"), text).unwrap();
        let debug = format!("{:?}", config.sentinel.unwrap());
        assert!(
            debug.contains("x-api-key") && !debug.contains("s3cret"),
            "{debug}"
        );
    }
}
