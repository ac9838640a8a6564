//! `guard`: one action asked about in one `POST /v1/guard`, and the answer read strictly
//! into a decision (checked against its signed record with `verify_decisions`).

use std::time::Instant;

use super::SentinelClient;
use crate::action::Action;
use crate::context::Context;
use crate::decision::{FallbackKind, GuardDecision};
use crate::protocol::{self, request_error, GuardRequest};
use crate::telemetry::GuardSpan;
use crate::transport::HttpResponse;

impl SentinelClient {
    /// Asks the sidecar whether `action` may happen under `policy`.
    ///
    /// Never fails and never panics: anything but a well-formed decision in a 2xx answer
    /// within the deadline becomes the [fallback](GuardDecision::is_fallback) decision of the
    /// client's [`FailMode`](crate::FailMode). A request the sidecar would refuse before looking at it (an
    /// empty policy, run id or action type, a payload that is not a JSON object) is
    /// refused without asking, whatever the fail mode; so is an `ALLOW` whose signed record
    /// does not match the call, with [`verify_decisions`](crate::SentinelClientBuilder::verify_decisions).
    #[must_use = "the action may happen only if this decision allows it"]
    pub fn guard(&self, action: &Action, context: &Context, policy: &str) -> GuardDecision {
        // The deadline counts serializing: a huge argument must not stretch it.
        self.guard_until(action, context, policy, self.deadline())
    }

    /// [`guard`](Self::guard) within a deadline the caller already runs against, so a call
    /// that guards after other requests still ends by its one deadline.
    pub(crate) fn guard_until(
        &self,
        action: &Action,
        context: &Context,
        policy: &str,
        deadline: Instant,
    ) -> GuardDecision {
        let span = GuardSpan::enter(action, policy);
        let mut attempts = 0;
        let decision = self.guard_counting(action, context, policy, deadline, &mut attempts);
        span.finish(&decision, attempts);
        decision
    }

    fn guard_counting(
        &self,
        action: &Action,
        context: &Context,
        policy: &str,
        deadline: Instant,
        attempts: &mut u32,
    ) -> GuardDecision {
        // A request the sidecar would refuse is the caller's error, not the sidecar's
        // absence: it is denied whatever the fail mode.
        if let Some(why) = request_error(action, context, policy) {
            return GuardDecision::refused(why);
        }
        // Resuming applies to the action the escalation holds; any other action in the
        // scope is guarded as usual.
        if let Some(escalation_id) = context.resumes() {
            if self.resumes_with(escalation_id, action, deadline) {
                #[cfg(feature = "verify")]
                return self.resume_until(escalation_id, action, context, policy, deadline);
                // The approval is a signed `human.review` record, read and checked by the
                // `provenance` module, which is `verify`'s.
                #[cfg(not(feature = "verify"))]
                return GuardDecision::refused(format!(
                    "resuming escalation {escalation_id} needs the `verify` feature (the approval is a signed \
                     record the client checks)"
                ));
            }
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
        let decision = match self.exchange_until("POST", &self.inner.guard_url, body, deadline, attempts) {
            Ok(response) => self.decision_from(response),
            Err(why) => return self.fail_safe(FallbackKind::of_transport(&why), why.to_string()),
        };
        self.checked(decision, action, context, policy, deadline)
    }

    /// With `verify_decisions`, an `ALLOW` only stands once its signed record matches the
    /// call; every other decision passes through.
    #[cfg_attr(not(feature = "verify"), allow(unused_variables))]
    pub(super) fn checked(
        &self,
        decision: GuardDecision,
        action: &Action,
        context: &Context,
        policy: &str,
        deadline: Instant,
    ) -> GuardDecision {
        #[cfg(feature = "verify")]
        if let Some(trusted) = self
            .inner
            .trusted_keys
            .as_ref()
            .filter(|_| self.inner.verify_decisions)
        {
            if decision.allowed() && !decision.is_fallback() {
                return self.verified(decision, trusted, action, context, policy, deadline);
            }
        }
        decision
    }

    fn decision_from(&self, response: HttpResponse) -> GuardDecision {
        if !protocol::is_success(response.status) {
            return self.fail_safe(
                FallbackKind::of_status(response.status),
                protocol::describe_status(response.status, &response.body),
            );
        }
        match GuardDecision::from_json(&response.body) {
            Ok(mut decision) => {
                if let Some(reason) = decision.reason() {
                    let redacted = self.redact(reason.to_owned());
                    if redacted != reason {
                        decision.set_reason(redacted);
                    }
                }
                decision
            }
            Err(e) => {
                self.dishonoured();
                self.fail_safe(FallbackKind::Malformed, format!("malformed decision: {e}"))
            }
        }
    }
}
