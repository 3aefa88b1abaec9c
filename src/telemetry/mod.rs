//! Metrics an operator can alert on, through the [OpenTelemetry] metrics
//! API (cargo feature `opentelemetry`; the API only: your application
//! installs the SDK and an exporter).
//!
//! | instrument | kind | attributes | fed from |
//! |---|---|---|---|
//! | `whatsapp.token.validations` | counter | `outcome`: `valid`, `refused`, `failed` | every verdict on the token (validation calls, and permission checks that validate) |
//! | `whatsapp.token.renewals` | counter | `outcome`: `renewed`, `failed` | every renewal this process made (the source asked, e.g. an exchange) |
//! | `whatsapp.token.saves` | counter | `outcome`: `saved`, `failed` | every attempt to save a token this process installed (the store; a tenant's `TenantSource::save` first); `failed` ones are retried until one is `saved` |
//! | `whatsapp.graph.errors` | counter | `kind`: the [`ErrorKind`] in snake_case | every Graph error answer: to requests through the stack and to its own calls |
//! | `whatsapp.requests.replayed` | counter | | every replay after a renewal |
//! | `whatsapp.request.token_wait` | histogram, `s` | | every wait of a request on token work (the first validation, a renewal before a replay) |
//! | `whatsapp.token.expires_in` | gauge, `s` | | the expiry of the token in use, as last known; no value for a token that never expires (or whose expiry is unknown) |
//! | `whatsapp.webhook.deliveries` | counter | `outcome`: see [`DeliveryOutcome`][delivery-outcome] | every delivery [`VerifySignature`][verify-signature] read |
//! | `http.client.request.duration` | histogram, `s` | `http.request.method`, `server.address`, `server.port`, `http.response.status_code`, `error.type` | the stack's own Graph calls (validation, exchange, permissions) |
//!
//! No attribute ever holds a token, a secret, a proof or a URL path. The
//! outcomes of one transition are decided in one place, the function that
//! applies token state changes, from the same data that its tracing events
//! tell.
//!
//! The meter: [`WhatsAppAuthLayer::meter`][layer-meter]
//! and [`VerifySignatureLayer::meter`][webhook-meter]
//! take yours; without one, the global meter provider's is taken when a
//! stack is built (its first token cell, or the webhook layer's `layer`).
//! A meter taken from the global provider before your application installs
//! its own stays a no-op forever: install the provider first, or pass the
//! meter.
//!
//! ```
//! # #[cfg(all(feature = "opentelemetry", feature = "webhook"))]
//! # {
//! use opentelemetry::metrics::MeterProvider as _;
//! use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
//! use tower_whatsapp_auth::webhook::VerifySignatureLayer;
//! use tower_whatsapp_auth::WhatsAppAuthLayer;
//!
//! // Your application's provider, with the exporter of your choice.
//! let exporter = InMemoryMetricExporter::default();
//! let provider = SdkMeterProvider::builder()
//!     .with_reader(PeriodicReader::builder(exporter).build())
//!     .build();
//! let meter = provider.meter("tower-whatsapp-auth");
//! let auth = WhatsAppAuthLayer::new("EAAG-token").meter(meter.clone());
//! let webhooks = VerifySignatureLayer::new("app-secret").meter(meter);
//! # let _ = (auth, webhooks);
//! # }
//! ```
//!
//! Without the feature every instrument is a zero-sized value whose
//! methods do nothing: the calls compile away.
//!
//! With many tenants in one stack, a tenant attribute multiplies every
//! series by the number of tenants: it is added only when asked for. The
//! mechanism, inside the crate, is `Telemetry::with_attribute` (every cell
//! built from that recipe carries the attribute) and
//! `Metrics::with_attribute` (one cell's instruments, again).
//!
//! [OpenTelemetry]: https://opentelemetry.io/docs/specs/otel/metrics/api/
#![cfg_attr(feature = "webhook", doc = "[delivery-outcome]: DeliveryOutcome")]
#![cfg_attr(not(feature = "webhook"), doc = "[delivery-outcome]: crate#features")]
#![cfg_attr(
    feature = "webhook",
    doc = "[verify-signature]: crate::webhook::VerifySignature"
)]
#![cfg_attr(not(feature = "webhook"), doc = "[verify-signature]: crate#features")]
#![cfg_attr(
    feature = "opentelemetry",
    doc = "[layer-meter]: crate::WhatsAppAuthLayer::meter"
)]
#![cfg_attr(not(feature = "opentelemetry"), doc = "[layer-meter]: crate#features")]
#![cfg_attr(
    all(feature = "webhook", feature = "opentelemetry"),
    doc = "[webhook-meter]: crate::webhook::VerifySignatureLayer::meter"
)]
#![cfg_attr(
    not(all(feature = "webhook", feature = "opentelemetry")),
    doc = "[webhook-meter]: crate#features"
)]

#[cfg(not(feature = "opentelemetry"))]
mod noop;
#[cfg(feature = "opentelemetry")]
mod otel;
#[cfg(feature = "opentelemetry")]
mod otel_call;
#[cfg(feature = "opentelemetry")]
mod otel_expiry;

#[cfg(all(feature = "webhook", not(feature = "opentelemetry")))]
pub(crate) use noop::Deliveries;
#[cfg(not(feature = "opentelemetry"))]
pub(crate) use noop::{Metrics, Stopwatch, Telemetry};
#[cfg(all(feature = "webhook", feature = "opentelemetry"))]
pub(crate) use otel::Deliveries;
#[cfg(feature = "opentelemetry")]
pub(crate) use otel::{Metrics, Stopwatch, Telemetry};

use crate::graph::ErrorKind;

/// The instrumentation scope the global meter is taken with.
#[cfg_attr(not(feature = "opentelemetry"), allow(dead_code))]
pub(crate) const SCOPE: &str = "tower-whatsapp-auth";

/// What a verdict on the token was (`whatsapp.token.validations`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Validation {
    /// Graph accepted the token.
    Valid,
    /// Graph refused the token (expired, invalid, revoked, or the app's
    /// configuration).
    Refused,
    /// No verdict: Graph unreachable, a 5xx, a timeout, a panic.
    Failed,
}

impl Validation {
    #[cfg_attr(not(feature = "opentelemetry"), allow(dead_code))]
    pub(crate) fn label(self) -> &'static str {
        match self {
            Validation::Valid => "valid",
            Validation::Refused => "refused",
            Validation::Failed => "failed",
        }
    }
}

/// What a renewal ended in (`whatsapp.token.renewals`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Renewal {
    /// A new token is in use.
    Renewed,
    /// The renewal gave no new token: an error, a refusal, a block.
    Failed,
}

impl Renewal {
    #[cfg_attr(not(feature = "opentelemetry"), allow(dead_code))]
    pub(crate) fn label(self) -> &'static str {
        match self {
            Renewal::Renewed => "renewed",
            Renewal::Failed => "failed",
        }
    }
}

/// What an attempt to save a token ended in (`whatsapp.token.saves`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Save {
    /// Saved (or the store held a newer token, which is adopted).
    Saved,
    /// Failed or unanswered: retried.
    Failed,
}

impl Save {
    #[cfg_attr(not(feature = "opentelemetry"), allow(dead_code))]
    pub(crate) fn label(self) -> &'static str {
        match self {
            Save::Saved => "saved",
            Save::Failed => "failed",
        }
    }
}

/// What a webhook delivery was, for `whatsapp.webhook.deliveries`.
///
/// [`VerifySignature`](crate::webhook::VerifySignature) counts the
/// deliveries it refuses itself (`BadSignature`, `TooLarge`), and every
/// delivery it hands to your service as `Accepted`, unless your service
/// says otherwise by putting one of these in its response's extensions:
/// `Malformed` for a body it could not read as a delivery, `Duplicate` for
/// a delivery that carried messages, every one of them seen before (a
/// delivery of statuses only is `Accepted`). A body that broke off while
/// being read (the sender went away) is not counted.
///
/// ```
/// use bytes::Bytes;
/// use http::{Request, Response};
/// use http_body_util::Full;
/// use tower::service_fn;
/// use tower_whatsapp_auth::telemetry::DeliveryOutcome;
/// use tower_whatsapp_auth::webhook::Notification;
///
/// let handler = service_fn(|req: Request<Full<Bytes>>| async move {
///     let mut res = Response::new(Full::new(Bytes::new()));
///     # let body = Bytes::new();
///     if Notification::parse(&body).is_err() {
///         *res.status_mut() = http::StatusCode::BAD_REQUEST;
///         res.extensions_mut().insert(DeliveryOutcome::Malformed);
///     }
///     Ok::<_, std::convert::Infallible>(res)
/// });
/// # let _ = handler;
/// assert_eq!(DeliveryOutcome::Duplicate.as_str(), "duplicate");
/// ```
#[cfg(feature = "webhook")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DeliveryOutcome {
    /// Signed by Meta and handed to your service.
    Accepted,
    /// A missing, malformed or wrong `X-Hub-Signature-256` (401).
    BadSignature,
    /// A body over the limit (413).
    TooLarge,
    /// Signed, but not a delivery: your service says so.
    Malformed,
    /// Signed, and every message it carried was seen before: your service
    /// says so.
    Duplicate,
}

#[cfg(feature = "webhook")]
impl DeliveryOutcome {
    /// The `outcome` attribute's value: `accepted`, `bad_signature`,
    /// `too_large`, `malformed` or `duplicate`.
    ///
    /// ```
    /// use tower_whatsapp_auth::telemetry::DeliveryOutcome;
    /// assert_eq!(DeliveryOutcome::BadSignature.as_str(), "bad_signature");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryOutcome::Accepted => "accepted",
            DeliveryOutcome::BadSignature => "bad_signature",
            DeliveryOutcome::TooLarge => "too_large",
            DeliveryOutcome::Malformed => "malformed",
            DeliveryOutcome::Duplicate => "duplicate",
        }
    }
}

/// The `kind` attribute of `whatsapp.graph.errors`: the kind in snake_case.
#[cfg_attr(not(feature = "opentelemetry"), allow(dead_code))]
pub(crate) fn kind_label(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::TokenExpired => "token_expired",
        ErrorKind::TokenInvalid => "token_invalid",
        ErrorKind::TokenRevoked => "token_revoked",
        ErrorKind::PermissionMissing => "permission_missing",
        ErrorKind::RateLimited => "rate_limited",
        ErrorKind::Transient => "transient",
        ErrorKind::Misconfigured => "misconfigured",
        ErrorKind::Other => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_the_documented_snake_case_names() {
        let kinds = [
            (ErrorKind::TokenExpired, "token_expired"),
            (ErrorKind::TokenInvalid, "token_invalid"),
            (ErrorKind::TokenRevoked, "token_revoked"),
            (ErrorKind::PermissionMissing, "permission_missing"),
            (ErrorKind::RateLimited, "rate_limited"),
            (ErrorKind::Transient, "transient"),
            (ErrorKind::Misconfigured, "misconfigured"),
            (ErrorKind::Other, "other"),
        ];
        for (kind, label) in kinds {
            assert_eq!(kind_label(kind), label);
        }
        #[cfg(feature = "webhook")]
        let outcomes = [
            (DeliveryOutcome::Accepted, "accepted"),
            (DeliveryOutcome::BadSignature, "bad_signature"),
            (DeliveryOutcome::TooLarge, "too_large"),
            (DeliveryOutcome::Malformed, "malformed"),
            (DeliveryOutcome::Duplicate, "duplicate"),
        ];
        #[cfg(feature = "webhook")]
        for (outcome, label) in outcomes {
            assert_eq!(outcome.as_str(), label);
        }
        assert_eq!(
            [Validation::Valid, Validation::Refused, Validation::Failed].map(Validation::label),
            ["valid", "refused", "failed"]
        );
        assert_eq!(
            [Renewal::Renewed, Renewal::Failed].map(Renewal::label),
            ["renewed", "failed"]
        );
    }
}
