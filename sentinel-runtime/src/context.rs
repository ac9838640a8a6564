//! Who is acting and in which run: the [`Context`] sent with every guard, and its scoping.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use once_cell::sync::Lazy;
use serde::Serialize;
use serde_json::Value;

/// Who is acting, for which run, on whose behalf: the `context` of a guard request.
///
/// Only `run_id` is required (the sidecar answers 400 without it); every other field is
/// omitted on the wire when it is not set.
///
/// ```
/// use sentinel_runtime::Context;
/// use serde_json::json;
///
/// let ctx = Context::new("run-42")
///     .with_provider("anthropic")
///     .with_model("claude-sonnet-4-6")
///     .with_actor("agent-007", ["ops"])
///     .with_tenant("acme")
///     .with_trace_step("tool", "lookup_invoice", json!({"invoice": 7}));
/// assert_eq!(ctx.run_id(), "run-42");
/// assert_eq!(ctx.provider(), Some("anthropic"));
/// assert_eq!(ctx.model(), Some("claude-sonnet-4-6"));
/// assert_eq!(ctx.tenant(), Some("acme"));
/// let actor = ctx.actor().unwrap();
/// assert_eq!((actor.id.as_str(), actor.roles.as_slice()), ("agent-007", &["ops".to_owned()][..]));
/// assert_eq!(ctx.trace()[0].name, "lookup_invoice");
/// assert_eq!(ctx.resumes(), None);
///
/// // With no context in scope, guards use the process default, whose run id is generated.
/// assert_eq!(Context::current().run_id(), Context::process_default().run_id());
/// assert!(Context::process_default().run_id().starts_with("run_"));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Context {
    run_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    provider: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    actor: Option<Actor>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tenant: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    trace: Vec<TraceStep>,
    /// The approved escalation a guard under this context resumes on; never sent.
    #[serde(skip)]
    resuming: Option<String>,
}

/// The principal on whose behalf the agent acts, set with [`Context::with_actor`].
///
/// ```
/// use sentinel_runtime::Context;
///
/// let ctx = Context::new("run-42").with_actor("agent-007", ["ops", "payments"]);
/// let actor = ctx.actor().unwrap();
/// assert_eq!(actor.id, "agent-007");
/// assert_eq!(actor.roles, ["ops", "payments"]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Actor {
    /// A stable identifier, such as `agent-007`.
    pub id: String,
    /// Roles the sidecar's policies may consult.
    pub roles: Vec<String>,
}

/// One step of the agent's recent history (a model turn, a tool call, a message), added
/// with [`Context::with_trace_step`].
///
/// ```
/// use sentinel_runtime::Context;
/// use serde_json::json;
///
/// let ctx = Context::new("run-42")
///     .with_trace_step("model", "claude-sonnet-4-6", json!("pay vendor_42"))
///     .with_trace_step("tool", "lookup_invoice", json!({"invoice": 7}));
/// let step = &ctx.trace()[1];
/// assert_eq!((step.kind.as_str(), step.name.as_str()), ("tool", "lookup_invoice"));
/// assert_eq!(step.content["invoice"], 7);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct TraceStep {
    /// `model`, `tool` or `message`.
    pub kind: String,
    /// A name, such as the tool's.
    pub name: String,
    /// Any JSON.
    pub content: Value,
}

impl Context {
    /// A context for the run `run_id`.
    pub fn new(run_id: impl Into<String>) -> Self {
        Context {
            run_id: run_id.into(),
            provider: None,
            model: None,
            actor: None,
            tenant: None,
            trace: Vec::new(),
            resuming: None,
        }
    }

    /// Sets the model provider, such as `anthropic`.
    pub fn with_provider(mut self, provider: impl Into<String>) -> Self {
        self.provider = Some(provider.into());
        self
    }

    /// Sets the model name.
    pub fn with_model(mut self, model: impl Into<String>) -> Self {
        self.model = Some(model.into());
        self
    }

    /// Sets the acting principal and its roles.
    pub fn with_actor<R, S>(mut self, id: impl Into<String>, roles: R) -> Self
    where
        R: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.actor = Some(Actor {
            id: id.into(),
            roles: roles.into_iter().map(Into::into).collect(),
        });
        self
    }

    /// Sets the tenant.
    pub fn with_tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }

    /// Appends a trace step.
    pub fn with_trace_step(
        mut self,
        kind: impl Into<String>,
        name: impl Into<String>,
        content: Value,
    ) -> Self {
        self.trace.push(TraceStep {
            kind: kind.into(),
            name: name.into(),
            content,
        });
        self
    }

    /// Resumes a parked action: the guard of the action `escalation_id` holds does not ask
    /// the sidecar again (which would open a new escalation) but runs the action only on the
    /// human approval of `escalation_id` for that identical action; see
    /// [`SentinelClient::resume`](crate::SentinelClient::resume). Any other action guarded
    /// under this context (another call the same tool makes) is guarded as usual. Each guard
    /// under it first looks the escalation up (one to three `GET`s). Feature `verify`;
    /// without it every guard under this context is refused.
    ///
    /// ```
    /// use sentinel_runtime::Context;
    ///
    /// let rerun = Context::new("run-42").resuming("esc_6f1c");
    /// assert_eq!(rerun.resumes(), Some("esc_6f1c"));
    /// ```
    pub fn resuming(mut self, escalation_id: impl Into<String>) -> Self {
        self.resuming = Some(escalation_id.into());
        self
    }

    /// The escalation this context resumes on, if any.
    pub fn resumes(&self) -> Option<&str> {
        self.resuming.as_deref()
    }

    /// The run id.
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// The model provider, if set.
    pub fn provider(&self) -> Option<&str> {
        self.provider.as_deref()
    }

    /// The model name, if set.
    pub fn model(&self) -> Option<&str> {
        self.model.as_deref()
    }

    /// The acting principal, if set.
    pub fn actor(&self) -> Option<&Actor> {
        self.actor.as_ref()
    }

    /// The tenant, if set.
    pub fn tenant(&self) -> Option<&str> {
        self.tenant.as_deref()
    }

    /// The trace steps, oldest first.
    pub fn trace(&self) -> &[TraceStep] {
        &self.trace
    }

    /// Runs `f` with this context as the [current](Context::current) one on this thread,
    /// and restores the previous one afterwards, even if `f` panics. Scopes nest.
    ///
    /// It is a thread's scope: work `f` hands to other threads (`spawn_blocking`, a rayon
    /// pool) does not see it, and futures polled inside it (a `block_on` on this thread)
    /// all do. Give async work its context with [`WithContextExt::with_context`] instead.
    ///
    /// ```
    /// use sentinel_runtime::Context;
    ///
    /// let run = Context::new("run-7").scope(|| Context::current().run_id().to_owned());
    /// assert_eq!(run, "run-7");
    /// ```
    pub fn scope<R>(&self, f: impl FnOnce() -> R) -> R {
        enter(Arc::new(self.clone()), f)
    }

    /// The context in scope on this thread, or the [process default](Context::process_default).
    pub fn current() -> Arc<Context> {
        CURRENT
            .with(|current| current.borrow().clone())
            .unwrap_or_else(|| Arc::clone(&PROCESS_DEFAULT))
    }

    /// The context used when none is in scope: `runId` is `run_<uuid v4>`, generated once
    /// per process (the sidecar requires a run id), and nothing else is set.
    pub fn process_default() -> Arc<Context> {
        Arc::clone(&PROCESS_DEFAULT)
    }
}

static PROCESS_DEFAULT: Lazy<Arc<Context>> =
    Lazy::new(|| Arc::new(Context::new(format!("run_{}", uuid::Uuid::new_v4()))));

thread_local! {
    static CURRENT: RefCell<Option<Arc<Context>>> = const { RefCell::new(None) };
}

/// Makes `context` current for the duration of `f`, restoring the previous one on the way
/// out, whether `f` returns or unwinds.
fn enter<R>(context: Arc<Context>, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<Arc<Context>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            CURRENT.with(|current| *current.borrow_mut() = previous);
        }
    }
    let previous = CURRENT.with(|current| current.borrow_mut().replace(context));
    let _restore = Restore(previous);
    f()
}

pin_project_lite::pin_project! {
    /// A future that enters its [`Context`] on every poll; made by
    /// [`WithContextExt::with_context`].
    ///
    /// ```
    /// use sentinel_runtime::{Context, WithContext, WithContextExt};
    ///
    /// async fn plan() -> String {
    ///     Context::current().run_id().to_owned()
    /// }
    /// // A future to spawn on any executor; each poll runs under run-9's context.
    /// let task: WithContext<_> = plan().with_context(Context::new("run-9"));
    /// # drop(task);
    /// ```
    #[must_use = "futures do nothing unless polled"]
    pub struct WithContext<F> {
        context: Arc<Context>,
        #[pin]
        future: F,
    }
}

impl<F: Future> Future for WithContext<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        let this = self.project();
        let context = Arc::clone(this.context);
        let future = this.future;
        enter(context, || future.poll(cx))
    }
}

/// Attaches a [`Context`] to any future, for guarded `async fn`s.
///
/// The context follows the future across the threads of a multi-threaded executor because
/// it is entered on every poll, and it never leaks into other tasks because it is left
/// when each poll returns.
///
/// ```
/// use sentinel_runtime::{Context, WithContextExt};
///
/// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     let waker = std::task::Waker::noop();
/// #     let mut cx = std::task::Context::from_waker(&waker);
/// #     let mut f = std::pin::pin!(f);
/// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
/// # }
/// let run = block_on(async { Context::current().run_id().to_owned() }
///     .with_context(Context::new("run-9")));
/// assert_eq!(run, "run-9");
/// ```
pub trait WithContextExt: Future + Sized {
    /// Makes `context` current whenever this future is polled.
    fn with_context(self, context: Context) -> WithContext<Self> {
        WithContext {
            context: Arc::new(context),
            future: self,
        }
    }
}

impl<F: Future> WithContextExt for F {}
