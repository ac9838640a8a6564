//! `POST /v1/guard/batch`: many guards in as few requests as the protocol allows.

use std::time::Instant;

use serde::Serialize;

use super::{request_error, GuardRequest, SentinelClient};
use crate::action::Action;
use crate::context::Context;
use crate::decision::GuardDecision;
use crate::protocol;

/// The most requests one `POST /v1/guard/batch` carries; longer batches are split.
pub const MAX_BATCH: usize = 256;

impl SentinelClient {
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
        if !protocol::is_success(response.status) {
            return fail_all(protocol::describe_status(response.status, &response.body));
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
}
