//! Outside this crate's semver promise, like ureq's `unversioned`: what is here may change in
//! any release, minor or patch, so that the stable API never has to freeze it.
//!
//! [`transport`] is the HTTP exchange under a guard, behind a small trait: the way tests
//! script a sidecar's answers and the extension point for a custom HTTP stack. Its shape
//! follows what the default transport needs from one release to the next (a method given as
//! text, a hook to drop a connection whose answer was not honoured, counters for tests).
//! Freezing it would freeze those choices; fencing it costs users nothing they rely on for
//! the guard itself: [`SentinelClientBuilder::transport`](crate::SentinelClientBuilder::transport)
//! is stable, the trait it takes is not. The error a transport returns,
//! [`TransportError`](crate::TransportError), is stable: the stable errors carry it.
//!
//! Pin an exact version of this crate (`=x.y.z`) if you implement [`transport::Transport`]
//! yourself.

pub mod transport {
    //! The HTTP exchange under a guard (unversioned: see [the module above](super)).
    pub use crate::transport::{HttpRequest, HttpResponse, Transport, UreqTransport};

    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub use crate::tls::{TlsError, TlsOptions};
}
