//! The escalation API's bodies and what its statuses mean: resolving one, and finding the
//! `human.review` record a resolution wrote.

use serde::Serialize;
use serde_json::Value;

use super::{path_segment, ESCALATIONS, RECORDS};

/// How many records one page of a human-review search asks for.
pub(crate) const RECORD_PAGE: usize = 100;

/// `GET`: the escalations in `state` (`pending`, `approved`, `denied`), or all of them.
pub(crate) fn escalations_path(state: Option<&str>) -> String {
    match state {
        Some(state) => format!("{ESCALATIONS}?status={state}"),
        None => ESCALATIONS.to_owned(),
    }
}

/// The body of `POST /v1/escalations/{id}/resolve`.
#[derive(Serialize)]
pub(crate) struct ResolveRequest<'a> {
    /// `approve` or `deny`.
    pub(crate) decision: &'static str,
    pub(crate) approver: &'a str,
}

/// Why the sidecar refused a resolve, by its status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ResolveRefusal {
    /// 403: the approver is not on the escalation's list.
    NotAnApprover,
    /// 404: no such escalation.
    NotFound,
    /// 409: already resolved.
    AlreadyResolved,
    /// Any other status that is not a success.
    Other,
}

/// `None` for a success, else what the status means.
pub(crate) fn resolve_refusal(status: u16) -> Option<ResolveRefusal> {
    match status {
        status if super::is_success(status) => None,
        403 => Some(ResolveRefusal::NotAnApprover),
        404 => Some(ResolveRefusal::NotFound),
        409 => Some(ResolveRefusal::AlreadyResolved),
        _ => Some(ResolveRefusal::Other),
    }
}

/// The answer to a successful resolve, `{escalation, recordId}`: the escalation (still as
/// JSON) and the id of the signed `human.review` record, or what is malformed about it.
pub(crate) fn resolve_answer(mut answer: Value) -> Result<(Value, String), String> {
    let record_id = match answer.get("recordId") {
        Some(Value::String(record_id)) if !record_id.is_empty() => record_id.clone(),
        _ => return Err("no `recordId`".into()),
    };
    let escalation = answer
        .get_mut("escalation")
        .map(Value::take)
        .ok_or_else(|| "no `escalation`".to_owned())?;
    Ok((escalation, record_id))
}

/// `GET`: page `page` of the records of run `run_id` with `verdict` written since `since`
/// (ISO 8601).
pub(crate) fn human_review_page_path(page: usize, verdict: &str, run_id: &str, since: &str) -> String {
    format!(
        "{RECORDS}?limit={RECORD_PAGE}&offset={}&verdict={verdict}&runId={}&since={}",
        page * RECORD_PAGE,
        path_segment(run_id),
        path_segment(since)
    )
}

/// The records of a page: the sidecar answers a bare array, or `{records: […]}`.
pub(crate) fn record_page(page: Value) -> Option<Vec<Value>> {
    match page {
        Value::Array(records) => Some(records),
        Value::Object(mut page) => match page.remove("records") {
            Some(Value::Array(records)) => Some(records),
            _ => None,
        },
        _ => None,
    }
}

/// Whether `record` holds the `human.review` check of `escalation_id`.
pub(crate) fn is_human_review_of(record: &Value, escalation_id: &str) -> bool {
    record["checks"].as_array().is_some_and(|checks| {
        checks
            .iter()
            .any(|c| c["check"] == "human.review" && c["details"]["escalationId"] == escalation_id)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn resolve_statuses_map_to_their_refusals() {
        assert_eq!(resolve_refusal(200), None);
        assert_eq!(resolve_refusal(403), Some(ResolveRefusal::NotAnApprover));
        assert_eq!(resolve_refusal(404), Some(ResolveRefusal::NotFound));
        assert_eq!(resolve_refusal(409), Some(ResolveRefusal::AlreadyResolved));
        assert_eq!(resolve_refusal(500), Some(ResolveRefusal::Other));
    }

    #[test]
    fn a_resolve_answer_needs_a_record_id_and_an_escalation() {
        let escalation = json!({"id": "esc_1"});
        assert_eq!(
            resolve_answer(json!({"escalation": escalation, "recordId": "rec_1"})),
            Ok((escalation.clone(), "rec_1".to_owned()))
        );
        assert!(resolve_answer(json!({"escalation": escalation, "recordId": ""})).is_err());
        assert!(resolve_answer(json!({"recordId": "rec_1"})).is_err());
    }

    #[test]
    fn a_record_page_is_an_array_or_an_object_holding_one() {
        let record = json!({"id": "rec_1"});
        assert_eq!(record_page(json!([record])), Some(vec![record.clone()]));
        assert_eq!(record_page(json!({"records": [record]})), Some(vec![record]));
        assert_eq!(record_page(json!({"records": 1})), None);
        assert_eq!(record_page(json!("x")), None);
    }
}
