//! A client that talks to a sidecar beyond loopback without a pinned signing key warns once
//! per process when built, naming where the key id comes from; loopback and pinned clients
//! stay quiet. (Its own test binary: it installs the global logger.)

use std::sync::Mutex;

use sentinel::unversioned::transport::{HttpRequest, HttpResponse};
use sentinel::SentinelClient;
use sentinel::TransportError;

static WARNINGS: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.target() == "sentinel"
    }
    fn log(&self, record: &log::Record<'_>) {
        if record.target() == "sentinel" && record.level() == log::Level::Warn {
            WARNINGS.lock().unwrap().push(record.args().to_string());
        }
    }
    fn flush(&self) {}
}

const KEY_ID: &str = "ed25519:56475aa75463474c0285df5dbf2bcab73da651358839e9b77481b2eab107708c";

/// A client of `endpoint` whose requests never leave the process.
fn client(endpoint: &str, pin: bool) -> SentinelClient {
    let mut builder = SentinelClient::builder(endpoint).transport(
        |_: &HttpRequest| -> Result<HttpResponse, TransportError> { unreachable!("no request is made") },
    );
    if pin {
        builder = builder.trusted_key_id(KEY_ID);
    }
    builder.build().unwrap()
}

#[test]
fn an_unpinned_client_beyond_loopback_warns_once_at_build() {
    log::set_logger(&Capture).unwrap();
    log::set_max_level(log::LevelFilter::Warn);

    for loopback in [
        "http://localhost:4000",
        "http://127.0.0.1:4000",
        "http://127.8.9.10:4000",
        "http://[::1]:4000",
    ] {
        let _ = client(loopback, false);
    }
    let _ = client("http://sidecar.internal:4000", true);
    let _ = client("https://10.0.0.7:4443", true);
    assert!(
        WARNINGS.lock().unwrap().is_empty(),
        "{:?}",
        WARNINGS.lock().unwrap()
    );

    let _ = client("http://sidecar.internal:4000", false);
    let _ = client("http://10.0.0.7:4000", false);
    let warnings: Vec<String> = WARNINGS.lock().unwrap().drain(..).collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("without a pinned signing key")
            && warnings[0].contains("signer ed25519:")
            && warnings[0].contains("SENTINEL_TRUSTED_KEY_IDS"),
        "{warnings:?}"
    );
}
