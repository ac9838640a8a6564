//! What `#[guarded]` expands to calls. Not a public API: reached through
//! `sentinel::__private`, and free to change with the macro.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Map, Value};

use crate::action::Action;
use crate::client::SentinelClient;
use crate::context::Context;
use crate::decision::GuardDecision;
use crate::denied::Denied;
use crate::global;

/// What every argument of a guarded function must be: serializable, since it is sent to
/// the sidecar by name. Implemented for every `Serialize` type; it exists for its message,
/// which names the argument's type and the way out (`skip(…)`).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be sent to the sidecar: it does not implement `serde::Serialize`",
    label = "every argument of a #[guarded] function is serialized into the payload",
    note = "derive or implement `serde::Serialize` for `{Self}`, or leave the argument out with skip(…)"
)]
pub trait Arg: Serialize {}

impl<T: Serialize + ?Sized> Arg for T {}

/// What the error type `E` of a guarded function's `Result<T, E>` must be: something a
/// [`Denied`] converts into. Implemented for every `E: From<Denied>`; it exists for its
/// message, which states the rule.
#[diagnostic::on_unimplemented(
    message = "a #[guarded] function must return Result<T, E> where E: From<sentinel::Denied>; `{Self}` does not implement From<sentinel::Denied>",
    note = "if `{Self}` is your own type, add `impl From<sentinel::Denied> for {Self}` (for example a variant holding the `Denied`)",
    note = "otherwise return an error type that already converts: `sentinel::Denied`, `std::io::Error`, `anyhow::Error` or `Box<dyn std::error::Error + Send + Sync>`"
)]
pub trait FromDenied {
    /// `E::from(denied)`.
    fn from_denied(denied: Denied) -> Self;
}

impl<E: From<Denied>> FromDenied for E {
    fn from_denied(denied: Denied) -> Self {
        E::from(denied)
    }
}

/// What `on_escalate = wait(timeout = expr)` accepts when `expr` is not a string literal:
/// a [`Duration`], or an `Option<Duration>` where `None` (like a zero duration) means "do
/// not wait, return `Denied` at once".
#[diagnostic::on_unimplemented(
    message = "`on_escalate = wait(timeout = …)` takes a `std::time::Duration` or a literal like \"10m\"; found `{Self}`",
    label = "evaluated at each call: the longest this call waits for a human",
    note = "write a literal such as \"30s\" or \"10m\", or an expression of type `Duration` or `Option<Duration>` (`None`: do not wait)"
)]
pub trait EscalationTimeout {
    /// The wait, `None` for none.
    fn escalation_wait(self) -> Option<Duration>;
}

impl EscalationTimeout for Duration {
    fn escalation_wait(self) -> Option<Duration> {
        Some(self)
    }
}

impl EscalationTimeout for &Duration {
    fn escalation_wait(self) -> Option<Duration> {
        Some(*self)
    }
}

impl EscalationTimeout for Option<Duration> {
    fn escalation_wait(self) -> Option<Duration> {
        self
    }
}

/// The longest wait for a human: `u64::MAX` milliseconds, also the largest literal the
/// attribute accepts. Longer durations (`Duration::MAX`) are cut to it, so that a deadline
/// can always be computed.
const LONGEST_WAIT: Duration = Duration::from_millis(u64::MAX);

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
    pub fn arg<T: Arg + ?Sized>(&mut self, name: &'static str, value: &T) {
        if self.error.is_some() {
            return;
        }
        match crate::payload::to_value(value) {
            Ok(value) => self.insert(name.to_owned(), value),
            Err(why) => self.error = Some(format!("argument `{name}` cannot be sent to the sidecar: {why}")),
        }
    }

    /// `payload = name`: the argument's own members are the payload's. Its serialization
    /// must be an object (a struct with named fields, or a map).
    pub fn object<T: Arg + ?Sized>(&mut self, name: &'static str, value: &T) {
        if self.error.is_some() {
            return;
        }
        match crate::payload::to_value(value) {
            Ok(Value::Object(members)) => members.into_iter().for_each(|(k, v)| self.insert(k, v)),
            Ok(other) => {
                self.error = Some(format!(
                    "argument `{name}` is the payload (`payload = {name}`) but serializes to {}, \
                     not an object with named members",
                    crate::payload::json_type(&other)
                ));
            }
            Err(why) => self.error = Some(format!("argument `{name}` cannot be sent to the sidecar: {why}")),
        }
    }

    /// A member no other member may have named already: a `fields(…)` constant repeating a
    /// member of the `payload = …` argument would leave the sidecar one of two values.
    fn insert(&mut self, name: String, value: Value) {
        if self.error.is_none() && self.members.contains_key(&name) {
            self.error = Some(format!("the payload member `{name}` is given twice"));
            return;
        }
        self.members.insert(name, value);
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
    #[cfg(feature = "verify")]
    receipts: Option<&'a crate::adjudication::ReceiptClient>,
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
            #[cfg(feature = "verify")]
            receipts: None,
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
    pub fn wait_on_escalation(self, timeout: Duration) -> Self {
        self.escalation_wait(Some(timeout))
    }

    /// `on_escalate = wait(timeout = expr)` of the attribute, `expr` evaluated for this
    /// call: wait up to that long; `None` or a zero duration: do not wait (an `ESCALATE` is
    /// returned at once, its escalation left pending).
    pub fn escalation_wait(mut self, timeout: Option<Duration>) -> Self {
        self.escalation_wait = timeout
            .filter(|timeout| !timeout.is_zero())
            .map(|timeout| timeout.min(LONGEST_WAIT));
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
        let decision = decide(client, request, kind, policy, &context, &AtomicBool::new(false));
        verdict_of(decision, kind, policy)
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
        // The deadline runs from the call, not from when a pool thread picks the job up.
        let deadline = client.as_ref().map(SentinelClient::deadline);
        crate::blocking::run(move |dropped: &AtomicBool| {
            let decision = if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                GuardDecision::refused("the guard waited past its deadline for a free thread")
            } else {
                catch_unwind(AssertUnwindSafe(|| {
                    decide(client.as_ref(), request, kind, policy, &context, dropped)
                }))
                .unwrap_or_else(|_| GuardDecision::refused("the guard panicked"))
            };
            verdict_of(decision, kind, policy)
        })
    }

    /// `receipt = …`: the receipt client to run through instead of the global one.
    #[cfg(feature = "verify")]
    pub fn receipts(mut self, receipts: &'a crate::adjudication::ReceiptClient) -> Self {
        self.receipts = Some(receipts);
        self
    }

    /// `receipt`: runs `body` as the protected executor (see
    /// [`ReceiptClient::execute`](crate::adjudication::ReceiptClient::execute)). The action is
    /// `kind` run by `service`'s `operation` (the function's module path and name) with the
    /// payload as parameters, on behalf of the context's actor (its run id without one).
    #[cfg(feature = "verify")]
    pub fn execute_with_receipt<T, E, F>(
        self,
        service: &'static str,
        operation: &'static str,
        body: F,
    ) -> Result<T, E>
    where
        T: Serialize,
        E: From<Denied> + std::fmt::Display,
        F: FnOnce() -> Result<T, E>,
    {
        use crate::adjudication::{AdjudicationRequest, CanonicalAction};

        let (policy, kind) = (self.policy, self.kind);
        let refuse = |why: String| Err(E::from(Denied::of(GuardDecision::refused(why), kind, policy)));
        let Some(receipts) = self.receipts.or(crate::adjudication::client()) else {
            return refuse(
                "no receipt client is configured: call sentinel::adjudication::init at startup".into(),
            );
        };
        let context = match self.context {
            Some(context) => Arc::new(context.clone()),
            None => Context::current(),
        };
        if let Some(error) = self.payload.error {
            return refuse(error);
        }
        let actor = context
            .actor()
            .map_or_else(|| format!("run:{}", context.run_id()), |actor| actor.id.clone());
        let action = match CanonicalAction::new(
            kind,
            service,
            operation,
            actor,
            Value::Object(self.payload.members),
        ) {
            Ok(action) => action,
            Err(err) => return refuse(err.to_string()),
        };
        receipts.execute(
            &AdjudicationRequest::new(action, (*context).clone(), policy),
            body,
        )
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
    cancelled: &AtomicBool,
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
    match escalation_wait {
        Some(timeout) => client.guard_and_wait_cancellable(&action, context, policy, timeout, cancelled),
        None => client.guard(&action, context, policy),
    }
}

fn verdict_of(decision: GuardDecision, kind: &str, policy: &str) -> Result<(), Denied> {
    if decision.allowed() {
        Ok(())
    } else {
        Err(Denied::of(decision, kind, policy))
    }
}

pub use crate::method_kind::method_kind;
