//! The `tls` feature against a real TLS server on loopback, with certificates made in the
//! test (rcgen): trusted CA works; wrong CA, plain http to a TLS port, and a missing client
//! certificate all fail closed.
#![cfg(feature = "tls")]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use crate::support::{http_response, RawServer, ALLOW_BODY};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sentinel::{Action, Context, SentinelClient, Verdict};
use serde_json::json;

struct Pki {
    ca_pem: String,
    server_chain: Vec<CertificateDer<'static>>,
    server_key: Vec<u8>,
    client_cert_pem: String,
    client_key_pem: String,
    ca_der: CertificateDer<'static>,
}

fn pki() -> Pki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();

    let server_key = KeyPair::generate().unwrap();
    let server_params = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    let server_cert = server_params.signed_by(&server_key, &ca).unwrap();

    let client_key = KeyPair::generate().unwrap();
    let client_cert = CertificateParams::new(vec!["agent-007".to_owned()])
        .unwrap()
        .signed_by(&client_key, &ca)
        .unwrap();

    Pki {
        ca_pem: ca.pem(),
        ca_der: ca.der().clone(),
        server_chain: vec![server_cert.der().clone()],
        server_key: server_key.serialize_der(),
        client_cert_pem: client_cert.pem(),
        client_key_pem: client_key.serialize_pem(),
    }
}

/// A TLS server answering ALLOW to each request; with `require_client_cert`, only to
/// clients presenting a certificate signed by the CA.
fn tls_server(pki: &Pki, require_client_cert: bool) -> RawServer {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .unwrap();
    let builder = if require_client_cert {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(pki.ca_der.clone()).unwrap();
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .unwrap();
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki.server_key.clone()));
    let config = Arc::new(builder.with_single_cert(pki.server_chain.clone(), key).unwrap());
    RawServer::start_on(
        TcpListener::bind("127.0.0.1:0").unwrap(),
        move |stream: TcpStream, _stop| {
            stream.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
            let Ok(connection) = rustls::ServerConnection::new(Arc::clone(&config)) else {
                return;
            };
            let mut tls = rustls::StreamOwned::new(connection, stream);
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            for _ in 0..100 {
                match tls.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
                let text = String::from_utf8_lossy(&request).to_ascii_lowercase();
                if let Some(end) = text.find("\r\n\r\n") {
                    let length: usize = text
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    if request.len() >= end + 4 + length {
                        let _ = tls.write_all(&http_response("200 OK", ALLOW_BODY));
                        let _ = tls.flush();
                        return;
                    }
                }
            }
        },
    )
}

fn guard(client: &SentinelClient) -> sentinel::GuardDecision {
    client.guard(
        &Action::payment(json!({"amount": 1, "from": "a", "to": "b"})),
        &Context::new("run-tls"),
        "fintech.payments",
    )
}

fn assert_fails_closed(client: &SentinelClient) {
    let decision = guard(client);
    assert_eq!(decision.verdict(), Verdict::Block, "{decision:?}");
    assert!(decision.is_fallback(), "{decision:?}");
}

fn https(server: &RawServer) -> String {
    format!("https://localhost:{}", server.addr.port())
}

#[test]
fn a_server_signed_by_the_trusted_ca_is_honoured() {
    let pki = pki();
    let server = tls_server(&pki, false);
    let client = SentinelClient::builder(https(&server))
        .tls_root_ca_pem(pki.ca_pem.clone())
        .timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    let decision = guard(&client);
    assert!(decision.allowed(), "{decision:?}");
    assert!(!decision.is_fallback());
}

#[test]
fn a_server_signed_by_another_ca_fails_closed() {
    let pki = pki();
    let other = pki_other_ca();
    let server = tls_server(&pki, false);
    let client = SentinelClient::builder(https(&server))
        .tls_root_ca_pem(other)
        .timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    assert_fails_closed(&client);
}

#[test]
fn plain_http_to_a_tls_port_fails_closed() {
    let pki = pki();
    let server = tls_server(&pki, false);
    let client = SentinelClient::builder(server.endpoint())
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    assert_fails_closed(&client);
}

#[test]
fn mutual_tls_needs_the_client_certificate() {
    let pki = pki();
    let server = tls_server(&pki, true);
    let with_identity = SentinelClient::builder(https(&server))
        .tls_root_ca_pem(pki.ca_pem.clone())
        .tls_client_identity_pem(pki.client_cert_pem.clone(), pki.client_key_pem.clone())
        .timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    let decision = guard(&with_identity);
    assert!(decision.allowed(), "{decision:?}");

    let without_identity = SentinelClient::builder(https(&server))
        .tls_root_ca_pem(pki.ca_pem.clone())
        .timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    assert_fails_closed(&without_identity);
}

#[test]
fn unreadable_tls_material_is_a_build_error_that_prints_no_key() {
    let err = SentinelClient::builder("https://localhost:1")
        .tls_root_ca_pem("not a certificate")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("root CA"), "{err}");
    let pki = pki();
    let err = SentinelClient::builder("https://localhost:1")
        .tls_root_ca_pem(pki.ca_pem.clone())
        .tls_client_identity_pem(pki.client_cert_pem.clone(), "SECRETKEYBYTES, not a PEM key")
        .build()
        .unwrap_err();
    assert!(!err.to_string().contains("SECRETKEYBYTES"), "{err}");
    assert!(!format!("{err:?}").contains("SECRETKEYBYTES"));
}

fn pki_other_ca() -> String {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap())
        .unwrap()
        .pem()
}
