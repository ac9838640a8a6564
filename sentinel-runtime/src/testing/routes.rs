//! The guard, escalation and export routes, answered as the reference sidecar does.

use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use super::chain::Entry;
use super::{lock, parse_guard_request, MockRequest, Rule, Seen};
use crate::decision::Verdict;

pub(super) async fn guard(
    body: &[u8],
    headers: Vec<(String, String)>,
    seen: &Mutex<Seen>,
    rule: Arc<Rule>,
) -> (u16, Value) {
    let Some(parsed) = serde_json::from_slice(body)
        .ok()
        .and_then(|body| parse_guard_request(body, headers))
    else {
        return (400, json!({"error": "invalid guard request"}));
    };
    run_one(parsed, seen, rule).await
}

/// `POST /v1/guard/batch`: at most 256 requests, each decided and recorded in order.
pub(super) async fn batch(
    body: &[u8],
    headers: Vec<(String, String)>,
    seen: &Mutex<Seen>,
    rule: Arc<Rule>,
) -> (u16, Value) {
    let requests = serde_json::from_slice::<Value>(body).ok().and_then(|mut body| {
        match body.get_mut("requests").map(Value::take) {
            Some(Value::Array(items)) if items.len() <= 256 => items
                .into_iter()
                .map(|item| parse_guard_request(item, headers.clone()))
                .collect::<Option<Vec<_>>>(),
            _ => None,
        }
    });
    let Some(requests) = requests else {
        return (400, json!({"error": "invalid batch request"}));
    };
    let mut decisions = Vec::with_capacity(requests.len());
    for request in requests {
        match run_one(request, seen, Arc::clone(&rule)).await {
            (200, decision) => decisions.push(decision),
            failed => return failed,
        }
    }
    (200, json!({"decisions": decisions}))
}

/// Decides one parsed request by the rule and records it, as the sidecar's `runOne` does.
async fn run_one(parsed: MockRequest, seen: &Mutex<Seen>, rule: Arc<Rule>) -> (u16, Value) {
    // The rule may block (a test simulating a slow sidecar): keep it off the thread that
    // serves the other connections.
    let Ok((parsed, answer)) = tokio::task::spawn_blocking(move || {
        let answer = rule(&parsed);
        (parsed, answer)
    })
    .await
    else {
        return (500, json!({"error": "internal error"}));
    };
    let mut seen = lock(seen);
    let tenant = parsed.context["tenant"]
        .as_str()
        .filter(|t| !t.is_empty())
        .map(str::to_owned);
    let record_id = seen.chain.append(
        Entry {
            tenant,
            action: parsed.body["action"].clone(),
            context: record_context(&parsed.context),
            checks: answer.checks(&parsed.policy),
            verdict: answer.verdict.as_str(),
            reason: answer.reason.clone(),
        },
        now_iso8601(),
    );
    let decision = answer.to_decision(&record_id, &parsed.policy);
    if let Some(escalation_id) = &answer.escalation_id {
        let mut escalation = json!({
            "id": escalation_id,
            "recordId": record_id,
            "action": parsed.body["action"],
            "approvers": answer.approvers,
            "status": "pending",
            "createdAt": now_iso8601(),
        });
        if let Some(reason) = &answer.reason {
            escalation["reason"] = json!(reason);
        }
        seen.escalations.push(escalation);
    }
    seen.requests.push(parsed);
    (200, decision)
}

/// The context a record keeps: `runId`, and `provider`, `model`, `actor` when set (the
/// sidecar's `toRecordContext`; the tenant and trace are not kept there).
pub(super) fn record_context(context: &Value) -> Value {
    let mut kept = serde_json::Map::new();
    kept.insert("runId".into(), context["runId"].clone());
    for key in ["provider", "model"] {
        if let Some(value) = context[key].as_str().filter(|v| !v.is_empty()) {
            kept.insert(key.into(), json!(value));
        }
    }
    if let Some(actor) = context.get("actor").filter(|a| a.is_object()) {
        kept.insert("actor".into(), actor.clone());
    }
    Value::Object(kept)
}

/// `GET /v1/export`: a page of records, with `nextOffset` when the page is full.
pub(super) fn export(seen: &Seen, query: &str) -> Value {
    let (records, limit, offset) = seen.chain.query(query);
    let mut page = json!({"format": "json", "count": records.len()});
    if records.len() == limit {
        page["nextOffset"] = json!(offset + limit);
    }
    page["records"] = Value::Array(records);
    page
}

pub(super) fn list_escalations(seen: &Seen, query: &str) -> Value {
    let wanted = query.split('&').find_map(|pair| pair.strip_prefix("status="));
    Value::Array(
        seen.escalations
            .iter()
            .filter(|e| wanted.is_none_or(|status| e["status"] == status))
            .cloned()
            .collect(),
    )
}

pub(super) fn resolve(seen: &mut Seen, id: &str, body: &[u8]) -> (u16, Value) {
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return (400, json!({"error": "invalid resolve request"}));
    };
    let (Some(decision), Some(approver)) = (request["decision"].as_str(), request["approver"].as_str())
    else {
        return (400, json!({"error": "invalid resolve request"}));
    };
    let verdict = match decision {
        "approve" => Verdict::Allow,
        "deny" => Verdict::Block,
        _ => return (400, json!({"error": "invalid resolve request"})),
    };
    let Some(escalation) = seen.escalations.iter_mut().find(|e| e["id"] == id) else {
        return (404, json!({"error": "escalation not found"}));
    };
    let approvers = escalation["approvers"].as_array().cloned().unwrap_or_default();
    if !approvers.is_empty() && !approvers.iter().any(|a| a == approver) {
        return (
            403,
            json!({"error": "approver not in the escalation approver list"}),
        );
    }
    if escalation["status"] != "pending" {
        return (409, json!({"error": "escalation already resolved"}));
    }
    escalation["status"] = json!(if verdict == Verdict::Allow {
        "approved"
    } else {
        "denied"
    });
    escalation["resolvedBy"] = json!(approver);
    escalation["resolvedAt"] = json!(now_iso8601());
    let escalation = escalation.clone();
    // Chained after the original, about the same action, run and tenant, as the sidecar does.
    let original = escalation["recordId"]
        .as_str()
        .and_then(|record_id| seen.chain.get(record_id))
        .cloned()
        .unwrap_or(Value::Null);
    let entry = Entry {
        tenant: original["tenant"].as_str().map(str::to_owned),
        action: escalation["action"].clone(),
        context: match &original["context"] {
            Value::Null => json!({"runId": format!("escalation_{id}")}),
            context => context.clone(),
        },
        checks: json!([{
            "check": "human.review",
            "outcome": if verdict == Verdict::Allow { "pass" } else { "fail" },
            "verdict": verdict.as_str(),
            "reason": format!("{decision} by {approver}"),
            "details": {"escalationId": id, "originalRecordId": escalation["recordId"]},
        }]),
        verdict: verdict.as_str(),
        reason: Some(format!("human {decision} of escalation {id}")),
    };
    let record_id = seen.chain.append(entry, now_iso8601());
    (200, json!({"escalation": escalation, "recordId": record_id}))
}

/// The current UTC time as `2026-11-24T10:59:26.885Z`.
pub(super) fn now_iso8601() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let (days, seconds) = (now.as_secs() / 86_400, now.as_secs() % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        seconds / 3600,
        seconds % 3600 / 60,
        seconds % 60,
        now.subsec_millis()
    )
}
