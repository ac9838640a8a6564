//! TLS settings of the client (feature `tls`): rustls, the platform's roots unless a CA is
//! given, and an optional client identity for mutual TLS.

use std::fmt;

use ureq::tls::{Certificate, ClientCert, PemItem, PrivateKey, RootCerts, TlsConfig, TlsProvider};

#[derive(Default, Clone)]
pub(crate) struct TlsOptions {
    pub(crate) root_ca_pem: Option<Vec<u8>>,
    pub(crate) identity_pem: Option<(Vec<u8>, Vec<u8>)>,
}

impl fmt::Debug for TlsOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsOptions")
            .field("root_ca", &self.root_ca_pem.is_some())
            .field("client_identity", &self.identity_pem.is_some())
            .finish()
    }
}

impl TlsOptions {
    pub(crate) fn to_ureq(&self) -> Result<TlsConfig, TlsError> {
        let roots = match &self.root_ca_pem {
            Some(pem) => {
                let certs = certificates(pem, "root CA")?;
                RootCerts::new_with_certs(&certs)
            }
            None => RootCerts::PlatformVerifier,
        };
        let client_cert = match &self.identity_pem {
            Some((chain, key)) => {
                let chain = certificates(chain, "client certificate")?;
                let key = PrivateKey::from_pem(key)
                    .map_err(|_| TlsError("the client private key is not a PEM private key".into()))?;
                Some(ClientCert::new_with_certs(&chain, key))
            }
            None => None,
        };
        Ok(TlsConfig::builder()
            .provider(TlsProvider::Rustls)
            .root_certs(roots)
            .client_cert(client_cert)
            .build())
    }
}

fn certificates(pem: &[u8], what: &str) -> Result<Vec<Certificate<'static>>, TlsError> {
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(pem) {
        match item {
            Ok(PemItem::Certificate(cert)) => certs.push(cert),
            Ok(_) => {}
            Err(e) => return Err(TlsError(format!("{what}: {e}"))),
        }
    }
    if certs.is_empty() {
        return Err(TlsError(format!("{what}: no PEM certificate found")));
    }
    Ok(certs)
}

/// Why the TLS settings could not be read. Key material is never part of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TlsError(String);

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TlsError {}
