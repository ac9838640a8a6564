//! Behaviour of `#[sentinel::guarded]` on synchronous functions, against a real loopback
//! mock sidecar: what each signature shape sends, when the body runs (only after ALLOW),
//! what a denial looks like, and how the context follows `Context::scope`.
//!
//! Every test names its own client (`client = &CLIENT`) pointing at its own mock: tests in
//! one binary share the global client, whose behaviour is tested in `tests/global.rs`.

use std::error::Error;
use std::net::TcpListener;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::LazyLock;
use std::time::Duration;

use sentinel::testing::{MockAnswer, MockRequest, MockSidecar};
use sentinel::unversioned::transport::{HttpRequest, HttpResponse};
use sentinel::TransportError;
use sentinel::{Context, Denied, FailMode, GuardDecision, SentinelClient, Verdict};
use serde::{Serialize, Serializer};
use serde_json::{json, Value};

/// Declares a mock sidecar answering by `rule` and a client pointing at it, both started on
/// first use and living as long as the test binary.
macro_rules! sidecar {
    ($mock:ident, $client:ident) => {
        sidecar!($mock, $client, |_| MockAnswer::allow());
    };
    ($mock:ident, $client:ident, $rule:expr) => {
        static $mock: LazyLock<MockSidecar> = LazyLock::new(|| MockSidecar::start($rule));
        static $client: LazyLock<SentinelClient> = LazyLock::new(|| client_of(&$mock));
    };
}

fn client_of(mock: &MockSidecar) -> SentinelClient {
    SentinelClient::builder(mock.endpoint())
        .timeout(Duration::from_secs(5))
        .build()
        .expect("a client for the mock")
}

/// The only request `mock` received.
fn only_request(mock: &MockSidecar) -> MockRequest {
    let mut requests = mock.requests();
    assert_eq!(
        requests.len(),
        1,
        "expected exactly one guard request, got {requests:#?}"
    );
    requests.remove(0)
}

/// An endpoint on 127.0.0.1 where nothing listens.
fn closed_port() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let endpoint = format!("http://{}", listener.local_addr().expect("an address"));
    drop(listener);
    endpoint
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct Receipt {
    amount: u64,
}

#[derive(Debug)]
enum PayError {
    Denied(Denied),
    Parse(std::num::ParseIntError),
}

impl From<Denied> for PayError {
    fn from(denied: Denied) -> Self {
        PayError::Denied(denied)
    }
}

impl From<std::num::ParseIntError> for PayError {
    fn from(e: std::num::ParseIntError) -> Self {
        PayError::Parse(e)
    }
}

// ---------------------------------------------------------------------------------------
// What is sent
// ---------------------------------------------------------------------------------------

#[test]
fn arguments_are_sent_by_name_with_kind_and_policy() {
    sidecar!(MOCK, CLIENT);
    static RUNS: AtomicUsize = AtomicUsize::new(0);

    #[sentinel::guarded(policy = "fintech.payments", kind = "payment", client = &CLIENT)]
    fn pay(amount: u64, from: &str, to: &str) -> Result<Receipt, PayError> {
        RUNS.fetch_add(1, Ordering::SeqCst);
        let _ = (from, to);
        Ok(Receipt { amount })
    }

    let receipt = Context::new("run-42")
        .with_provider("anthropic")
        .with_actor("agent-007", ["ops"])
        .scope(|| pay(42_000, "acct_ops", "vendor_42"))
        .unwrap();
    assert_eq!(receipt, Receipt { amount: 42_000 });
    assert_eq!(RUNS.load(Ordering::SeqCst), 1, "ALLOW runs the body once");

    let request = only_request(&MOCK);
    assert_eq!(
        request.payload,
        json!({"amount": 42_000, "from": "acct_ops", "to": "vendor_42"})
    );
    assert_eq!(request.kind, "payment");
    assert_eq!(request.policy, "fintech.payments");
    assert_eq!(request.meta, None);
    assert!(request.action_id.starts_with("act_"), "{}", request.action_id);
    assert_eq!(
        request.context,
        json!({"runId": "run-42", "provider": "anthropic", "actor": {"id": "agent-007", "roles": ["ops"]}})
    );
}

#[test]
fn kind_defaults_to_the_function_name_without_r_hash() {
    sidecar!(MOCK, CLIENT);

    #[sentinel::guarded(policy = "mail", client = &CLIENT)]
    fn send_email(to: &str) -> Result<(), Denied> {
        let _ = to;
        Ok(())
    }

    #[sentinel::guarded(policy = "files", client = &CLIENT)]
    fn r#move(from: &str, to: &str) -> Result<(), Denied> {
        let _ = (from, to);
        Ok(())
    }

    send_email("cfo@example.com").unwrap();
    r#move("a", "b").unwrap();
    let kinds: Vec<String> = MOCK.requests().into_iter().map(|r| r.kind).collect();
    assert_eq!(kinds, ["send_email", "move"]);
}

#[test]
fn raw_identifiers_mut_and_underscore_names() {
    sidecar!(MOCK, CLIENT);

    #[sentinel::guarded(policy = "p", client = &CLIENT)]
    fn transfer(r#type: &str, r#in: u8, mut count: u32, _note: Option<&str>) -> Result<u32, Denied> {
        count += u32::from(r#in);
        let _ = r#type;
        Ok(count)
    }

    assert_eq!(transfer("wire", 2, 40, None).unwrap(), 42);
    assert_eq!(
        only_request(&MOCK).payload,
        json!({"type": "wire", "in": 2, "count": 40, "_note": null}),
        "sent as the caller passed them, before the body changed anything"
    );
}

#[derive(Debug, Clone, Serialize)]
struct Wallet {
    owner: String,
    balance: u64,
}

impl Wallet {
    #[sentinel::guarded(policy = "p", client = &WALLET_CLIENT)]
    fn peek(&self, account: &str) -> Result<u64, Denied> {
        let _ = account;
        Ok(self.balance)
    }

    #[sentinel::guarded(policy = "p", client = &WALLET_CLIENT)]
    fn spend(&mut self, amount: u64) -> Result<u64, Denied> {
        self.balance -= amount;
        Ok(self.balance)
    }

    #[sentinel::guarded(policy = "p", client = &WALLET_CLIENT)]
    fn close(self, reason: &str) -> Result<String, Denied> {
        let _ = reason;
        Ok(self.owner)
    }

    #[sentinel::guarded(policy = "p", client = &WALLET_CLIENT)]
    #[allow(clippy::boxed_local)] // the point is the `self: Box<Self>` receiver
    fn close_boxed(self: Box<Self>, fee: u64) -> Result<u64, Denied> {
        Ok(self.balance - fee)
    }

    #[sentinel::guarded(policy = "p", client = &WALLET_CLIENT, id = format!("{}-{memo}", self.owner))]
    fn tagged(&self, memo: &str) -> Result<(), Denied> {
        let _ = memo;
        Ok(())
    }

    #[sentinel::guarded(policy = "p", client = &WALLET_CLIENT)]
    fn open(owner: &str) -> Result<Self, Denied> {
        Ok(Wallet {
            owner: owner.into(),
            balance: 0,
        })
    }
}

sidecar!(WALLET_MOCK, WALLET_CLIENT);

#[test]
fn receivers_are_never_sent() {
    let mut wallet = Wallet {
        owner: "ops".into(),
        balance: 10,
    };
    assert_eq!(wallet.peek("acct_1").unwrap(), 10);
    assert_eq!(wallet.spend(3).unwrap(), 7);
    assert_eq!(Box::new(wallet.clone()).close_boxed(1).unwrap(), 6);
    assert_eq!(wallet.close("done").unwrap(), "ops");
    assert_eq!(Wallet::open("new").unwrap().owner, "new");
    Wallet::open("x").unwrap().tagged("memo").unwrap();
    let tagged = WALLET_MOCK.requests().pop().expect("the last request");
    assert_eq!(tagged.action_id, "x-memo", "attribute expressions can use `self`");
    assert_eq!(tagged.payload, json!({"memo": "memo"}));
    let payloads: Vec<(String, Value)> = WALLET_MOCK
        .requests()
        .into_iter()
        .map(|r| (r.kind, r.payload))
        .collect();
    assert_eq!(
        payloads,
        [
            // A method's default kind is `type.method`; `open` has no receiver, so no `Self`.
            ("wallet.peek".to_owned(), json!({"account": "acct_1"})),
            ("wallet.spend".to_owned(), json!({"amount": 3})),
            ("wallet.close_boxed".to_owned(), json!({"fee": 1})),
            ("wallet.close".to_owned(), json!({"reason": "done"})),
            ("open".to_owned(), json!({"owner": "new"})),
            ("open".to_owned(), json!({"owner": "x"})),
            ("wallet.tagged".to_owned(), json!({"memo": "memo"})),
        ]
    );
}

trait Tool {
    fn call(&self, input: &str) -> Result<String, Denied>;
}

struct Upper;

impl Tool for Upper {
    #[sentinel::guarded(policy = "tools", kind = "upper", client = &TOOL_CLIENT)]
    fn call(&self, input: &str) -> Result<String, Denied> {
        Ok(input.to_uppercase())
    }
}

sidecar!(TOOL_MOCK, TOOL_CLIENT);

#[test]
fn trait_impl_methods_through_dyn() {
    let tool: &dyn Tool = &Upper;
    assert_eq!(tool.call("abc").unwrap(), "ABC");
    let request = only_request(&TOOL_MOCK);
    assert_eq!(
        (request.kind.as_str(), request.payload),
        ("upper", json!({"input": "abc"}))
    );
}

#[test]
fn generics_lifetimes_and_impl_trait() {
    sidecar!(MOCK, CLIENT);

    #[sentinel::guarded(policy = "p", client = &CLIENT)]
    fn tag<'a, T>(item: T, tags: &'a [&'a str], note: impl Serialize) -> Result<&'a str, Denied>
    where
        T: Serialize + Clone,
    {
        let _ = (item, note);
        Ok(tags[0])
    }

    assert_eq!(tag(Receipt { amount: 5 }, &["a", "b"], ("x", 1)).unwrap(), "a");
    assert_eq!(
        only_request(&MOCK).payload,
        json!({"item": {"amount": 5}, "tags": ["a", "b"], "note": ["x", 1]})
    );
}

struct Db;

#[test]
fn every_option_together() {
    sidecar!(MOCK, CLIENT);

    #[sentinel::guarded(
        policy = "fintech.payments",
        kind = "payment",
        skip(db),
        rename(to = "recipient", r#type = "method"),
        fields(currency = "USD", live = true, retries = 3, ratio = -0.5, big = 9007199254740991, "x-source" = "agent"),
        meta(source = "planner", version = 2),
        id = format!("pay-{invoice}"),
        client = &CLIENT,
        context = ctx,
    )]
    fn pay(db: &Db, ctx: &Context, invoice: u64, amount: u64, to: &str, r#type: &str) -> Result<u64, Denied> {
        let _ = (db, to, r#type);
        Ok(amount)
    }

    let ctx = Context::new("run-from-parameter");
    let amount = Context::new("run-in-scope").scope(|| pay(&Db, &ctx, 7, 100, "vendor_42", "wire"));
    assert_eq!(amount.unwrap(), 100);
    let request = only_request(&MOCK);
    assert_eq!(
        request.payload,
        json!({
            "invoice": 7,
            "amount": 100,
            "recipient": "vendor_42",
            "method": "wire",
            "currency": "USD",
            "live": true,
            "retries": 3,
            "ratio": -0.5,
            "big": 9007199254740991u64,
            "x-source": "agent",
        })
    );
    assert_eq!(request.meta, Some(json!({"source": "planner", "version": 2})));
    assert_eq!(request.action_id, "pay-7");
    assert_eq!(request.kind, "payment");
    assert_eq!(
        request.run_id, "run-from-parameter",
        "the context parameter wins over the scope"
    );
}

#[test]
fn context_and_client_parameters_are_used_and_not_sent() {
    sidecar!(MOCK, CLIENT);

    #[sentinel::guarded(policy = "p", client = client, context = ctx)]
    fn by_value(client: &SentinelClient, ctx: Context, n: u8) -> Result<u8, Denied> {
        let _ = ctx;
        Ok(n)
    }

    assert_eq!(by_value(&CLIENT, Context::new("run-by-value"), 3).unwrap(), 3);
    let request = only_request(&MOCK);
    assert_eq!(request.payload, json!({"n": 3}));
    assert_eq!(request.run_id, "run-by-value");
}

#[test]
fn each_call_has_a_fresh_action_id_and_id_can_use_arguments() {
    sidecar!(MOCK, CLIENT);

    #[sentinel::guarded(policy = "p", client = &CLIENT)]
    fn fresh(n: u8) -> Result<u8, Denied> {
        Ok(n)
    }

    #[sentinel::guarded(policy = "p", client = &CLIENT, id = key)]
    fn keyed(key: u64) -> Result<u64, Denied> {
        Ok(key)
    }

    // `id = key` borrows the argument: the body still owns it.
    #[sentinel::guarded(policy = "p", client = &CLIENT, id = key, skip(key))]
    fn owned(key: String) -> Result<String, Denied> {
        Ok(key)
    }

    fresh(1).unwrap();
    fresh(1).unwrap();
    keyed(99).unwrap();
    assert_eq!(owned("idem-7".to_owned()).unwrap(), "idem-7");
    let ids: Vec<String> = MOCK.requests().into_iter().map(|r| r.action_id).collect();
    assert_eq!(ids.len(), 4);
    assert_ne!(ids[0], ids[1]);
    for id in &ids[..2] {
        assert!(id.starts_with("act_") && id.len() == 40, "{id}");
    }
    assert_eq!(ids[2], "99");
    assert_eq!(ids[3], "idem-7");
}

// ---------------------------------------------------------------------------------------
// When the body runs
// ---------------------------------------------------------------------------------------

#[test]
fn block_never_runs_the_body_and_explains_why() {
    sidecar!(MOCK, CLIENT, |request| if request.payload["to"] == "acct_evil" {
        MockAnswer::block("sanctioned counterparty")
    } else {
        MockAnswer::allow()
    });
    static RUNS: AtomicUsize = AtomicUsize::new(0);

    #[sentinel::guarded(policy = "fintech.payments", kind = "payment", client = &CLIENT)]
    fn pay(amount: u64, to: &str) -> Result<Receipt, PayError> {
        RUNS.fetch_add(1, Ordering::SeqCst);
        let _ = to;
        Ok(Receipt { amount })
    }

    let Err(PayError::Denied(denied)) = pay(5, "acct_evil") else {
        panic!("a BLOCK must be an error");
    };
    assert_eq!(RUNS.load(Ordering::SeqCst), 0, "the body must not run on BLOCK");
    assert_eq!(denied.verdict(), Verdict::Block);
    assert_eq!(denied.reason(), "sanctioned counterparty");
    assert!(
        denied.record_id().is_some_and(|id| id.starts_with("rec_")),
        "{:?}",
        denied.record_id()
    );
    assert_eq!(denied.escalation_id(), None);
    assert!(!denied.is_escalated());
    assert!(!denied.is_fallback());
    assert_eq!(denied.kind(), "payment");
    assert_eq!(denied.policy(), "fintech.payments");
    assert_eq!(
        denied.to_string(),
        "sentinel BLOCK payment under fintech.payments: sanctioned counterparty"
    );

    pay(5, "vendor_42").unwrap();
    assert_eq!(RUNS.load(Ordering::SeqCst), 1, "ALLOW runs the body exactly once");
}

#[test]
fn escalate_never_runs_the_body() {
    sidecar!(MOCK, CLIENT, |_| MockAnswer::escalate(
        "amount over the daily limit"
    ));
    static RUNS: AtomicUsize = AtomicUsize::new(0);

    #[sentinel::guarded(policy = "fintech.payments", kind = "payment", client = &CLIENT)]
    fn pay(amount: u64) -> Result<u64, Denied> {
        RUNS.fetch_add(1, Ordering::SeqCst);
        Ok(amount)
    }

    let denied = pay(1_000_000).unwrap_err();
    assert_eq!(RUNS.load(Ordering::SeqCst), 0);
    assert_eq!(denied.verdict(), Verdict::Escalate);
    assert!(denied.is_escalated());
    assert!(
        denied.escalation_id().is_some_and(|id| id.starts_with("esc_")),
        "{denied:?}"
    );
    assert_eq!(
        denied.to_string(),
        "sentinel ESCALATE payment under fintech.payments: amount over the daily limit"
    );
}

#[test]
fn unreachable_sidecar_fails_closed() {
    static CLIENT: LazyLock<SentinelClient> = LazyLock::new(|| {
        SentinelClient::builder(closed_port())
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap()
    });
    static RUNS: AtomicUsize = AtomicUsize::new(0);

    #[sentinel::guarded(policy = "fintech.payments", kind = "payment", client = &CLIENT)]
    fn pay(amount: u64) -> Result<u64, Box<dyn Error + Send + Sync>> {
        RUNS.fetch_add(1, Ordering::SeqCst);
        Ok(amount)
    }

    let error = pay(5).unwrap_err();
    assert_eq!(RUNS.load(Ordering::SeqCst), 0);
    let denied = error
        .downcast_ref::<Denied>()
        .expect("the boxed error is the Denied");
    assert!(denied.is_fallback());
    assert_eq!(denied.verdict(), Verdict::Block);
    assert_eq!(denied.record_id(), None);
    assert_eq!(
        denied.decision().checks()[0].check,
        GuardDecision::TRANSPORT_CHECK
    );
    assert!(
        error
            .to_string()
            .starts_with("sentinel BLOCK payment under fintech.payments: sentinel sidecar unreachable"),
        "{error}"
    );
}

#[test]
fn fail_open_fallback_runs_the_body() {
    static CLIENT: LazyLock<SentinelClient> = LazyLock::new(|| {
        SentinelClient::builder(closed_port())
            .fail_mode(FailMode::Open)
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap()
    });
    static RUNS: AtomicUsize = AtomicUsize::new(0);

    #[sentinel::guarded(policy = "telemetry", client = &CLIENT)]
    fn record(event: &str) -> Result<(), Denied> {
        RUNS.fetch_add(1, Ordering::SeqCst);
        let _ = event;
        Ok(())
    }

    record("tick").unwrap();
    assert_eq!(
        RUNS.load(Ordering::SeqCst),
        1,
        "an explicit fail-open fallback lets the body run"
    );
}

#[test]
fn transport_failures_never_run_the_body() {
    static BROKEN: LazyLock<SentinelClient> = LazyLock::new(|| {
        SentinelClient::builder("http://127.0.0.1:9")
            .transport(|_: &HttpRequest| {
                Err(TransportError::Io(std::io::Error::other(
                    "connection reset by peer",
                )))
            })
            .build()
            .unwrap()
    });
    static MALFORMED: LazyLock<SentinelClient> = LazyLock::new(|| {
        SentinelClient::builder("http://127.0.0.1:9")
            .transport(|_: &HttpRequest| Ok(HttpResponse::new(200, r#"{"verdict":"allow"}"#)))
            .build()
            .unwrap()
    });
    static PANICKING: LazyLock<SentinelClient> = LazyLock::new(|| {
        SentinelClient::builder("http://127.0.0.1:9")
            .transport(|_: &HttpRequest| -> Result<HttpResponse, TransportError> { panic!("transport bug") })
            .build()
            .unwrap()
    });
    static RUNS: AtomicUsize = AtomicUsize::new(0);

    #[sentinel::guarded(policy = "p", client = client)]
    fn act(client: &SentinelClient, n: u8) -> Result<u8, Denied> {
        RUNS.fetch_add(1, Ordering::SeqCst);
        Ok(n)
    }

    for (client, expected) in [
        (&*BROKEN, "connection reset by peer"),
        (&*MALFORMED, "malformed decision"),
        (&*PANICKING, "transport panicked: transport bug"),
    ] {
        let denied = act(client, 1).unwrap_err();
        assert!(denied.is_fallback(), "{denied:?}");
        assert_eq!(denied.verdict(), Verdict::Block);
        assert!(
            denied.reason().contains(expected),
            "{expected:?} not in {:?}",
            denied.reason()
        );
    }
    assert_eq!(RUNS.load(Ordering::SeqCst), 0);
}

/// Serializes to an error, like a map with non-string keys would.
struct Unserializable;

impl Serialize for Unserializable {
    fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom("secret handles cannot be serialized"))
    }
}

#[test]
fn an_argument_that_fails_to_serialize_is_a_denial() {
    sidecar!(MOCK, CLIENT);
    static RUNS: AtomicUsize = AtomicUsize::new(0);

    #[sentinel::guarded(policy = "p", kind = "upload", client = &CLIENT)]
    fn upload(name: &str, handle: Unserializable) -> Result<(), Denied> {
        RUNS.fetch_add(1, Ordering::SeqCst);
        let _ = (name, handle);
        Ok(())
    }

    let denied = upload("report.pdf", Unserializable).unwrap_err();
    assert_eq!(RUNS.load(Ordering::SeqCst), 0);
    assert!(denied.is_fallback());
    assert_eq!(denied.verdict(), Verdict::Block);
    assert!(
        denied
            .reason()
            .contains("argument `handle` cannot be sent to the sidecar: secret handles cannot be serialized"),
        "{}",
        denied.reason()
    );
    assert!(MOCK.requests().is_empty(), "what cannot be described is not sent");
}

#[test]
fn return_and_question_mark_in_the_body_behave_as_written() {
    sidecar!(MOCK, CLIENT);
    static RUNS: AtomicUsize = AtomicUsize::new(0);

    #[sentinel::guarded(policy = "p", client = &CLIENT)]
    fn parse(text: &str) -> Result<u32, PayError> {
        RUNS.fetch_add(1, Ordering::SeqCst);
        if text.is_empty() {
            return Ok(0);
        }
        let text = text.trim();
        let value: u32 = text.parse()?;
        Ok(value * 2)
    }

    assert_eq!(parse("").unwrap(), 0);
    assert_eq!(parse(" 21 ").unwrap(), 42);
    assert!(
        matches!(parse("x"), Err(PayError::Parse(e)) if e.to_string() == "invalid digit found in string")
    );
    assert_eq!(RUNS.load(Ordering::SeqCst), 3);
    assert_eq!(MOCK.requests().len(), 3);
}

#[test]
fn denied_converts_into_the_functions_error_type() {
    sidecar!(MOCK, CLIENT, |_| MockAnswer::block("no"));

    #[sentinel::guarded(policy = "p", kind = "k", client = &CLIENT)]
    fn boxed(n: u8) -> Result<u8, Box<dyn Error + Send + Sync>> {
        Ok(n)
    }

    #[sentinel::guarded(policy = "p", kind = "k", client = &CLIENT)]
    fn custom(n: u8) -> Result<u8, PayError> {
        Ok(n)
    }

    assert_eq!(boxed(1).unwrap_err().to_string(), "sentinel BLOCK k under p: no");
    assert!(matches!(custom(1), Err(PayError::Denied(d)) if d.reason() == "no"));
}

// ---------------------------------------------------------------------------------------
// Context scoping
// ---------------------------------------------------------------------------------------

#[test]
fn scopes_on_many_threads_each_send_their_own_run() {
    sidecar!(MOCK, CLIENT);

    #[sentinel::guarded(policy = "p", client = &CLIENT)]
    fn act(thread: usize, round: usize) -> Result<(), Denied> {
        let _ = (thread, round);
        Ok(())
    }

    const THREADS: usize = 8;
    const ROUNDS: usize = 4;
    std::thread::scope(|s| {
        for thread in 0..THREADS {
            s.spawn(move || {
                Context::new(format!("run-{thread}")).scope(|| {
                    for round in 0..ROUNDS {
                        act(thread, round).unwrap();
                    }
                });
            });
        }
    });
    let requests = MOCK.requests();
    assert_eq!(requests.len(), THREADS * ROUNDS);
    for request in requests {
        assert_eq!(
            request.run_id,
            format!("run-{}", request.payload["thread"]),
            "{request:?}"
        );
    }
}

#[test]
fn nested_scopes_are_restored() {
    sidecar!(MOCK, CLIENT);

    #[sentinel::guarded(policy = "p", client = &CLIENT)]
    fn act(step: u8) -> Result<(), Denied> {
        let _ = step;
        Ok(())
    }

    Context::new("run-outer").scope(|| {
        act(1).unwrap();
        Context::new("run-inner").scope(|| act(2)).unwrap();
        act(3).unwrap();
    });
    act(4).unwrap();
    let runs: Vec<String> = MOCK.requests().into_iter().map(|r| r.run_id).collect();
    let default = Context::process_default().run_id().to_owned();
    assert!(default.starts_with("run_"), "{default}");
    assert_eq!(runs, ["run-outer", "run-inner", "run-outer", default.as_str()]);
}

#[test]
fn the_scope_is_restored_after_a_panic() {
    sidecar!(MOCK, CLIENT);

    #[sentinel::guarded(policy = "p", client = &CLIENT)]
    fn act(step: u8) -> Result<(), Denied> {
        if step == 2 {
            panic!("tool bug");
        }
        Ok(())
    }

    Context::new("run-outer").scope(|| {
        let panicked = catch_unwind(AssertUnwindSafe(|| Context::new("run-panics").scope(|| act(2))));
        assert!(panicked.is_err());
        act(3).unwrap();
    });
    let runs: Vec<String> = MOCK.requests().into_iter().map(|r| r.run_id).collect();
    assert_eq!(runs, ["run-panics", "run-outer"]);
}
