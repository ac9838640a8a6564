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
