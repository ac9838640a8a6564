//! What `#[guarded]` expands to calls. Not a public API: reached through
//! `sentinel::__private`, and free to change with the macro.

use std::future::Future;
use std::sync::Arc;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::action::Action;
use crate::client::{FailMode, SentinelClient};
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

    /// Asks the sidecar; `Ok(())` only on ALLOW.
    pub fn check(self) -> Result<(), Denied> {
        let (policy, kind) = (self.policy, self.kind);
        let client = self.client.or(global::client());
        let context = match self.context {
            Some(context) => Arc::new(context.clone()),
            None => Context::current(),
        };
        verdict_of(
            decide(client, self.payload, self.meta, self.id, kind, policy, &context),
            kind,
            policy,
        )
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
        let (payload, meta, id) = (self.payload, self.meta, self.id);
        crate::blocking::run(move || {
            verdict_of(
                decide(client.as_ref(), payload, meta, id, kind, policy, &context),
                kind,
                policy,
            )
        })
    }
}

fn decide(
    client: Option<&SentinelClient>,
    payload: Payload,
    meta: Option<Payload>,
    id: Option<String>,
    kind: &'static str,
    policy: &'static str,
    context: &Context,
) -> GuardDecision {
    let Some(client) = client else {
        return GuardDecision::fallback(
            FailMode::Closed,
            "no Sentinel client is configured: call sentinel::init at startup",
        );
    };
    if let Some(error) = payload
        .error
        .or_else(|| meta.as_ref().and_then(|m| m.error.clone()))
    {
        // Not the sidecar's failure: what cannot be described cannot be asked about, so this
        // is denied whatever the fail mode.
        return GuardDecision::fallback(FailMode::Closed, error);
    }
    let mut action = Action::of(kind, Value::Object(payload.members));
    if let Some(id) = id {
        action = action.with_id(id);
    }
    if let Some(meta) = meta {
        action = action.with_meta(Value::Object(meta.members));
    }
    client.guard(&action, context, policy)
}

fn verdict_of(decision: GuardDecision, kind: &str, policy: &str) -> Result<(), Denied> {
    if decision.allowed() {
        Ok(())
    } else {
        Err(Denied::new(decision, kind, policy))
    }
}
