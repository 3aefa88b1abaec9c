//! [`VerifySignatureLayer`].

use std::marker::PhantomData;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use tower_layer::Layer;

use super::VerifySignature;
use crate::secret::Secret;
use crate::telemetry::Telemetry;

/// Largest webhook body read by default: 1 MiB.
pub const DEFAULT_WEBHOOK_LIMIT: usize = 1024 * 1024;

/// Layer that applies [`VerifySignature`]. `Out` is the body type the
/// inner service receives (default `Full<Bytes>`, which axum's router and
/// handlers take too).
pub struct VerifySignatureLayer<Out = Full<Bytes>> {
    pub(super) secrets: Arc<[Secret]>,
    pub(super) limit: usize,
    telemetry: Telemetry,
    _out: PhantomData<fn() -> Out>,
}

impl VerifySignatureLayer {
    /// Verifies deliveries signed with `app_secret`, reading bodies up to
    /// [`DEFAULT_WEBHOOK_LIMIT`]. An empty secret (an unset variable read
    /// as `""`) accepts nothing: anyone can sign with an empty key, so
    /// every delivery is refused with 401
    /// ([`SignatureError::NoSecret`](super::SignatureError::NoSecret)).
    pub fn new(app_secret: impl Into<Secret>) -> Self {
        VerifySignatureLayer {
            secrets: Arc::from([app_secret.into()]),
            limit: DEFAULT_WEBHOOK_LIMIT,
            telemetry: Telemetry::default(),
            _out: PhantomData,
        }
    }
}

impl<Out> VerifySignatureLayer<Out> {
    /// Also accepts deliveries signed with `app_secret` (while a secret is
    /// rotated, both are accepted).
    pub fn also_accept(self, app_secret: impl Into<Secret>) -> Self {
        let mut secrets = self.secrets.to_vec();
        secrets.push(app_secret.into());
        VerifySignatureLayer {
            secrets: secrets.into(),
            ..self
        }
    }

    /// The largest body read; a larger one is refused with 413 without
    /// being read further.
    pub fn limit(self, bytes: usize) -> Self {
        VerifySignatureLayer {
            limit: bytes,
            ..self
        }
    }

    /// Hands the inner service bodies of type `B` (any `From<Bytes>`).
    pub fn with_body<B>(self) -> VerifySignatureLayer<B> {
        VerifySignatureLayer {
            secrets: self.secrets,
            limit: self.limit,
            telemetry: self.telemetry,
            _out: PhantomData,
        }
    }

    /// Counts deliveries in `whatsapp.webhook.deliveries` with `meter`
    /// (cargo feature `opentelemetry`) instead of the global provider's
    /// meter, taken when [`layer`](Layer::layer) is called without one;
    /// see [`crate::telemetry`] and [`DeliveryOutcome`](crate::telemetry::DeliveryOutcome).
    ///
    /// ```
    /// use opentelemetry::metrics::MeterProvider as _;
    /// use opentelemetry_sdk::metrics::SdkMeterProvider;
    /// use tower_whatsapp_auth::webhook::VerifySignatureLayer;
    ///
    /// let provider = SdkMeterProvider::builder().build();
    /// let layer = VerifySignatureLayer::new("app-secret").meter(provider.meter("my-app"));
    /// # let _ = layer;
    /// ```
    #[cfg(feature = "opentelemetry")]
    pub fn meter(self, meter: opentelemetry::metrics::Meter) -> Self {
        VerifySignatureLayer {
            telemetry: self.telemetry.with_meter(meter),
            ..self
        }
    }
}

impl<Out> Clone for VerifySignatureLayer<Out> {
    fn clone(&self) -> Self {
        VerifySignatureLayer {
            secrets: self.secrets.clone(),
            limit: self.limit,
            telemetry: self.telemetry.clone(),
            _out: PhantomData,
        }
    }
}

impl<Out> std::fmt::Debug for VerifySignatureLayer<Out> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifySignatureLayer")
            .field("secrets", &self.secrets.len())
            .field("limit", &self.limit)
            .finish()
    }
}

impl<S, Out> Layer<S> for VerifySignatureLayer<Out> {
    type Service = VerifySignature<S, Out>;
    fn layer(&self, inner: S) -> Self::Service {
        VerifySignature::new(
            inner,
            self.secrets.clone(),
            self.limit,
            self.telemetry.deliveries(),
        )
    }
}
