//! The sidecar's read API (feature `verify`): signed records by id, the records listing and
//! its filters, the export pages (verified page by page in bounded memory), and the
//! sidecar's own chain check. (Its liveness and readiness probes,
//! [`SentinelClient::ready`] and [`SentinelClient::healthy`], need no feature.)
//!
//! ```no_run
//! use sentinel_runtime::records::RecordQuery;
//! use sentinel_runtime::{SentinelClient, Verdict};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let client = SentinelClient::builder("http://localhost:4000").build()?;
//! for record in client.records(&RecordQuery::new().run_id("run-42").verdict(Verdict::Block))? {
//!     println!("{} {:?}", record.id(), record.verdict());
//! }
//! # Ok(())
//! # }
//! ```
use serde_json::Value;

use crate::client::SentinelClient;
use crate::decision::Verdict;
use crate::protocol::{self, path_segment};
use crate::provenance::Record;
use crate::sidecar_error::SidecarError;

mod audit;
mod export;

pub use audit::{AuditViolation, ProtocolAudit};
pub use export::{
    ExportError, ExportRecordTexts, ExportVerification, VerifiedExport, DEFAULT_EXPORT_DEADLINE,
};

/// The page size [`SentinelClient::export_pages`] asks for when the query sets no limit:
/// a page of ordinary records stays well under the default 1 MiB body limit.
pub const DEFAULT_EXPORT_PAGE: usize = 200;

/// The filters of `GET /v1/records` and `GET /v1/export`. Unset filters match everything;
/// the sidecar returns records in chain order, at most 1000 at a time.
///
/// ```
/// use sentinel_runtime::records::RecordQuery;
/// use sentinel_runtime::Verdict;
///
/// let query = RecordQuery::new().run_id("run-42").verdict(Verdict::Allow).limit(50);
/// assert_eq!(query.to_query_string(), "runId=run-42&verdict=ALLOW&limit=50");
///
/// let day = RecordQuery::new()
///     .tenant("acme")
///     .since("2026-12-05T00:00:00Z")
///     .until("2026-12-06T00:00:00Z")
///     .offset(200);
/// assert_eq!(
///     day.to_query_string(),
///     "tenant=acme&since=2026-12-05T00%3A00%3A00Z&until=2026-12-06T00%3A00%3A00Z&offset=200"
/// );
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordQuery {
    tenant: Option<String>,
    run_id: Option<String>,
    verdict: Option<Verdict>,
    since: Option<String>,
    until: Option<String>,
    limit: Option<usize>,
    offset: Option<usize>,
}

#[cfg_attr(docsrs, doc(cfg(feature = "verify")))]
impl RecordQuery {
    /// A query that matches every record.
    pub fn new() -> Self {
        Self::default()
    }

    /// Only records of this tenant.
    pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }

    /// Only records of this run (`context.runId`).
    pub fn run_id(mut self, run_id: impl Into<String>) -> Self {
        self.run_id = Some(run_id.into());
        self
    }

    /// Only records with this verdict.
    pub fn verdict(mut self, verdict: Verdict) -> Self {
        self.verdict = Some(verdict);
        self
    }

    /// Only records written at or after this ISO 8601 time (compared as text by the sidecar,
    /// so write it as the sidecar does: `2026-11-30T10:51:50.083Z`).
    pub fn since(mut self, timestamp: impl Into<String>) -> Self {
        self.since = Some(timestamp.into());
        self
    }

    /// Only records written before this ISO 8601 time (exclusive).
    pub fn until(mut self, timestamp: impl Into<String>) -> Self {
        self.until = Some(timestamp.into());
        self
    }

    /// At most this many records (the sidecar caps it at 1000, also its default).
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Skip this many matching records first.
    pub fn offset(mut self, offset: usize) -> Self {
        self.offset = Some(offset);
        self
    }

    /// The query string, values percent-encoded, without the leading `?`.
    #[must_use]
    pub fn to_query_string(&self) -> String {
        let limit = self.limit.map(|n| n.to_string());
        let offset = self.offset.map(|n| n.to_string());
        let pairs = [
            ("tenant", self.tenant.as_deref()),
            ("runId", self.run_id.as_deref()),
            ("verdict", self.verdict.map(Verdict::as_str)),
            ("since", self.since.as_deref()),
            ("until", self.until.as_deref()),
            ("limit", limit.as_deref()),
            ("offset", offset.as_deref()),
        ];
        pairs
            .iter()
            .filter_map(|(name, value)| value.map(|v| format!("{name}={}", path_segment(v))))
            .collect::<Vec<_>>()
            .join("&")
    }
}

/// The sidecar's own check of its whole chain (`GET /v1/verify`). It is the sidecar's word
/// about itself; [`SentinelClient::verify_export`] checks the chain independently.
///
/// ```no_run
/// let client = sentinel_runtime::SentinelClient::builder("http://localhost:4000").build()?;
/// let said = client.sidecar_verify()?;
/// if !said.ok {
///     println!("the sidecar reports its chain broken at {:?}: {:?}", said.broken_at, said.reason);
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SidecarVerdictOnChain {
    /// Whether the sidecar found its chain intact under its own key.
    pub ok: bool,
    /// The index of the first bad record, when not ok.
    pub broken_at: Option<u64>,
    /// Why, when not ok.
    pub reason: Option<String>,
}

/// The pages of `GET /v1/export`, fetched one at a time as the iterator is advanced
/// (following `nextOffset`), so a chain of any length is read in bounded memory. Made by
/// [`SentinelClient::export_pages`]. Ends after the first error.
///
/// ```no_run
/// use sentinel_runtime::records::RecordQuery;
///
/// let client = sentinel_runtime::SentinelClient::builder("http://localhost:4000").build()?;
/// for page in client.export_pages(&RecordQuery::new().run_id("run-42").limit(500)) {
///     for record in page? {
///         println!("{} {}", record.id(), record.verdict());
///     }
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct ExportPages<'a> {
    client: &'a SentinelClient,
    query: RecordQuery,
    next_offset: Option<usize>,
}

#[cfg_attr(docsrs, doc(cfg(feature = "verify")))]
impl Iterator for ExportPages<'_> {
    type Item = Result<Vec<Record>, SidecarError>;

    fn next(&mut self) -> Option<Self::Item> {
        let offset = self.next_offset.take()?;
        let url = format!(
            "{}/v1/export?{}",
            self.client.endpoint(),
            self.query.clone().offset(offset).to_query_string()
        );
        let page = match self.client.read_json(&url) {
            Ok(Value::Object(page)) => page,
            Ok(_) => return Some(Err(SidecarError::Malformed("an export page is an object".into()))),
            Err(e) => return Some(Err(e)),
        };
        let records = match page.get("records") {
            Some(Value::Array(items)) => items.iter().cloned().map(Record::from_value).collect(),
            _ => {
                return Some(Err(SidecarError::Malformed(
                    "an export page has a `records` array".into(),
                )))
            }
        };
        let records: Vec<Record> = match records {
            Ok(records) => records,
            Err(e) => return Some(Err(SidecarError::Malformed(e.to_string()))),
        };
        match page.get("nextOffset") {
            None | Some(Value::Null) => {}
            Some(next) => match next.as_u64().and_then(|n| usize::try_from(n).ok()) {
                // A next offset that does not move forward would loop for ever.
                Some(next) if next > offset && !records.is_empty() => self.next_offset = Some(next),
                _ => {
                    return Some(Err(SidecarError::Malformed(format!(
                        "nextOffset {next} after offset {offset}"
                    ))))
                }
            },
        }
        Some(Ok(records))
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "verify")))]
impl SentinelClient {
    /// One signed record, `GET /v1/records/{id}`, read strictly (numbers exactly, repeated
    /// keys refused): that record, or an error ([`SidecarError::Malformed`] for an answer that
    /// is another record). Reading does not verify it: see
    /// [`verify_record`](crate::provenance::verify_record).
    ///
    /// ```no_run
    /// let client = sentinel_runtime::SentinelClient::builder("http://localhost:4000").build()?;
    /// let record = client.record("rec_01J9Z8")?;
    /// println!("{} {} at {}", record.id(), record.verdict(), record.ts());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn record(&self, record_id: &str) -> Result<Record, SidecarError> {
        let url = format!("{}{}", self.endpoint(), protocol::record_path(record_id));
        let record =
            Record::from_value(self.read_json(&url)?).map_err(|e| SidecarError::Malformed(e.to_string()))?;
        if record.id != record_id {
            return Err(SidecarError::Malformed(format!(
                "asked for record {record_id}, the answer is record {}",
                record.id
            )));
        }
        Ok(record)
    }

    /// The records matching `query`, in chain order (`GET /v1/records`).
    ///
    /// ```no_run
    /// use sentinel_runtime::records::RecordQuery;
    /// use sentinel_runtime::Verdict;
    ///
    /// let client = sentinel_runtime::SentinelClient::builder("http://localhost:4000").build()?;
    /// let blocked = client.records(&RecordQuery::new().run_id("run-42").verdict(Verdict::Block))?;
    /// println!("{} calls of run-42 were blocked", blocked.len());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn records(&self, query: &RecordQuery) -> Result<Vec<Record>, SidecarError> {
        let url = format!(
            "{}{}?{}",
            self.endpoint(),
            protocol::RECORDS,
            query.to_query_string()
        );
        match self.read_json(&url)? {
            Value::Array(items) => items
                .into_iter()
                .map(|item| Record::from_value(item).map_err(|e| SidecarError::Malformed(e.to_string())))
                .collect(),
            _ => Err(SidecarError::Malformed("the records listing is an array".into())),
        }
    }

    /// The export of the records matching `query`, page by page (`GET /v1/export`), from
    /// the query's offset on. Pages hold the query's limit, or [`DEFAULT_EXPORT_PAGE`].
    ///
    /// ```no_run
    /// use sentinel_runtime::records::RecordQuery;
    ///
    /// let client = sentinel_runtime::SentinelClient::builder("http://localhost:4000").build()?;
    /// let mut count = 0;
    /// for page in client.export_pages(&RecordQuery::new()) {
    ///     count += page?.len();
    /// }
    /// println!("{count} records");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn export_pages(&self, query: &RecordQuery) -> ExportPages<'_> {
        let offset = query.offset.unwrap_or(0);
        let limit = query.limit.unwrap_or(DEFAULT_EXPORT_PAGE);
        ExportPages {
            client: self,
            query: query.clone().limit(limit),
            next_offset: Some(offset),
        }
    }

    /// The sidecar's own verification of its chain, `GET /v1/verify`.
    ///
    /// ```no_run
    /// let client = sentinel_runtime::SentinelClient::builder("http://localhost:4000").build()?;
    /// println!("the sidecar says its chain is intact: {}", client.sidecar_verify()?.ok);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn sidecar_verify(&self) -> Result<SidecarVerdictOnChain, SidecarError> {
        let answer = self.read_json(&format!("{}/v1/verify", self.endpoint()))?;
        let Some(ok) = answer.get("ok").and_then(Value::as_bool) else {
            return Err(SidecarError::Malformed("no boolean `ok`".into()));
        };
        Ok(SidecarVerdictOnChain {
            ok,
            broken_at: answer.get("brokenAt").and_then(Value::as_u64),
            reason: answer.get("reason").and_then(Value::as_str).map(str::to_owned),
        })
    }

    /// `GET url` within the client's deadline; a 2xx answer read strictly.
    fn read_json(&self, url: &str) -> Result<Value, SidecarError> {
        let response = self
            .exchange("GET", url, Vec::new())
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
        let text =
            std::str::from_utf8(&response.body).map_err(|_| SidecarError::Malformed("not UTF-8".into()))?;
        crate::provenance::parse_json(text).map_err(|e| SidecarError::Malformed(e.to_string()))
    }
}
