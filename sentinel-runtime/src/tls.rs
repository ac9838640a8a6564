//! TLS settings of the client (feature `tls`): rustls, the platform's roots unless a CA is
//! given, and an optional client identity for mutual TLS.

use std::fmt;

use ureq::tls::{Certificate, ClientCert, PemItem, PrivateKey, RootCerts, TlsConfig, TlsProvider};

/// How an `https://` sidecar is trusted, and who the client is to it (feature `tls`):
/// rustls, the platform's roots unless a CA is given, and an optional client identity for
/// mutual TLS. Our own type, so no TLS crate's version is part of this crate's API.
///
/// [`SentinelClientBuilder`](crate::SentinelClientBuilder) fills one from
/// `tls_root_ca_pem` and `tls_client_identity_pem`; build one yourself only for
/// [`UreqTransport::with_tls`](crate::unversioned::transport::UreqTransport::with_tls).
/// `Debug` shows which parts are set, never key material.
///
/// ```
/// use sentinel_runtime::unversioned::transport::{TlsOptions, UreqTransport};
///
/// # let (ca_pem, cert_pem, key_pem) = ("", "", "");
/// let tls = TlsOptions::new()
///     .root_ca_pem(ca_pem)                         // trust only this CA
///     .client_identity_pem(cert_pem, key_pem);     // mutual TLS
/// assert_eq!(format!("{tls:?}"), "TlsOptions { root_ca: true, client_identity: true }");
/// // Empty PEMs hold no certificate: refused, without quoting key material.
/// assert!(UreqTransport::with_tls(16, &tls).is_err());
/// ```
#[derive(Default, Clone)]
pub struct TlsOptions {
    pub(crate) root_ca_pem: Option<Vec<u8>>,
    pub(crate) identity_pem: Option<(Vec<u8>, Vec<u8>)>,
}

#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
impl fmt::Debug for TlsOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsOptions")
            .field("root_ca", &self.root_ca_pem.is_some())
            .field("client_identity", &self.identity_pem.is_some())
            .finish()
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
impl TlsOptions {
    /// The platform's roots, no client certificate.
    #[must_use]
    pub fn new() -> Self {
        TlsOptions::default()
    }

    /// Trust only the CA certificate(s) in `pem` instead of the platform's roots.
    #[must_use]
    pub fn root_ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.root_ca_pem = Some(pem.into());
        self
    }

    /// Present this certificate chain and private key (PEM) for mutual TLS.
    #[must_use]
    pub fn client_identity_pem(
        mut self,
        cert_chain_pem: impl Into<Vec<u8>>,
        key_pem: impl Into<Vec<u8>>,
    ) -> Self {
        self.identity_pem = Some((cert_chain_pem.into(), key_pem.into()));
        self
    }

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

/// Why the TLS settings could not be read (a PEM without a certificate or a key). Key
/// material is never part of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsError(String);

#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
impl std::error::Error for TlsError {}
