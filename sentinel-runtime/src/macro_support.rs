//! What `#[guarded]` expands to calls. Not a public API: reached through
//! `sentinel::__private`, and free to change with the macro.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::action::Action;
use crate::client::SentinelClient;
use crate::context::Context;
use crate::decision::GuardDecision;
use crate::denied::Denied;
use crate::global;

/// The arguments of one call, serialized by name.
#[derive(Default)]
pub struct Payload {
    members: Map<String, Value>,
    error: Option<String>,
}

impl Payload {
    /// An empty payload.
    pub fn new() -> Self {
        Payload::default()
    }

    /// Adds `name: value`. A value that cannot be serialized is remembered and turns the
    /// call into a denial; the first such error wins.
    pub fn arg<T: Serialize + ?Sized>(&mut self, name: &'static str, value: &T) {
        if self.error.is_some() {
            return;
        }
        match serde_json::to_value(value) {
            Ok(value) => {
                self.members.insert(name.to_owned(), value);
            }
            Err(e) => self.error = Some(format!("argument `{name}` could not be serialized: {e}")),
        }
    }
}

/// One guarded call, built by the expansion and then checked.
pub struct Call<'a> {
    policy: &'static str,
    kind: &'static str,
    payload: Payload,
    meta: Option<Payload>,
    id: Option<String>,
    client: Option<&'a SentinelClient>,
    context: Option<&'a Context>,
    escalation_wait: Option<Duration>,
}

impl<'a> Call<'a> {
    /// A call of an action of type `kind` under `policy`.
    pub fn new(policy: &'static str, kind: &'static str, payload: Payload) -> Self {
        Call {
            policy,
            kind,
            payload,
            meta: None,
            id: None,
            client: None,
            context: None,
            escalation_wait: None,
        }
    }

    /// `meta(…)` of the attribute.
    pub fn meta(mut self, meta: Payload) -> Self {
        self.meta = Some(meta);
        self
    }

    /// `id = …` of the attribute.
    pub fn id(mut self, id: impl ToString) -> Self {
        self.id = Some(id.to_string());
        self
    }

    /// `client = …` of the attribute.
    pub fn client(mut self, client: &'a SentinelClient) -> Self {
        self.client = Some(client);
        self
    }

    /// `context = …` of the attribute.
    pub fn context(mut self, context: &'a Context) -> Self {
        self.context = Some(context);
        self
    }

    /// `on_escalate = wait(timeout = "…")` of the attribute: on `ESCALATE`, wait up to
    /// `timeout` for a human's answer.
    pub fn wait_on_escalation(mut self, timeout: Duration) -> Self {
        self.escalation_wait = Some(timeout);
        self
    }

    /// Asks the sidecar; `Ok(())` only on ALLOW.
    pub fn check(self) -> Result<(), Denied> {
        let (policy, kind) = (self.policy, self.kind);
        let client = self.client.or(global::client());
        let context = match self.context {
            Some(context) => Arc::new(context.clone()),
            None => Context::current(),
        };
        let request = self.into_request();
        verdict_of(decide(client, request, kind, policy, &context), kind, policy)
    }

    /// [`check`](Self::check) for an `async fn`: the request runs on a small thread pool,
    /// so the executor is never blocked, whichever executor it is.
    pub fn check_async(self) -> impl Future<Output = Result<(), Denied>> + Send + 'static {
        let (policy, kind) = (self.policy, self.kind);
        let client = self.client.or(global::client()).cloned();
        let context = match self.context {
            Some(context) => Arc::new(context.clone()),
            None => Context::current(),
        };
        let request = self.into_request();
        crate::blocking::run(move || {
            verdict_of(
                decide(client.as_ref(), request, kind, policy, &context),
                kind,
                policy,
            )
        })
    }

    fn into_request(self) -> Request {
        Request {
            payload: self.payload,
            meta: self.meta,
            id: self.id,
            escalation_wait: self.escalation_wait,
        }
    }
}

/// The owned part of a [`Call`], sent to the blocking pool for an `async fn`.
struct Request {
    payload: Payload,
    meta: Option<Payload>,
    id: Option<String>,
    escalation_wait: Option<Duration>,
}

fn decide(
    client: Option<&SentinelClient>,
    request: Request,
    kind: &'static str,
    policy: &'static str,
    context: &Context,
) -> GuardDecision {
    let Request {
        payload,
        meta,
        id,
        escalation_wait,
    } = request;
    let Some(client) = client else {
        return GuardDecision::refused("no Sentinel client is configured: call sentinel::init at startup");
    };
    if let Some(error) = payload
        .error
        .or_else(|| meta.as_ref().and_then(|m| m.error.clone()))
    {
        // Not the sidecar's failure: what cannot be described cannot be asked about, so this
        // is denied whatever the fail mode.
        return GuardDecision::refused(error);
    }
    let mut action = Action::of(kind, Value::Object(payload.members));
    if let Some(id) = id {
        action = action.with_id(id);
    }
    if let Some(meta) = meta {
        action = action.with_meta(Value::Object(meta.members));
    }
    let decision = client.guard(&action, context, policy);
    match (escalation_wait, decision.escalation_id()) {
        (Some(timeout), Some(escalation_id)) if decision.verdict() == crate::Verdict::Escalate => {
            client.wait_for_resolution(escalation_id, timeout)
        }
        _ => decision,
    }
}

fn verdict_of(decision: GuardDecision, kind: &str, policy: &str) -> Result<(), Denied> {
    if decision.allowed() {
        Ok(())
    } else {
        Err(Denied::new(decision, kind, policy))
    }
}
