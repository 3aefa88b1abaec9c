//! [`TransportError`]: the client under the stack failed to carry a
//! request. Kept as text with every secret taken out: clients quote the
//! URL they were sending to (reqwest does, query and all), and the stack's
//! URLs carry `appsecret_proof`.

use std::fmt;
use std::sync::Arc;

use crate::secret::redact;

/// The client under the stack could not carry a request (connection
/// refused or reset, DNS, TLS, a client-side timeout, a body that broke
/// off). Its message and source chain are the client's own, as text, with
/// tokens, the app secret and `appsecret_proof` taken out, so it can be
/// logged as it is.
///
/// ```
/// use tower_whatsapp_auth::{Error, graph::ErrorKind};
/// # fn handle(err: tower::BoxError) {
/// if let Some(Error::Transport(failure)) = err.downcast_ref::<Error>() {
///     // Sending again is safe only when nothing was sent.
///     let retry = failure.not_sent();
///     assert_eq!(Error::Transport(failure.clone()).kind(), ErrorKind::Transient);
///     # let _ = retry;
/// }
/// # }
/// ```
#[derive(Clone)]
pub struct TransportError {
    inner: Arc<Link>,
}

struct Link {
    message: String,
    source: Option<TransportError>,
    not_sent: bool,
    io_kind: Option<std::io::ErrorKind>,
}

impl TransportError {
    /// `error` and its source chain as redacted text: `secrets` (exact
    /// values) and the values of secret-bearing URL parameters go. A client
    /// that cannot speak https is named as such.
    pub(crate) fn new(
        error: &(dyn std::error::Error + 'static),
        secrets: &[&str],
    ) -> TransportError {
        let mut top = TransportError::link(error, secrets);
        if top
            .links()
            .any(|l| l.message.contains("scheme is not http"))
        {
            if let Some(link) = Arc::get_mut(&mut top.inner) {
                link.message.push_str(
                    " (the client cannot speak https: build it with TLS, for reqwest one of \
                     its `rustls` or `native-tls` features, or point graph_base at an http:// URL)",
                );
            }
        }
        top
    }

    fn link(error: &(dyn std::error::Error + 'static), secrets: &[&str]) -> TransportError {
        let source = error.source().map(|s| TransportError::link(s, secrets));
        let io_kind = error
            .downcast_ref::<std::io::Error>()
            .map(std::io::Error::kind)
            .or_else(|| source.as_ref().and_then(TransportError::io_kind));
        let refused = io_kind == Some(std::io::ErrorKind::ConnectionRefused);
        TransportError {
            inner: Arc::new(Link {
                message: redact(&error.to_string(), secrets),
                not_sent: refused || source.as_ref().is_some_and(TransportError::not_sent),
                source,
                io_kind,
            }),
        }
    }

    /// This link and those below it.
    fn links(&self) -> impl Iterator<Item = &Link> {
        std::iter::successors(Some(&*self.inner), |l| l.source.as_ref().map(|s| &*s.inner))
    }

    /// Whether the request certainly never left: the connection was
    /// refused. Anything else may have reached Graph.
    pub fn not_sent(&self) -> bool {
        self.inner.not_sent
    }

    /// The kind of the operating-system error behind it, if there is one.
    pub fn io_kind(&self) -> Option<std::io::ErrorKind> {
        self.inner.io_kind
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.inner.message)
    }
}

impl fmt::Debug for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransportError")
            .field("message", &self.inner.message)
            .field("not_sent", &self.inner.not_sent)
            .field("source", &self.inner.source)
            .finish()
    }
}

impl std::error::Error for TransportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner
            .source
            .as_ref()
            .map(|s| s as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Outer(std::io::Error);

    impl fmt::Display for Outer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("error sending request for url (http://127.0.0.1:9/v25.0/1/messages?appsecret_proof=30c0ffee&x=1)")
        }
    }

    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn the_chain_is_kept_as_text_without_secrets() {
        let refused = std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "refused for EAAG-token-1",
        );
        let err = TransportError::new(&Outer(refused), &["EAAG-token-1"]);
        assert_eq!(
            err.to_string(),
            "error sending request for url (http://127.0.0.1:9/v25.0/1/messages?appsecret_proof=***&x=1)"
        );
        let source = std::error::Error::source(&err).unwrap();
        assert_eq!(source.to_string(), "refused for ***");
        assert!(err.not_sent());
        assert_eq!(err.io_kind(), Some(std::io::ErrorKind::ConnectionRefused));
        let debug = format!("{err:?}");
        assert!(
            !debug.contains("30c0ffee") && !debug.contains("EAAG-token-1"),
            "{debug}"
        );
        let reset = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
        let err = TransportError::new(&reset, &[]);
        assert!(!err.not_sent());
    }

    #[test]
    fn a_client_without_tls_is_named() {
        let no_tls = std::io::Error::other("invalid URL, scheme is not http");
        let err = TransportError::new(&no_tls, &[]);
        assert!(err.to_string().contains("cannot speak https"), "{err}");
    }
}
