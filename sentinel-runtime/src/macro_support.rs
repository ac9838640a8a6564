//! What `#[guarded]` expands to calls. Not a public API: reached through
//! `sentinel::__private`, and free to change with the macro.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::task::Poll;
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

/// One parameter on its way into the payload. The attribute cannot see through a type
/// alias or a wrapper, so whether a parameter may be sent is decided here, by its type:
/// `Member(&param).arg()` resolves to [`SendContext`] when the parameter holds the call's
/// [`Context`] (by any alias, `&`, `Box`, `Arc`, `Rc` or `Option`), to [`SendClient`] when
/// it holds a [`SentinelClient`], and to [`SendArg`] otherwise (method resolution tries the
/// by-value `self` of the first two before the `&self` of the last). The first two only fail
/// to compile, with a message naming the option that gives the parameter its role; a user's
/// own type named `Context` is sent.
pub struct Member<'a, T: ?Sized>(pub &'a T);

/// A value on its way into the payload, its type erased: the payload is built by
/// [`Call::new`] in this crate, so a guarded function's own code is only a list of
/// `(name, &value)` pairs.
pub trait ErasedArg {
    /// The value as the sidecar receives it, or why it cannot be sent.
    fn to_value(&self) -> Result<Value, String>;
}

impl<T: Serialize> ErasedArg for T {
    fn to_value(&self) -> Result<Value, String> {
        crate::payload::to_value(self)
    }
}

/// [`Member::arg`](SendArg::arg) for every parameter without a role: the value, to be
/// sent under the parameter's name.
pub trait SendArg<'a, T> {
    /// The parameter as a payload member.
    fn arg(&self) -> &'a dyn ErasedArg
    where
        T: Arg;

    /// [`arg`](Self::arg) for a parameter whose written type mentions `Context` or
    /// `SentinelClient`, with the role found: [`Sent`], which the attribute's own check
    /// (a trait local to the function, whose message names the parameter) accepts.
    fn named(&self) -> (Sent, &'a dyn ErasedArg)
    where
        T: Arg;
}

/// The role [`SendArg::named`] finds: an argument, sent. The only role the attribute's
/// per-parameter check accepts.
pub struct Sent;

/// The role [`SendContext::named`] and [`SendClient::named`] find: the parameter has a
/// role of its own, and the attribute's per-parameter check refuses it, naming it.
pub struct ContextOrClient;

impl<'a, T> SendArg<'a, T> for Member<'a, T> {
    fn arg(&self) -> &'a dyn ErasedArg
    where
        T: Arg,
    {
        self.0
    }

    fn named(&self) -> (Sent, &'a dyn ErasedArg)
    where
        T: Arg,
    {
        (Sent, self.0)
    }
}

/// Chosen for a parameter that holds the [`Context`]: it never compiles (see
/// [`ContextHasItsOwnOption`]).
pub trait SendContext<'a, T> {
    /// Never callable: `T` holds the context.
    fn arg(self) -> &'a dyn ErasedArg
    where
        T: ContextHasItsOwnOption;

    /// Never called: a function that calls it does not compile (the attribute's
    /// per-parameter check refuses [`ContextOrClient`] with a message naming the parameter).
    fn named(self) -> (ContextOrClient, &'a dyn ErasedArg);
}

impl<'a, T: ContextArg> SendContext<'a, T> for Member<'a, T> {
    fn arg(self) -> &'a dyn ErasedArg
    where
        T: ContextHasItsOwnOption,
    {
        unreachable!("no type implements ContextHasItsOwnOption")
    }

    fn named(self) -> (ContextOrClient, &'a dyn ErasedArg) {
        unreachable!("the attribute's check refuses ContextOrClient at compile time")
    }
}

/// Chosen for a parameter that holds a [`SentinelClient`]: it never compiles (see
/// [`ClientHasItsOwnOption`]).
pub trait SendClient<'a, T> {
    /// Never callable: `T` holds a client.
    fn arg(self) -> &'a dyn ErasedArg
    where
        T: ClientHasItsOwnOption;

    /// Never called, as [`SendContext::named`].
    fn named(self) -> (ContextOrClient, &'a dyn ErasedArg);
}

impl<'a, T: ClientArg> SendClient<'a, T> for Member<'a, T> {
    fn arg(self) -> &'a dyn ErasedArg
    where
        T: ClientHasItsOwnOption,
    {
        unreachable!("no type implements ClientHasItsOwnOption")
    }

    fn named(self) -> (ContextOrClient, &'a dyn ErasedArg) {
        unreachable!("the attribute's check refuses ContextOrClient at compile time")
    }
}

/// Implemented by nothing: the message a parameter holding the context gets when it is not
/// named in `context = …` (sent as an argument, it would not be the context the call is
/// checked under).
#[diagnostic::on_unimplemented(
    message = "this parameter is a `sentinel::Context` (`{Self}`): name it in `context = …` or in `skip(…)`",
    label = "sent as an argument, it would not be the context the call is checked under",
    note = "`context = <this parameter's name>` checks the call under this context (the parameter is then not sent); `skip(<this parameter's name>)` checks it under the context in scope and sends neither"
)]
pub trait ContextHasItsOwnOption {}

/// Implemented by nothing: the message a parameter holding a client gets when it is not
/// named in `client = …`.
#[diagnostic::on_unimplemented(
    message = "this parameter is a `sentinel::SentinelClient` (`{Self}`): name it in `client = …`",
    label = "a client is not an argument of the action",
    note = "`client = <this parameter's name>` asks the sidecar through this client (the parameter is then not sent); `skip(<this parameter's name>)` would ask through the global client instead"
)]
pub trait ClientHasItsOwnOption {}

/// What `context = param` accepts: a parameter that holds the call's [`Context`], as the
/// context itself, a reference, a `Box`, an `Arc` or an `Rc` of one, or an `Option` of any
/// of these (`None`: the context in scope).
#[diagnostic::on_unimplemented(
    message = "`context = …` must name a parameter that holds a `sentinel::Context`, and this one holds a `{Self}`",
    label = "not a `sentinel::Context`",
    note = "the parameter's type must be `Context`, `&Context`, `Box<Context>`, `Arc<Context>`, `Rc<Context>` or an `Option` of one (`None`: the context in scope); a type of your own that is also called `Context` is sent as an argument like any other"
)]
pub trait ContextArg {
    /// The context, `None` for the one in scope.
    fn context(&self) -> Option<&Context>;
}

impl ContextArg for Context {
    fn context(&self) -> Option<&Context> {
        Some(self)
    }
}

impl<T: ContextArg + ?Sized> ContextArg for &T {
    fn context(&self) -> Option<&Context> {
        (**self).context()
    }
}

impl<T: ContextArg + ?Sized> ContextArg for &mut T {
    fn context(&self) -> Option<&Context> {
        (**self).context()
    }
}

impl<T: ContextArg + ?Sized> ContextArg for Box<T> {
    fn context(&self) -> Option<&Context> {
        (**self).context()
    }
}

impl<T: ContextArg + ?Sized> ContextArg for Arc<T> {
    fn context(&self) -> Option<&Context> {
        (**self).context()
    }
}

impl<T: ContextArg + ?Sized> ContextArg for std::rc::Rc<T> {
    fn context(&self) -> Option<&Context> {
        (**self).context()
    }
}

impl<T: ContextArg> ContextArg for Option<T> {
    fn context(&self) -> Option<&Context> {
        self.as_ref().and_then(ContextArg::context)
    }
}

/// A parameter that holds a [`SentinelClient`] (itself, a reference, a `Box`, an `Arc` or
/// an `Rc` of one): it has a role, given by `client = …`.
pub trait ClientArg {}

impl ClientArg for SentinelClient {}
impl<T: ClientArg + ?Sized> ClientArg for &T {}
impl<T: ClientArg + ?Sized> ClientArg for &mut T {}
impl<T: ClientArg + ?Sized> ClientArg for Box<T> {}
impl<T: ClientArg + ?Sized> ClientArg for Arc<T> {}
impl<T: ClientArg + ?Sized> ClientArg for std::rc::Rc<T> {}

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
struct Payload {
    members: Map<String, Value>,
    error: Option<String>,
}

impl Payload {
    /// The payload of `(name, value)` pairs. A value that cannot be serialized is
    /// remembered and turns the call into a denial; the first such error wins.
    fn of(members: &[(&'static str, &dyn ErasedArg)]) -> Self {
        let mut payload = Payload::default();
        for (name, value) in members {
            payload.arg(name, *value);
        }
        payload
    }

    /// Adds `name: value`.
    fn arg(&mut self, name: &'static str, value: &dyn ErasedArg) {
        if self.error.is_some() {
            return;
        }
        match value.to_value() {
            Ok(value) => self.insert(name.to_owned(), value),
            Err(why) => self.error = Some(format!("argument `{name}` cannot be sent to the sidecar: {why}")),
        }
    }

    /// `payload = name`: the argument's own members are the payload's. Its serialization
    /// must be an object (a struct with named fields, or a map).
    fn object(name: &'static str, value: &dyn ErasedArg) -> Self {
        let mut payload = Payload::default();
        match value.to_value() {
            Ok(Value::Object(members)) => members.into_iter().for_each(|(k, v)| payload.insert(k, v)),
            Ok(other) => {
                payload.error = Some(format!(
                    "argument `{name}` is the payload (`payload = {name}`) but serializes to {}, \
                     not an object with named members",
                    crate::payload::json_type(&other)
                ));
            }
            Err(why) => {
                payload.error = Some(format!("argument `{name}` cannot be sent to the sidecar: {why}"))
            }
        }
        payload
    }

    /// A member no other member may have named already. The attribute never sends two
    /// members under one name (parameters are unique, renames and fields are checked at
    /// compile time, and `fields(…)` never sits beside `payload = …`); should it ever, the
    /// sidecar would be left one of two values, so the call is denied.
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
    /// A call of an action of type `kind` under `policy`, whose payload is `members`.
    pub fn new(policy: &'static str, kind: &'static str, members: &[(&'static str, &dyn ErasedArg)]) -> Self {
        Call::with(policy, kind, Payload::of(members))
    }

    /// `payload = name`: a call whose payload is the members of `value`.
    pub fn spread(
        policy: &'static str,
        kind: &'static str,
        name: &'static str,
        value: &dyn ErasedArg,
    ) -> Self {
        Call::with(policy, kind, Payload::object(name, value))
    }

    fn with(policy: &'static str, kind: &'static str, payload: Payload) -> Self {
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
    pub fn meta(mut self, meta: &[(&'static str, &dyn ErasedArg)]) -> Self {
        self.meta = Some(Payload::of(meta));
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

    /// `context = …` of the attribute: the context the parameter holds, or (an `Option`
    /// that is `None`) the one in scope.
    pub fn context<C: ContextArg + ?Sized>(mut self, context: &'a C) -> Self {
        self.context = context.context();
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
    pub fn check_async(self) -> Pending {
        let (policy, kind) = (self.policy, self.kind);
        let client = self.client.or(global::client()).cloned();
        let context = match self.context {
            Some(context) => Arc::new(context.clone()),
            None => Context::current(),
        };
        let request = self.into_request();
        // The deadline runs from the call, not from when a pool thread picks the job up.
        let deadline = client.as_ref().map(SentinelClient::deadline);
        Pending(Box::pin(crate::blocking::run(move |dropped: &AtomicBool| {
            let decision = if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                GuardDecision::refused("the guard waited past its deadline for a free thread")
            } else {
                catch_unwind(AssertUnwindSafe(|| {
                    decide(client.as_ref(), request, kind, policy, &context, dropped)
                }))
                .unwrap_or_else(|_| GuardDecision::refused("the guard panicked"))
            };
            verdict_of(decision, kind, policy)
        })))
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
    ///
    /// What the body returns is digested through `output` and `error`, made by
    /// [`receipt_output`] and [`receipt_error`] where the function's `T` and `E` are written,
    /// so that a `T` without `Serialize` or an `E` without `Display` is reported there, once.
    /// A denial comes back as `Err(Err(denied))`, for [`receipt_result`] to convert.
    #[cfg(feature = "verify")]
    pub fn execute_with_receipt<T, E, F>(
        self,
        service: &'static str,
        operation: &'static str,
        body: F,
        output: fn(&T) -> Result<Value, String>,
        error: fn(&E) -> String,
    ) -> Result<T, Result<E, Denied>>
    where
        F: FnOnce() -> Result<T, E>,
    {
        use crate::adjudication::{AdjudicationRequest, CanonicalAction};

        let (policy, kind) = (self.policy, self.kind);
        let refuse = |why: String| Err(Err(Denied::of(GuardDecision::refused(why), kind, policy)));
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
        let body = move || match body() {
            Ok(value) => Ok(receipt::Output { value, output }),
            Err(failure) => Err(receipt::Failure::Body(failure, error)),
        };
        match receipts.execute(
            &AdjudicationRequest::new(action, (*context).clone(), policy),
            body,
        ) {
            Ok(output) => Ok(output.value),
            Err(receipt::Failure::Body(failure, _)) => Err(Ok(failure)),
            Err(receipt::Failure::Denied(denied)) => Err(Err(denied)),
        }
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

/// The guard of an `async fn`, awaited before its body. A type of this crate (not an
/// `impl Future` of generic parts), so that polling it is compiled here once rather than in
/// every crate that guards an `async fn`.
pub struct Pending(Pin<Box<dyn Future<Output = Result<(), Denied>> + Send>>);

impl Future for Pending {
    type Output = Result<(), Denied>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<Self::Output> {
        self.0.as_mut().poll(cx)
    }
}

/// The owned part of a [`Call`], sent to the blocking pool for an `async fn`.
struct Request {
    payload: Payload,
    meta: Option<Payload>,
    id: Option<String>,
    escalation_wait: Option<Duration>,
}

/// What a receipt-mode function's `T` must be: its value is digested into the signed
/// execution receipt. Implemented for every `Serialize` type; it exists for its message.
#[cfg(feature = "verify")]
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be the result of a `receipt` function: it does not implement `serde::Serialize`",
    label = "the result is digested into the signed execution receipt",
    note = "derive or implement `serde::Serialize` for `{Self}`, or return a value that implements it"
)]
pub trait ReceiptOutput: Serialize {}

#[cfg(feature = "verify")]
impl<T: Serialize + ?Sized> ReceiptOutput for T {}

/// What a receipt-mode function's `E` must be, besides `From<Denied>`: a failed
/// execution's receipt carries the digest of its message. Implemented for every `Display`
/// type; it exists for its message.
#[cfg(feature = "verify")]
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be the error of a `receipt` function: it does not implement `std::fmt::Display`",
    label = "a failed execution's receipt carries the digest of this error's message",
    note = "implement `std::fmt::Display` for `{Self}`, or return an error type that implements it"
)]
pub trait ReceiptError: std::fmt::Display {}

#[cfg(feature = "verify")]
impl<E: std::fmt::Display + ?Sized> ReceiptError for E {}

/// How a receipt-mode function's result is digested (see [`Call::execute_with_receipt`]).
#[cfg(feature = "verify")]
pub fn receipt_output<T: ReceiptOutput>(value: &T) -> Result<Value, String> {
    serde_json::to_value(value).map_err(|e| e.to_string())
}

/// How a receipt-mode function's error is described (see [`Call::execute_with_receipt`]).
#[cfg(feature = "verify")]
pub fn receipt_error<E: ReceiptError>(error: &E) -> String {
    error.to_string()
}

/// A receipt-mode function's result: a denial becomes `E` here, where `E` is written.
#[cfg(feature = "verify")]
pub fn receipt_result<T, E: FromDenied>(result: Result<T, Result<E, Denied>>) -> Result<T, E> {
    result.map_err(|failure| failure.unwrap_or_else(E::from_denied))
}

/// The body's result as the executor digests it, without bounds on `T` and `E` (those are
/// checked once, where the user wrote them).
#[cfg(feature = "verify")]
mod receipt {
    use std::fmt;

    use serde::{Serialize, Serializer};
    use serde_json::Value;

    use crate::denied::Denied;

    pub(super) struct Output<T> {
        pub(super) value: T,
        pub(super) output: fn(&T) -> Result<Value, String>,
    }

    impl<T> Serialize for Output<T> {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            match (self.output)(&self.value) {
                Ok(value) => value.serialize(serializer),
                Err(why) => Err(serde::ser::Error::custom(why)),
            }
        }
    }

    pub(super) enum Failure<E> {
        Body(E, fn(&E) -> String),
        Denied(Denied),
    }

    impl<E> From<Denied> for Failure<E> {
        fn from(denied: Denied) -> Self {
            Failure::Denied(denied)
        }
    }

    impl<E> fmt::Display for Failure<E> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                Failure::Body(error, describe) => f.write_str(&describe(error)),
                Failure::Denied(denied) => fmt::Display::fmt(denied, f),
            }
        }
    }
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

#[cfg(test)]
mod tests {
    use super::Payload;

    #[test]
    fn a_member_given_twice_denies_the_call() {
        let payload = Payload::of(&[("to", &"a"), ("to", &"b")]);
        assert_eq!(
            payload.error.as_deref(),
            Some("the payload member `to` is given twice")
        );
    }
}
