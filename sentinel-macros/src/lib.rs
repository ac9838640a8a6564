//! The `#[sentinel::guarded]` attribute. Use it through the `sentinel` crate, which
//! re-exports it and provides everything the generated code names.
//!
//! Layout, staged as thiserror-impl's (types → parse → validate → expand), each stage a
//! file that imports only the stages before it: `options` is the table of option names and
//! `ast` the typed view of the attribute (both leaves); `args` reads the attribute into
//! `ast` entries (the grammar, judging nothing); `valid` checks each value and key (with
//! `escalate` for `on_escalate`, `duration` reading literal timeouts and `literal` typing
//! constants); `signature` reads the function (and `async_trait` recognises an
//! `#[async_trait]` method); `check` checks the options against the signature and decides
//! what is sent; `expand` runs parse, validate, check and then generates the guarded
//! function (its module documentation shows an expansion, held to the real output by a
//! test). Every problem is reported at once, each on its own token, and the function is
//! emitted unchanged beside the errors.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

use proc_macro::TokenStream;

mod args;
mod ast;
mod async_trait;
mod check;
mod crate_name;
mod duration;
mod errors;
mod escalate;
mod expand;
mod literal;
mod options;
mod signature;
mod valid;

/// Runs a function only after the Sentinel sidecar said `ALLOW` for exactly the arguments
/// it was called with.
///
/// ```no_run
/// use sentinel::{Context, Denied, SentinelClient};
/// # struct Receipt;
/// # mod bank {
/// #     pub fn transfer(_: u64, _: &str, _: &str) -> Result<super::Receipt, String> { Ok(super::Receipt) }
/// # }
///
/// #[derive(Debug)]
/// enum PayError { Denied(Denied), Bank(String) }
/// impl From<Denied> for PayError {
///     fn from(denied: Denied) -> Self { PayError::Denied(denied) }
/// }
///
/// /// Moves money between accounts.
/// #[sentinel::guarded(policy = "fintech.payments", kind = "payment")]
/// fn pay(amount: u64, from: &str, to: &str) -> Result<Receipt, PayError> {
///     bank::transfer(amount, from, to).map_err(PayError::Bank)
/// }
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// sentinel::init(SentinelClient::builder("http://localhost:4000").build()?)?;
/// let ctx = Context::new("run-42").with_provider("anthropic").with_actor("agent-007", ["ops"]);
/// let receipt = ctx.scope(|| pay(42_000, "acct_ops", "vendor_42"));
/// # Ok(())
/// # }
/// ```
///
/// Each call sends the sidecar a guard request: an action whose `type` is `kind`, whose
/// `id` is a fresh `act_<uuid>` and whose `payload` is the arguments by name
/// (`{"amount": 42000, "from": "acct_ops", "to": "vendor_42"}`), the current context (the
/// `sentinel::Context` in scope, see `Context::scope`) and the policy. On `ALLOW` the body
/// runs.
/// On `BLOCK`, `ESCALATE`, or when no trustworthy answer can be had (no client configured,
/// sidecar down or slow, an argument that fails to serialize), the function returns
/// `Err(E::from(denied))` and **the body does not run**. With
/// `on_escalate = wait(timeout = "10m")`, an `ESCALATE` instead waits up to that long for a
/// human's answer (see [Waiting for a human](#waiting-for-a-human)).
///
/// # Requirements
///
/// - The function returns `Result<T, E>` with `E: From<sentinel::Denied>`. The return type
///   is recognised by name: `Result<T, E>`, `std::result::Result<T, E>`, `io::Result<T>`,
///   `anyhow::Result<T>` and any alias whose name ends in `Result` (`ApiResult<T>`) work.
///   A function returning a future is written as an `async fn`. `anyhow::Error`,
///   `Box<dyn Error + Send + Sync>`, `std::io::Error` (a `PermissionDenied` error carrying
///   the `Denied`) and `sentinel::Denied` itself already implement `From<Denied>`. A
///   foreign error type such as `String` cannot be given one (the orphan rule): return one
///   of these, or your own error type with a variant for the `Denied`.
/// - Every sent parameter implements `serde::Serialize`, and has a plain name (`amount`,
///   `mut amount`, `_amount`, `r#type`). Parameters are sent under their name without `r#`
///   (`r#type` is sent as `"type"`). The receiver (`self`, `&self`, `&mut self`,
///   `self: Box<Self>`) is never sent.
/// - A pattern parameter (`Parameters(req): Parameters<Req>`, `Json(body): Json<T>`,
///   `(a, b): (u8, u8)`) has no name to be sent under: name one of its bindings in
///   `payload = req` (its value is the payload) or in `skip(…)` (the parameter is not sent).
/// - A parameter that holds a `sentinel::Context` or a `SentinelClient` must be given its
///   role (`context = ctx`, `client = client`) or be skipped: sent as an argument it would
///   be silently ignored in that role, so it is a compile error. This is decided by the
///   parameter's type, not by how it is spelt: an alias, `&Context`, `Option<&Context>`,
///   `Box<Context>`, `Arc<Context>` are all caught, and a type of your own that is also
///   called `Context` is sent like any other argument.
/// - Everything else is left as written: visibility, generics, lifetimes, `where` clauses,
///   `impl Trait` parameters, other attributes, doc comments, methods and trait
///   implementations. The body is untouched, so `return` and `?` behave as before.
/// - Methods of `#[async_trait]` impls work as `async fn`s do (async_trait rewrites the
///   method first; the guard runs inside its future, after the parameters are bound).
/// - Apply the attribute once: a second `#[guarded]` on the same function is an error
///   (each call would ask twice).
/// - `async fn` works with any executor: the request runs on a small thread pool and the
///   guard is awaited, so the executor thread is never blocked. Attach a context to a
///   future with `WithContextExt::with_context`.
///
/// # Options
///
/// | option | meaning |
/// |---|---|
/// | `policy = "name"` | **Required.** The policy the sidecar checks the call under. |
/// | `kind = "type"` | The action type; default: the function's name, or for a method (a function with a `self` receiver) `type.method`, the `Self` type's name in snake_case without its path or generics (`"send_email.call"` for `impl Tool for SendEmail { fn call(&self, …) }`; in a trait's default method, the implementing type). |
/// | `payload = param` | That one parameter (a struct with named fields, or a map) *is* the payload: its members are sent at the top level; every other parameter must be skipped or have a role, and `fields(…)` is not combined with it (a constant could repeat a member, which only run time would see: add it to the type, or to `meta(…)`). Also a binding inside a pattern parameter. A value that serializes to anything but an object is denied. |
/// | `skip(a, b)` | Parameters not sent (for example a database handle). |
/// | `rename(a = "name")` | Sends parameter `a` under another name. |
/// | `fields(key = literal, …)` | Constant members added to the payload: strings, numbers, bools. |
/// | `meta(key = literal, …)` | `action.meta`: annotations kept in provenance, not evaluated. |
/// | `id = expr` | The action id instead of a fresh one, e.g. an idempotency key. Any `impl ToString`; evaluated before the body, with the parameters in scope. |
/// | `client = expr` | A specific client instead of the global one set by `sentinel::init`: `&SentinelClient`, `&&SentinelClient`, `&Lazy<SentinelClient>`, `&Arc<SentinelClient>`, or a client parameter by name (which is then not sent). |
/// | `context = param` | Takes the context from a parameter (not sent) instead of the one in scope: its type is `Context`, `&Context`, `Box<Context>`, `Arc<Context>`, `Rc<Context>` (under any alias) or an `Option` of one, whose `None` means the context in scope. |
/// | `on_escalate = wait(timeout = "10m")` | On `ESCALATE`, waits at most `timeout` for a human's answer and runs the body only if approved. Units: `ms`, `s`, `m`, `h` (`"500ms"`, `"30s"`, `"10m"`, `"1h"`). `timeout = expr` instead takes a `Duration` (or `Option<Duration>`) evaluated at each call; a parameter named there is not sent. |
/// | `on_escalate = deny` | The default, written out: `ESCALATE` returns `Err` at once, the escalation left pending. |
/// | `receipt` / `receipt = expr` | Receipt mode (feature `verify`, a sidecar with `--protocol`): the body runs inside `sentinel::adjudication::ReceiptClient::execute` — only on a signed, single-use receipt the sidecar validated for the digest of these very arguments, exactly once, and its execution (status and result digest) is signed and reported. The action is `kind`, run by the function's module path and name, for the context's actor. `receipt` uses the client installed by `sentinel::adjudication::init`; `receipt = expr` a `&ReceiptClient` (a parameter named there is not sent). The function must be a plain `fn` returning `Result<T, E>` with `T: Serialize` and `E: From<Denied> + Display`; not combined with `client`, `id`, `meta` or `on_escalate`. |
/// | `crate = path` | Where the `sentinel` crate is, when your code does not call it `sentinel`: a renamed dependency (`gate = { package = "montanalabs-sentinel", … }` → `crate = gate`) or a framework's re-export (`crate = my_framework::sentinel`, or `crate = $crate::sentinel` inside the framework's own `macro_rules!`). A string (`crate = "gate"`) works too, as for serde and tokio. Without `crate =`, a crate that links the facade under one other name (a renamed dependency, built by cargo) is understood without it; a re-export needs it. |
///
/// # What "exactly the arguments" means
///
/// The payload is serialized once, before the request, from the arguments as the body will
/// receive them (by reference: nothing is moved or cloned), and the call is denied, with
/// the body not run and nothing sent, whenever that serialization could let the sidecar
/// judge something other than what the body gets:
///
/// - a key written twice in one object at any depth (a `#[serde(flatten)]` map repeating a
///   field: `serde_json::to_value` would keep the last one, the body reads the other);
/// - `NaN` or an infinity anywhere (JSON has neither; serde_json would send `null`);
/// - arrays and objects nested more than 64 levels deep (refused before the recursion goes
///   deeper, so no argument can overflow the stack);
/// - a `Serialize` implementation that returns an error or panics (the panic is caught; its
///   message still goes to the panic hook; under `panic = "abort"` nothing can be caught);
/// - integers beyond 64 bits, and map keys that are not strings, integers, chars or bools.
///
/// What is judged is the value at the moment of serialization. An argument with interior
/// mutability (`Cell`, `RefCell`, `Mutex`, atomics, or a handle to shared state) can be
/// changed by other code between the sidecar's `ALLOW` and the body reading it; guard only
/// what the body will use as it was sent, or copy it into a plain value first.
///
/// Every option is checked at compile time: unknown or repeated options, a missing or
/// non-string `policy`, `skip`/`rename`/`context` naming no parameter, two payload
/// members with the same name, and an `on_escalate` that is not `deny` or
/// `wait(timeout = …)` with a positive literal timeout of a known unit (or an expression)
/// are errors on the offending token.
///
/// # Waiting for a human
///
/// A policy can answer `ESCALATE`: the action is held until someone on the escalation's
/// approver list resolves it (`SentinelClient::resolve`, or the sidecar's own UI). By
/// default the call returns at once with a `Denied` whose `escalation_id()` names the
/// escalation, so an agent can report it and resume later. With `on_escalate = wait(…)`
/// the call waits instead, polling the sidecar with backoff (100 ms doubling to 5 s):
///
/// - approved: the body runs, once;
/// - denied: `Err`, verdict `BLOCK`, the body does not run;
/// - still pending at the timeout, or the sidecar failing while polled: `Err`, a fallback
///   `BLOCK` (whatever the fail mode: "nobody said yes" is never a yes), the body does not
///   run, and the escalation stays pending for a human to pick up later; the `Denied`
///   still carries its `escalation_id()`.
///
/// Waiting is always bounded: there is no `wait` without a timeout, and a literal timeout
/// of zero is an error (write `deny`). A per-call timeout is any expression of type
/// `Duration`, `&Duration` or `Option<Duration>`, evaluated with the parameters in scope
/// before the request; `None` or a zero `Duration` means "do not wait" (the `ESCALATE` is
/// returned at once, as with `deny`). When that expression is a parameter's name, the
/// parameter is not sent, like a `client` or `context` parameter: how long the caller will
/// wait is not part of the action. A sync function blocks its thread while it waits; an
/// `async fn` waits on the guard thread pool, so the executor keeps running other tasks
/// (each waiting call holds one of the pool's threads, at most 256; guards beyond that
/// queue until one is free).
///
/// ```
/// use std::time::Duration;
/// # use sentinel::Denied as PayError;
/// # struct Receipt;
///
/// #[sentinel::guarded(policy = "fintech.payments", kind = "payment", on_escalate = wait(timeout = "10m"))]
/// async fn pay(amount: u64, to: &str) -> Result<Receipt, PayError> {
///     /* … */
/// #   Ok(Receipt)
/// }
///
/// // The caller decides: an interactive agent waits, a batch job does not.
/// #[sentinel::guarded(policy = "fintech.payments", on_escalate = wait(timeout = patience))]
/// fn refund(amount: u64, patience: Option<Duration>) -> Result<(), PayError> {
///     /* … */
/// #   Ok(())
/// }
/// // payload: {"amount": …}; refund(5, Some(Duration::from_secs(60))) waits up to a minute
/// ```
///
/// ```
/// use std::sync::LazyLock;
/// use sentinel::{Context, Denied, SentinelClient};
/// # struct Receipt;
/// # struct Db;
/// # impl Db {
/// #     async fn pay(&self, _: u64, _: u64, _: &str) -> Receipt { Receipt }
/// # }
///
/// static BILLING: LazyLock<SentinelClient> =
///     LazyLock::new(|| SentinelClient::builder("http://127.0.0.1:4001").build().unwrap());
///
/// #[sentinel::guarded(
///     policy = "fintech.payments",
///     kind = "payment",
///     skip(db),                          // a connection is not an argument of the action
///     rename(to = "recipient"),          // sent as "recipient"
///     fields(currency = "USD", live = true),
///     meta(source = "planner"),
///     id = format!("pay-{invoice}"),     // an idempotency key built from an argument
///     client = &BILLING,
///     context = ctx,                     // taken from this parameter, not sent
/// )]
/// async fn pay_invoice(
///     db: &Db,
///     ctx: &Context,
///     invoice: u64,
///     amount: u64,
///     to: &str,
/// ) -> Result<Receipt, Denied> {
///     Ok(db.pay(invoice, amount, to).await)
/// }
/// // payload: {"invoice": …, "amount": …, "recipient": …, "currency": "USD", "live": true}
/// ```
///
/// Methods work the same way:
///
/// ```
/// # struct Wallet { balance: u64 }
/// impl Wallet {
///     #[sentinel::guarded(policy = "fintech.payments", kind = "payment", rename(r#type = "method"))]
///     pub(crate) fn send(&mut self, amount: u64, r#type: &str) -> std::io::Result<()> {
///         self.balance -= amount; // self is never sent
///         Ok(())
///     }
///
///     // Without `kind`, a method sends "wallet.refund": the type's name, then the method's.
///     #[sentinel::guarded(policy = "fintech.payments")]
///     fn refund(&mut self, amount: u64) -> Result<(), sentinel::Denied> {
///         self.balance += amount;
///         Ok(())
///     }
/// }
/// ```
///
/// One struct parameter as the whole payload, as agent-tool frameworks pass arguments
/// (rmcp's `Parameters<T>`, axum's `Json<T>`):
///
/// ```
/// use serde::Serialize;
/// # struct Parameters<T>(T);
///
/// #[derive(Serialize)]
/// struct Transfer { to: String, amount: u64 }
///
/// // payload: {"to": …, "amount": …}, the members at the top level, not {"req": {…}}
/// #[sentinel::guarded(policy = "fintech.payments", kind = "payment", payload = req)]
/// async fn pay(Parameters(req): Parameters<Transfer>) -> Result<u64, sentinel::Denied> {
///     Ok(req.amount)
/// }
/// ```
#[proc_macro_attribute]
pub fn guarded(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::guarded(args.into(), item.into()).into()
}
