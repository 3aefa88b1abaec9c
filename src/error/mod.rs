//! The crate's error type.
//!
//! Services in this crate return [`tower::BoxError`](https://docs.rs/tower/0.5/tower/type.BoxError.html), as tower's own
//! middleware does; every error that leaves the stack is an [`Error`]
//! (the client's own failures as [`Error::Transport`]), reachable with
//! `downcast_ref`:
//!
//! ```
//! use tower_whatsapp_auth::Error;
//! fn describe(err: &tower::BoxError) -> String {
//!     match err.downcast_ref::<Error>() {
//!         Some(Error::Graph(graph)) => format!("Graph said {}: {}", graph.code(), graph.hint()),
//!         Some(other) => other.to_string(),
//!         None => format!("from a layer outside the stack: {err}"),
//!     }
//! }
//! # let _ = describe;
//! ```

use std::sync::Arc;
use std::time::Duration;

mod throttled;
mod transport;

#[cfg(any(feature = "throughput", all(test, feature = "retry")))]
pub use throttled::ThrottleReason;
pub use throttled::Throttled;
pub use transport::TransportError;

use crate::graph::{ErrorKind, GraphError, Misconfiguration};
use crate::permissions::{Permission, PermissionStatus};

fn describe_missing(missing: &[(Permission, PermissionStatus)]) -> String {
    missing
        .iter()
        .map(|(p, status)| format!("{p} is {status}; to grant it: {}", p.how_to_grant()))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Errors raised by this crate's services. None of them carries a secret.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Graph refused the request for an authentication or permission reason
    /// that the stack could not repair (see [`GraphError::hint`]).
    #[error("Graph API refused the request: {0}")]
    Graph(GraphError),

    /// Graph refused the token, and the request could not be replayed after
    /// the refresh because its body was larger than the replay buffer. The
    /// request was sent once; the next one uses the refreshed token.
    #[error("request sent once and not replayed (body larger than the {limit}-byte replay buffer): {source}")]
    NotReplayed {
        /// The configured replay buffer size.
        limit: usize,
        /// Graph's answer to the only attempt.
        source: GraphError,
    },

    /// The token is known to be unusable; the request was not sent. It stays
    /// so until a different token is available.
    #[error("access token unusable, request not sent: {cause}")]
    TokenDead {
        /// The Graph answer that showed the token is dead (to a request, a
        /// validation or a refresh).
        cause: GraphError,
    },

    /// Renewing the token failed; the request was not sent (again).
    #[error("token refresh failed, request not sent: {0}")]
    Refresh(RefreshError),

    /// The token lacks permissions the stack was told to require; nothing
    /// was sent, and nothing will be until the token changes.
    #[error("the token lacks required permissions, request not sent: {}", describe_missing(.missing))]
    PermissionMissing {
        /// Each missing permission with its status.
        missing: Vec<(Permission, PermissionStatus)>,
    },

    /// Graph could not be asked (network error, 5xx, unexpected answer).
    #[error("Graph API unavailable: {0}")]
    Unavailable(String),

    /// The client under the stack could not carry the request: it may or
    /// may not have reached Graph ([`TransportError::not_sent`] says when it
    /// certainly did not). The client's own error, as redacted text.
    #[error("the request failed in the client: {0}")]
    Transport(#[source] TransportError),

    /// Graph refused the app's configuration: a wrong app secret or app id,
    /// or an app that requires `appsecret_proof` without an app secret
    /// configured. Never about the user's token. Requests fail with it,
    /// unsent, until a re-check (every `dead_recheck`) finds it fixed.
    #[error("request not sent: Graph refused the app's configuration ({}): {cause}", what.describe())]
    Misconfigured {
        /// Which setting.
        what: Misconfiguration,
        /// Graph's refusal.
        cause: GraphError,
    },

    /// The throughput shaper did not send the message: its turn would have
    /// come after the maximum wait. Nothing reached Graph, so it is safe to
    /// send again.
    #[error(transparent)]
    Throttled(Throttled),

    /// The stack is misconfigured; nothing was sent.
    #[error("configuration error: {0}")]
    Config(String),

    /// Reading the caller's request body failed; nothing was sent.
    #[error("reading the request body failed: {0}")]
    Body(Arc<dyn std::error::Error + Send + Sync>),

    /// The request names a phone number id no tenant owns (the
    /// [`TenantSource`][tenant-source] knows none): it was
    /// not sent, with anyone's token.
    ///
    #[cfg_attr(
        feature = "tenants",
        doc = "[tenant-source]: crate::tenants::TenantSource"
    )]
    #[cfg_attr(not(feature = "tenants"), doc = "[tenant-source]: crate#features")]
    #[error("request not sent: no tenant owns phone number id {phone_number_id}")]
    UnknownTenant {
        /// The phone number id the request named.
        phone_number_id: String,
    },

    /// The request names no phone number id (its path is not
    /// `/{phone-number-id}/…` and it carries no
    /// [`TenantId`][tenant-id]): it was not sent.
    ///
    #[cfg_attr(feature = "tenants", doc = "[tenant-id]: crate::tenants::TenantId")]
    #[cfg_attr(not(feature = "tenants"), doc = "[tenant-id]: crate#features")]
    #[error("request not sent: its path names no phone number id, and it carries no TenantId (calls on a WhatsApp Business Account, templates or media need one)")]
    NoTenant,

    /// The request sends a message from one phone number and carries the
    /// [`TenantId`][tenant-id] of another: it was not sent,
    /// so no token goes on another tenant's path.
    ///
    #[cfg_attr(feature = "tenants", doc = "[tenant-id]: crate::tenants::TenantId")]
    #[cfg_attr(not(feature = "tenants"), doc = "[tenant-id]: crate#features")]
    #[error("request not sent: it sends from phone number id {phone_number_id} but names the tenant {tenant}")]
    TenantMismatch {
        /// The phone number id the path names.
        phone_number_id: String,
        /// The tenant the request named.
        tenant: String,
    },

    /// Looking the tenant up failed (the source's own error, or no answer
    /// within the lookup timeout); the request was not sent.
    #[error("request not sent: looking up the tenant of phone number id {phone_number_id} failed: {reason}")]
    TenantLookup {
        /// The phone number id the request named.
        phone_number_id: String,
        /// Why.
        reason: String,
    },

    /// The request goes to a host that is neither the Graph base's nor a
    /// media host: it was not sent, and carried no token. A media host of
    /// your own (a test fake) is added with
    /// [`media_host`](crate::WhatsAppAuthLayer::media_host).
    #[error("request not sent: {host} is not Graph's host nor a media host, and the stack sends its token to no other (add a media host with media_host() if it is one)")]
    HostNotAllowed {
        /// The host (and port) the request named.
        host: String,
    },
    /// The request goes over plain `http://` to a host that is not a
    /// loopback address: it was not sent, and carried no token (see
    /// [`allow_plain_http`](crate::WhatsAppAuthLayer::allow_plain_http)).
    #[error("request not sent: plain http:// to {host}, which is not a loopback address, would carry the token in clear text (use https://, or allow_plain_http(true) on a network you trust)")]
    PlainHttp {
        /// The host (and port) the request named.
        host: String,
    },
    /// The tenant was removed (`TenantMap::forget`, or a webhook saying the
    /// business removed the app): its token is not used any more.
    #[error("request not sent: the tenant of phone number id {phone_number_id} was removed (the business removed the app, or the platform forgot it)")]
    TenantRemoved {
        /// The phone number id of the removed tenant.
        phone_number_id: String,
    },
}

impl Error {
    /// The Graph answer behind this error, if there is one, through the
    /// refresh and back-off wrappers.
    pub fn graph_error(&self) -> Option<&GraphError> {
        match self {
            Error::Graph(g)
            | Error::NotReplayed { source: g, .. }
            | Error::TokenDead { cause: g }
            | Error::Misconfigured { cause: g, .. } => Some(g),
            Error::Refresh(r) => r.graph_error(),
            _ => None,
        }
    }

    /// The root cause, through the refresh and back-off wrappers: a token
    /// refusal, a missing permission, a misconfiguration, or a failure that
    /// may pass ([`ErrorKind::Transient`]: timeouts, transport errors,
    /// Graph unavailable).
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_whatsapp_auth::{Error, graph::ErrorKind, RefreshError};
    /// let err = Error::Refresh(RefreshError::BackingOff {
    ///     remaining: Duration::from_millis(999),
    ///     last: Box::new(RefreshError::Timeout(Duration::from_secs(10))),
    /// });
    /// assert_eq!(err.kind(), ErrorKind::Transient);
    /// assert_eq!(err.to_string(), "token refresh failed, request not sent: refresh backing off for 1 s after: token exchange timed out after 10 s");
    /// ```
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Refresh(r) => r.kind(),
            Error::PermissionMissing { .. } => ErrorKind::PermissionMissing,
            Error::Config(_) => ErrorKind::Misconfigured,
            Error::Unavailable(_) | Error::Transport(_) => ErrorKind::Transient,
            Error::Throttled(_) => ErrorKind::RateLimited,
            Error::Body(_)
            | Error::UnknownTenant { .. }
            | Error::NoTenant
            | Error::TenantMismatch { .. }
            | Error::HostNotAllowed { .. }
            | Error::PlainHttp { .. } => ErrorKind::Other,
            Error::TenantLookup { .. } => ErrorKind::Transient,
            Error::TenantRemoved { .. } => ErrorKind::TokenRevoked,
            other => other
                .graph_error()
                .map_or(ErrorKind::Other, GraphError::kind),
        }
    }
}

/// A duration as people read it: whole seconds (rounded up) from one
/// second on, else milliseconds rounded up to the tenth of a second, so
/// one cause reads the same every time.
pub(crate) fn rounded(d: &Duration) -> String {
    let tenths = d.as_millis().div_ceil(100);
    if tenths >= 10 {
        format!(
            "{} s",
            d.as_secs().saturating_add(u64::from(d.subsec_nanos() > 0))
        )
    } else {
        format!("{} ms", tenths * 100)
    }
}

/// Why renewing a token failed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum RefreshError {
    /// No way to renew: app id and app secret are not configured.
    #[error("no refresh configured: set the app id and app secret to renew user tokens with fb_exchange_token, or use a non-expiring system-user token")]
    NotConfigured,
    /// The exchange did not answer within the refresh timeout.
    #[error("token exchange timed out after {}", rounded(.0))]
    Timeout(Duration),
    /// Graph refused the exchange (e.g. the token already expired, or the
    /// app secret is wrong). Retrying with the same token will not help.
    #[error("Graph refused the token exchange: {0}")]
    Rejected(GraphError),
    /// The exchange endpoint failed in a way that may pass (5xx, rate limit,
    /// a body that is not the expected JSON).
    #[error("token exchange failed with HTTP {status}: {reason}")]
    Unavailable {
        /// HTTP status of the answer.
        status: u16,
        /// What was wrong with it.
        reason: String,
    },
    /// The exchange request did not complete at the transport level.
    #[error("token exchange transport error: {0}")]
    Transport(#[source] TransportError),
    /// The token source failed (unreadable file, unset variable, a custom
    /// source's own error).
    #[error("token source failed: {0}")]
    Source(Arc<str>),
    /// An earlier failure is being backed off; no exchange was attempted.
    #[error("refresh backing off for {} after: {last}", rounded(remaining))]
    BackingOff {
        /// Time left before the next attempt is allowed.
        remaining: Duration,
        /// The failure being backed off.
        last: Box<RefreshError>,
    },
}

impl RefreshError {
    /// Whether the failure may pass with time (as opposed to a refusal).
    pub fn is_transient(&self) -> bool {
        !matches!(
            self,
            RefreshError::Rejected(_) | RefreshError::NotConfigured
        )
    }

    /// The Graph refusal behind this failure, through back-offs.
    pub fn graph_error(&self) -> Option<&GraphError> {
        match self {
            RefreshError::Rejected(g) => Some(g),
            RefreshError::BackingOff { last, .. } => last.graph_error(),
            _ => None,
        }
    }

    /// The root cause; see [`Error::kind`].
    pub fn kind(&self) -> ErrorKind {
        match self {
            RefreshError::Rejected(g) => g.kind(),
            RefreshError::BackingOff { last, .. } => last.kind(),
            RefreshError::NotConfigured => ErrorKind::Misconfigured,
            RefreshError::Source(_) => ErrorKind::Other,
            RefreshError::Timeout(_)
            | RefreshError::Unavailable { .. }
            | RefreshError::Transport(_) => ErrorKind::Transient,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the stack raises for a refused configuration names the setting
    /// and its fix, and never tells the user to replace their token.
    #[test]
    fn misconfigurations_name_the_setting_and_the_fix() {
        use crate::graph::Misconfiguration;
        let cases = [
            (
                Misconfiguration::AppSecret,
                100,
                "Invalid appsecret_proof provided in the API argument",
            ),
            (
                Misconfiguration::AppId,
                101,
                "Error validating application. Invalid application ID.",
            ),
            (
                Misconfiguration::AppSecretMissing,
                100,
                "API calls from the server require an appsecret_proof argument",
            ),
        ];
        for (what, code, message) in cases {
            let cause = GraphError::new(http::StatusCode::BAD_REQUEST, code, None, message);
            assert_eq!(cause.misconfiguration(), Some(what), "{message}");
            let shown = Error::Misconfigured { what, cause }.to_string();
            assert!(shown.contains(what.describe()), "{shown}");
            assert!(shown.contains(what.fix()), "{shown}");
            assert!(!shown.contains("new token"), "{shown}");
        }
    }

    #[test]
    fn durations_read_the_same_for_one_cause() {
        let ms = Duration::from_millis;
        let cases = [
            (ms(999) + Duration::from_nanos(932_389), "1 s"),
            (ms(1), "100 ms"),
            (ms(250), "300 ms"),
            (ms(900), "900 ms"),
            (Duration::from_secs(10), "10 s"),
            (ms(10_001), "11 s"),
            (Duration::ZERO, "0 ms"),
        ];
        for (d, expected) in cases {
            assert_eq!(rounded(&d), expected, "{d:?}");
        }
    }
}
