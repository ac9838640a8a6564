//! The sidecar's HTTP routes and the rules every side of them shares: the client, the
//! escalation API, verification and `MockSidecar` all build and read them here.

use serde::Serialize;

use crate::action::Action;
use crate::context::Context;

mod escalation;

pub(crate) use escalation::*;

/// `POST`: one guard.
pub(crate) const GUARD: &str = "/v1/guard";
/// `POST`: many guards.
pub(crate) const GUARD_BATCH: &str = "/v1/guard/batch";
/// `GET`: the escalations, `?status=` one state.
pub(crate) const ESCALATIONS: &str = "/v1/escalations";
/// `GET`: a page of records.
pub(crate) const RECORDS: &str = "/v1/records";

/// `POST`: resolve one escalation.
pub(crate) fn resolve_path(escalation_id: &str) -> String {
    format!("{ESCALATIONS}/{}/resolve", path_segment(escalation_id))
}

/// The escalation id of a resolve path, as it appears in it.
#[cfg(feature = "testing")]
pub(crate) fn resolve_id(path: &str) -> Option<&str> {
    path.strip_prefix(ESCALATIONS)?
        .strip_prefix('/')?
        .strip_suffix("/resolve")
}

/// `GET`: one record.
pub(crate) fn record_path(record_id: &str) -> String {
    format!("{RECORDS}/{}", path_segment(record_id))
}

/// Only a 2xx answer carries what was asked for.
pub(crate) fn is_success(status: u16) -> bool {
    (200..300).contains(&status)
}

/// The sidecar's `error` text, cut to a readable length.
pub(crate) fn error_text(body: &[u8]) -> Option<String> {
    let value = serde_json::from_slice::<serde_json::Value>(body).ok()?;
    Some(crate::reason::clean(value.get("error")?.as_str()?, 200))
}

/// `HTTP 400: unknown policy pack: no.such.pack`, using the sidecar's `error` text when
/// the body has one.
pub(crate) fn describe_status(status: u16, body: &[u8]) -> String {
    match error_text(body) {
        Some(error) => format!("HTTP {status}: {error}"),
        None => format!("HTTP {status}"),
    }
}

/// Percent-encodes everything but unreserved characters, for ids and timestamps in URLs.
pub(crate) fn path_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Headers as `(lowercase name, value)` pairs; a value that is not UTF-8 is read lossily.
pub(crate) fn header_pairs(headers: &ureq::http::HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// Why the sidecar would refuse this request before looking at it (a 400), if it would.
pub(crate) fn request_error(action: &Action, context: &Context, policy: &str) -> Option<&'static str> {
    if policy.is_empty() {
        return Some("the policy name is empty");
    }
    if context.run_id().is_empty() {
        return Some("the context's run id is empty");
    }
    action.shape_error()
}

/// The body of `POST /v1/guard` (and each item of a batch).
#[derive(Serialize)]
pub(crate) struct GuardRequest<'a> {
    pub(crate) action: &'a Action,
    pub(crate) context: &'a Context,
    pub(crate) policy: &'a str,
}

/// The body of `POST /v1/guard/batch`.
#[derive(Serialize)]
pub(crate) struct GuardBatch<'a> {
    pub(crate) requests: &'a [GuardRequest<'a>],
}
