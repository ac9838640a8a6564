//! Promises of the public API that only a user's view shows: one error convention, one
//! `AlreadyInitialized` for both globals.

use std::error::Error;
use std::io;

use sentinel_runtime::{AlreadyInitialized, SentinelClient, SidecarError, TransportError};

/// What an error-chain printer (anyhow's `{:#}`, eyre, tracing's error fields) prints: every
/// `Display` down the `source()` chain.
fn chain(error: &dyn Error) -> String {
    let mut text = error.to_string();
    let mut next = error.source();
    while let Some(cause) = next {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        next = cause.source();
    }
    text
}

fn refused() -> TransportError {
    TransportError::Connect(io::Error::new(
        io::ErrorKind::ConnectionRefused,
        "refused by the test",
    ))
}

#[test]
fn an_error_chain_prints_each_cause_once() {
    let errors: Vec<Box<dyn Error>> = vec![
        Box::new(refused()),
        Box::new(SidecarError::Transport(refused())),
        #[cfg(feature = "verify")]
        Box::new(sentinel_runtime::records::ExportError::Read(
            SidecarError::Transport(refused()),
        )),
    ];
    for error in errors {
        let printed = chain(&*error);
        assert_eq!(printed.matches("refused by the test").count(), 1, "{printed}");
        // The message is whole without the chain: Display says it, source() does not repeat it.
        assert!(error.to_string().contains("refused by the test"), "{error}");
        assert!(error.source().is_none(), "{error}");
    }
}

#[test]
fn sidecar_errors_are_matchable_by_what_went_wrong() {
    let status = SidecarError::Status {
        status: 500,
        message: "boom".into(),
    };
    assert_eq!(status.to_string(), "HTTP 500: boom");
    assert!(matches!(
        SidecarError::from(refused()),
        SidecarError::Transport(TransportError::Connect(_))
    ));
}

#[test]
fn both_globals_refuse_a_second_client_with_one_error_type() {
    let client = || SentinelClient::builder("http://127.0.0.1:9").build().unwrap();
    sentinel_runtime::init(client()).unwrap();
    let again: AlreadyInitialized = sentinel_runtime::init(client()).unwrap_err();
    assert!(
        again.to_string().starts_with("sentinel::init was already called"),
        "{again}"
    );

    #[cfg(feature = "verify")]
    {
        use sentinel_runtime::adjudication::{self, ExecutorKey, ReceiptClient};
        use sentinel_runtime::provenance::TrustedKeys;
        let receipts = || {
            ReceiptClient::new(
                client(),
                TrustedKeys::new(),
                ExecutorKey::from_seed([7; 32], "api-test"),
            )
        };
        adjudication::init(receipts()).unwrap();
        let again: AlreadyInitialized = adjudication::init(receipts()).unwrap_err();
        assert!(
            again
                .to_string()
                .starts_with("sentinel::adjudication::init was already called"),
            "{again}"
        );
    }
}

/// A loopback HTTP server that answers every request with `status` and the JSON `body`
/// (at most `requests` requests, each connection closed after its answer).
#[cfg(feature = "verify")]
fn answering(status: &'static str, body: &'static str, requests: usize) -> String {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpListener;
    use std::time::Duration;

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().take(requests) {
            let Ok(stream) = stream else { continue };
            stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut reader = BufReader::new(&stream);
            let mut length = 0;
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                if let Some((name, value)) = line.split_once(':') {
                    if name.eq_ignore_ascii_case("content-length") {
                        length = value.trim().parse().unwrap_or(0);
                    }
                }
                line.clear();
            }
            let _ = reader.read_exact(&mut vec![0; length]);
            let _ = write!(
                &stream,
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

/// A receipt step that gets no usable answer carries the crate's one `SidecarError`,
/// matched as a records or escalation call's would be.
#[cfg(feature = "verify")]
#[test]
fn a_receipt_flow_without_an_answer_carries_a_matchable_sidecar_error() {
    use sentinel_runtime::adjudication::{
        AdjudicationRequest, CanonicalAction, ExecutorKey, ReceiptClient, ReceiptError,
    };
    use sentinel_runtime::provenance::TrustedKeys;
    use sentinel_runtime::Context;
    use serde_json::json;

    let adjudicate = |url: String| {
        let client = SentinelClient::builder(url).build().unwrap();
        let receipts = ReceiptClient::new(
            client,
            TrustedKeys::new(),
            ExecutorKey::from_seed([7; 32], "api-test"),
        );
        let action = CanonicalAction::new(
            "payments.transfer",
            "payments-service",
            "transfer",
            "agent-1",
            json!({"amount": 1, "to": "vendor_42"}),
        )
        .unwrap();
        receipts
            .adjudicate(&AdjudicationRequest::new(
                action,
                Context::new("run-1"),
                "fintech.payments",
            ))
            .unwrap_err()
    };

    // A sidecar started without the adjudication protocol has no such route.
    let error = adjudicate(answering("404 Not Found", r#"{"error":"not found"}"#, 1));
    assert!(
        matches!(&error, ReceiptError::Sidecar(SidecarError::NotFound(m)) if m == "not found"),
        "{error:?}"
    );
    assert_eq!(error.code(), "SIDECAR");
    assert_eq!(error.to_string(), "sidecar: not found: not found");

    let error = adjudicate(answering("500 Internal Server Error", r#"{"error":"boom"}"#, 1));
    assert!(
        matches!(&error, ReceiptError::Sidecar(SidecarError::Status { status: 500, message }) if message == "boom"),
        "{error:?}"
    );

    let error = adjudicate(answering("200 OK", r#"{"receipt":null}"#, 1));
    assert!(
        matches!(&error, ReceiptError::Sidecar(SidecarError::Malformed(_))),
        "{error:?}"
    );

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let error = adjudicate(format!("http://127.0.0.1:{port}"));
    assert!(
        matches!(&error, ReceiptError::Sidecar(SidecarError::Transport(_))),
        "{error:?}"
    );
    assert!(error.source().is_none(), "{error}");
}

/// A receipt step's error never carries a header value the client sends: a proxy in front
/// of the sidecar that echoes a rejected token in its error text has it withheld, as the
/// records and escalation routes withhold it (the text reaches a denial's reason, logs and
/// the model).
#[cfg(feature = "verify")]
#[test]
fn a_receipt_error_withholds_a_header_value_the_sidecar_echoes() {
    use sentinel_runtime::adjudication::{AdjudicationRequest, CanonicalAction, ExecutorKey, ReceiptClient};
    use sentinel_runtime::provenance::TrustedKeys;
    use sentinel_runtime::Context;
    use serde_json::json;

    const TOKEN: &str = "s3cr3t-token-0123456789";
    let adjudicate = |url: String| {
        let client = SentinelClient::builder(url)
            .header("authorization", format!("Bearer {TOKEN}"))
            .build()
            .unwrap();
        let receipts = ReceiptClient::new(
            client,
            TrustedKeys::new(),
            ExecutorKey::from_seed([7; 32], "api-test"),
        );
        let action = CanonicalAction::new(
            "payments.transfer",
            "payments-service",
            "transfer",
            "agent-1",
            json!({"amount": 1, "to": "vendor_42"}),
        )
        .unwrap();
        receipts
            .adjudicate(&AdjudicationRequest::new(
                action,
                Context::new("run-1"),
                "fintech.payments",
            ))
            .unwrap_err()
    };
    for (status, body) in [
        (
            "401 Unauthorized",
            r#"{"error":"invalid credentials: Bearer s3cr3t-token-0123456789"}"#,
        ),
        (
            "404 Not Found",
            r#"{"error":"no route for token s3cr3t-token-0123456789"}"#,
        ),
        (
            "400 Bad Request",
            r#"{"error":"non-canonical action","details":"sent with s3cr3t-token-0123456789"}"#,
        ),
    ] {
        let error = adjudicate(answering(status, body, 1));
        let shown = format!("{error} {error:?}");
        assert!(!shown.contains(TOKEN), "{status}: {shown}");
        assert!(
            shown.contains("<redacted>"),
            "{status}: the text is kept, the token withheld: {shown}"
        );
    }
}
