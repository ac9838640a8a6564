//! What `#[sentinel::guarded]` sends as the payload, against a real loopback mock sidecar:
//! `payload = param` (one argument's members at the top level), pattern parameters, the
//! default `kind` of a method, and arguments the sidecar could be fooled by (a repeated key,
//! NaN, deep nesting, a panicking `Serialize`), each of which is denied with the body never
//! run and nothing sent.
//!
//! Every test names its own client (`client = &CLIENT`) pointing at its own mock.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::LazyLock;
use std::time::Duration;

use sentinel::testing::{MockAnswer, MockRequest, MockSidecar};
use sentinel::{Denied, SentinelClient, Verdict};
use serde::{Serialize, Serializer};
use serde_json::json;

macro_rules! sidecar {
    ($mock:ident, $client:ident) => {
        static $mock: LazyLock<MockSidecar> = LazyLock::new(|| MockSidecar::start(|_| MockAnswer::allow()));
        static $client: LazyLock<SentinelClient> = LazyLock::new(|| {
            SentinelClient::builder($mock.endpoint())
                .timeout(Duration::from_secs(5))
                .build()
                .expect("a client for the mock")
        });
    };
}

fn only_request(mock: &MockSidecar) -> MockRequest {
    let mut requests = mock.requests();
    assert_eq!(requests.len(), 1, "expected one guard request, got {requests:#?}");
    requests.remove(0)
}

/// A denial made up by the client (nothing was asked), whose reason contains `expected`.
fn assert_refused(denied: &Denied, expected: &str) {
    assert!(denied.is_fallback(), "{denied:?}");
    assert_eq!(denied.verdict(), Verdict::Block);
    assert!(
        denied.reason().contains(expected),
        "{expected:?} not in {:?}",
        denied.reason()
    );
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime")
}

#[derive(Debug, Clone, Serialize)]
struct Transfer {
    to: String,
    amount: u64,
}

#[test]
fn payload_param_sends_its_members_at_the_top_level() {
    sidecar!(MOCK, CLIENT);

    #[sentinel::guarded(policy = "fintech.payments", kind = "payment", client = &CLIENT, fields(currency = "USD"))]
    fn pay(req: Transfer) -> Result<u64, Denied> {
        Ok(req.amount)
    }

    let transfer = Transfer {
        to: "vendor_42".into(),
        amount: 5,
    };
    assert_eq!(pay(transfer).unwrap(), 5);
    // The default: the argument under its name.
    assert_eq!(
        only_request(&MOCK).payload,
        json!({"req": {"to": "vendor_42", "amount": 5}, "currency": "USD"})
    );

    sidecar!(FLAT_MOCK, FLAT_CLIENT);

    #[sentinel::guarded(policy = "fintech.payments", kind = "payment", client = &FLAT_CLIENT, payload = req)]
    fn pay_flat(req: Transfer) -> Result<u64, Denied> {
        Ok(req.amount)
    }

    let transfer = Transfer {
        to: "vendor_42".into(),
        amount: 5,
    };
    assert_eq!(pay_flat(transfer).unwrap(), 5);
    assert_eq!(
        only_request(&FLAT_MOCK).payload,
        json!({"to": "vendor_42", "amount": 5})
    );
}

#[test]
fn payload_param_may_be_a_map_and_skips_other_parameters() {
    sidecar!(MOCK, CLIENT);

    #[sentinel::guarded(policy = "p", kind = "lookup", client = &CLIENT, payload = query, skip(db))]
    fn lookup(db: &str, query: BTreeMap<String, u32>) -> Result<usize, Denied> {
        Ok(db.len() + query.len())
    }

    let query = BTreeMap::from([("a".to_owned(), 1), ("b".to_owned(), 2)]);
    assert_eq!(lookup("db", query).unwrap(), 4);
    assert_eq!(only_request(&MOCK).payload, json!({"a": 1, "b": 2}));
}

#[test]
fn payload_param_that_is_not_an_object_is_denied() {
    sidecar!(MOCK, CLIENT);
    static RUNS: AtomicUsize = AtomicUsize::new(0);

    #[sentinel::guarded(policy = "p", kind = "note", client = &CLIENT, payload = text)]
    fn note(text: &str) -> Result<(), Denied> {
        RUNS.fetch_add(1, Ordering::SeqCst);
        let _ = text;
        Ok(())
    }

    let denied = note("hello").unwrap_err();
    assert_refused(
        &denied,
        "argument `text` is the payload (`payload = text`) but serializes to a string, not an object",
    );
    assert!(!denied.reason().contains("hello"), "no value in the reason");
    assert_eq!(RUNS.load(Ordering::SeqCst), 0);
    assert!(MOCK.requests().is_empty());
}

/// rmcp's `Parameters<T>` and axum's `Json<T>`/`State<S>`, as tools take them.
struct Parameters<T>(T);
struct Json<T>(T);
struct State<S>(S);

#[test]
fn pattern_parameters_with_payload_naming_the_binding() {
    sidecar!(MOCK, CLIENT);

    struct Server;

    impl Server {
        #[sentinel::guarded(policy = "fintech.payments", kind = "payment", client = &CLIENT, payload = req)]
        async fn pay(&self, Parameters(req): Parameters<Transfer>) -> Result<String, Denied> {
            Ok(req.to)
        }
    }

    #[sentinel::guarded(policy = "fintech.payments", kind = "refund", client = &CLIENT, payload = body, skip(db))]
    async fn refund(State(db): State<&str>, Json(body): Json<Transfer>) -> Result<String, Denied> {
        Ok(format!("{db}:{}", body.amount))
    }

    let runtime = current_thread();
    let transfer = Transfer {
        to: "vendor".into(),
        amount: 3,
    };
    assert_eq!(
        runtime
            .block_on(Server.pay(Parameters(transfer.clone())))
            .unwrap(),
        "vendor"
    );
    assert_eq!(
        runtime.block_on(refund(State("ledger"), Json(transfer))).unwrap(),
        "ledger:3"
    );
    let payloads: Vec<_> = MOCK.requests().into_iter().map(|r| (r.kind, r.payload)).collect();
    assert_eq!(
        payloads,
        [
            ("payment".to_owned(), json!({"to": "vendor", "amount": 3})),
            ("refund".to_owned(), json!({"to": "vendor", "amount": 3})),
        ]
    );
}

trait Tool {
    fn call(&self, input: &str) -> Result<String, Denied>;

    #[sentinel::guarded(policy = "tools", client = &TOOL_CLIENT)]
    fn describe(&self) -> Result<(), Denied> {
        Ok(())
    }
}

struct SendEmail;

impl Tool for SendEmail {
    #[sentinel::guarded(policy = "tools", client = &TOOL_CLIENT)]
    fn call(&self, input: &str) -> Result<String, Denied> {
        Ok(input.to_owned())
    }
}

struct WebSearch<T>(T);

impl<T> Tool for WebSearch<T> {
    #[sentinel::guarded(policy = "tools", client = &TOOL_CLIENT)]
    fn call(&self, input: &str) -> Result<String, Denied> {
        Ok(input.to_owned())
    }
}

sidecar!(TOOL_MOCK, TOOL_CLIENT);

#[test]
fn a_methods_default_kind_is_type_dot_method() {
    SendEmail.call("a").unwrap();
    WebSearch(1u8).call("b").unwrap();
    // A trait's default method: `Self` is the implementing type.
    WebSearch("x").describe().unwrap();
    let dyn_tool: &dyn Tool = &SendEmail;
    dyn_tool.describe().unwrap();
    let kinds: Vec<String> = TOOL_MOCK.requests().into_iter().map(|r| r.kind).collect();
    assert_eq!(
        kinds,
        [
            "send_email.call",
            "web_search.call",
            "web_search.describe",
            "send_email.describe"
        ]
    );
}

/// A struct whose flattened map can repeat a field, as a hostile caller would fill it.
#[derive(Serialize)]
struct Payment {
    to: String,
    amount: u64,
    #[serde(flatten)]
    extra: BTreeMap<String, String>,
}

#[test]
fn a_repeated_key_is_denied_not_resolved() {
    sidecar!(MOCK, CLIENT);
    static RUNS: AtomicUsize = AtomicUsize::new(0);

    #[sentinel::guarded(policy = "fintech.payments", kind = "payment", client = &CLIENT, payload = payment)]
    fn pay(payment: Payment) -> Result<(), Denied> {
        RUNS.fetch_add(1, Ordering::SeqCst);
        let _ = payment;
        Ok(())
    }

    // serde_json::to_value would keep the last `to` ("vendor_ok"): the sidecar would allow a
    // payment whose body pays the attacker.
    let payment = Payment {
        to: "attacker".into(),
        amount: 1_000,
        extra: BTreeMap::from([("to".to_owned(), "vendor_ok".to_owned())]),
    };
    let denied = pay(payment).unwrap_err();
    assert_refused(
        &denied,
        "argument `payment` cannot be sent to the sidecar: it writes the key `to` twice",
    );
    assert!(!denied.reason().contains("attacker") && !denied.reason().contains("vendor_ok"));
    assert_eq!(RUNS.load(Ordering::SeqCst), 0);
    assert!(MOCK.requests().is_empty());
}

#[test]
fn non_finite_numbers_anywhere_are_denied() {
    sidecar!(MOCK, CLIENT);
    static RUNS: AtomicUsize = AtomicUsize::new(0);

    #[sentinel::guarded(policy = "p", kind = "measure", client = &CLIENT)]
    fn measure(label: &str, readings: Vec<Vec<f64>>) -> Result<(), Denied> {
        RUNS.fetch_add(1, Ordering::SeqCst);
        let _ = (label, readings);
        Ok(())
    }

    for (bad, what) in [
        (f64::NAN, "NaN"),
        (f64::INFINITY, "an infinite number"),
        (f64::NEG_INFINITY, "an infinite number"),
    ] {
        let denied = measure("x", vec![vec![1.0, bad]]).unwrap_err();
        assert_refused(
            &denied,
            &format!("argument `readings` cannot be sent to the sidecar: it holds {what}"),
        );
    }
    assert_eq!(RUNS.load(Ordering::SeqCst), 0);
    assert!(MOCK.requests().is_empty());
    // A finite float is sent as it is.
    measure("x", vec![vec![1.5]]).unwrap();
    assert_eq!(
        only_request(&MOCK).payload,
        json!({"label": "x", "readings": [[1.5]]})
    );
}

/// Serializes as `levels` nested arrays without holding them (building and dropping a
/// million-level value would itself overflow the stack).
struct Deep(usize);

impl Serialize for Deep {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = serializer.serialize_seq(Some(1))?;
        if self.0 > 1 {
            seq.serialize_element(&Deep(self.0 - 1))?;
        }
        seq.end()
    }
}

sidecar!(DEEP_MOCK, DEEP_CLIENT);
static DEEP_RUNS: AtomicUsize = AtomicUsize::new(0);

#[sentinel::guarded(policy = "p", kind = "nest", client = &DEEP_CLIENT)]
fn nest(value: Deep) -> Result<(), Denied> {
    DEEP_RUNS.fetch_add(1, Ordering::SeqCst);
    let _ = value;
    Ok(())
}

#[sentinel::guarded(policy = "p", kind = "nest", client = &DEEP_CLIENT)]
async fn nest_async(value: Deep) -> Result<(), Denied> {
    DEEP_RUNS.fetch_add(1, Ordering::SeqCst);
    let _ = value;
    Ok(())
}

#[test]
fn nesting_past_64_levels_is_denied_without_overflowing_the_stack() {
    // A million levels overflowed a spawned thread's stack (2 MiB) before the limit; on a
    // thread with a quarter of that, the limit stops serialization long before.
    let sync = std::thread::Builder::new()
        .stack_size(512 * 1024)
        .spawn(|| nest(Deep(1_000_000)).unwrap_err())
        .unwrap()
        .join()
        .expect("no stack overflow, no panic");
    assert_refused(&sync, "argument `value` cannot be sent to the sidecar: it nests arrays and objects more than 64 levels deep");
    let on_a_worker = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_stack_size(512 * 1024)
        .build()
        .unwrap()
        .block_on(async { tokio::spawn(nest_async(Deep(1_000_000))).await.unwrap() })
        .unwrap_err();
    assert_refused(&on_a_worker, "more than 64 levels deep");
    assert_eq!(DEEP_RUNS.load(Ordering::SeqCst), 0);
    assert!(DEEP_MOCK.requests().is_empty());
    // 64 levels are sent.
    nest(Deep(64)).unwrap();
    assert_eq!(DEEP_RUNS.load(Ordering::SeqCst), 1);
    assert_eq!(DEEP_MOCK.requests().len(), 1);
}

/// A `Serialize` that panics, as a buggy or hostile implementation can.
struct Bomb;

impl Serialize for Bomb {
    fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        panic!("Serialize exploded")
    }
}

#[test]
fn a_panicking_serialize_is_denied_sync_and_async() {
    sidecar!(MOCK, CLIENT);
    static RUNS: AtomicUsize = AtomicUsize::new(0);

    #[sentinel::guarded(policy = "p", kind = "boom", client = &CLIENT)]
    fn boom(value: Bomb) -> Result<(), Denied> {
        RUNS.fetch_add(1, Ordering::SeqCst);
        let _ = value;
        Ok(())
    }

    #[sentinel::guarded(policy = "p", kind = "boom", client = &CLIENT)]
    async fn boom_async(value: Bomb) -> Result<(), Denied> {
        RUNS.fetch_add(1, Ordering::SeqCst);
        let _ = value;
        Ok(())
    }

    let expected = "argument `value` cannot be sent to the sidecar: its `Serialize` implementation panicked";
    assert_refused(&boom(Bomb).unwrap_err(), expected);
    assert_refused(
        &current_thread().block_on(boom_async(Bomb)).unwrap_err(),
        expected,
    );
    assert_eq!(RUNS.load(Ordering::SeqCst), 0);
    assert!(MOCK.requests().is_empty());
}

#[test]
fn an_integer_the_sidecar_would_read_as_another_is_denied_before_sending() {
    sidecar!(MOCK, CLIENT);
    static RAN: AtomicUsize = AtomicUsize::new(0);

    #[sentinel::guarded(policy = "fintech.payments", kind = "payment", client = &CLIENT, payload = req)]
    fn pay(req: Transfer) -> Result<u64, Denied> {
        RAN.fetch_add(1, Ordering::SeqCst);
        Ok(req.amount)
    }

    // 2^53 + 1: a JavaScript sidecar reads 9007199254740992 and would judge that.
    let denied = pay(Transfer {
        to: "vendor_42".into(),
        amount: 9_007_199_254_740_993,
    })
    .unwrap_err();
    assert_refused(&denied, "2^53");
    assert!(denied.reason().contains("JavaScript"), "{denied:?}");
    assert_eq!(RAN.load(Ordering::SeqCst), 0);
    assert!(MOCK.requests().is_empty(), "{:?}", MOCK.requests());

    // The largest integer a double holds exactly goes through.
    assert_eq!(
        pay(Transfer {
            to: "vendor_42".into(),
            amount: 9_007_199_254_740_991,
        })
        .unwrap(),
        9_007_199_254_740_991
    );
    assert_eq!(
        only_request(&MOCK).payload["amount"],
        json!(9_007_199_254_740_991_u64)
    );
}
