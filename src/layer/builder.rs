//! The builder methods of [`WhatsAppAuthLayer`], one per knob, grouped by
//! what they govern (each group one `impl` block, titled in the docs). Each
//! gives a layer whose stacks get a token cell of their own (a cell built
//! before is left to the stacks that use it).

use std::sync::Arc;
use std::time::Duration;

use super::WhatsAppAuthLayer;
use crate::config::ExchangeMethod;
use crate::permissions::Permission;
use crate::secret::Secret;
use crate::store::TokenStore;

/// Identity and endpoints: whose token, for which app and number, sent where.
impl WhatsAppAuthLayer {
    /// The Meta app's id and secret: every call carries `appsecret_proof`,
    /// validation uses `/debug_token` (which also tells the expiry), and
    /// long-lived user tokens are renewed with `fb_exchange_token`.
    ///
    /// ```
    /// use tower_whatsapp_auth::WhatsAppAuthLayer;
    /// let layer = WhatsAppAuthLayer::new("EAAG-token").app_credentials("1234567890", "app-secret");
    /// assert!(layer.check().is_ok());
    /// ```
    pub fn app_credentials(self, app_id: impl Into<String>, secret: impl Into<Secret>) -> Self {
        self.with(|c| {
            c.app_id = Some(app_id.into());
            c.app_secret = Some(secret.into());
        })
    }

    /// The Meta app secret alone: every call then carries `appsecret_proof`
    /// (an app that requires it refuses calls without), and validation uses
    /// the phone number node. A system-user token needs nothing more; a
    /// token to renew needs [`app_credentials`](Self::app_credentials).
    pub fn app_secret(self, secret: impl Into<Secret>) -> Self {
        self.with(|c| c.app_secret = Some(secret.into()))
    }

    /// The WhatsApp phone number id, used for validation
    /// (`GET /{version}/{phone-number-id}`). Without it, `/me` is used.
    pub fn phone_number_id(self, id: impl Into<String>) -> Self {
        self.with(|c| c.phone_number_id = Some(id.into()))
    }

    /// The WhatsApp Business Account id, against which permission grants are
    /// checked (a grant for another account does not count).
    pub fn business_account_id(self, id: impl Into<String>) -> Self {
        self.with(|c| c.business_account_id = Some(id.into()))
    }

    /// Refuses to send unless the token has `permissions`: they are checked
    /// with the first validation, and when one is missing every request
    /// fails with [`Error::PermissionMissing`](crate::Error::PermissionMissing) without reaching Graph.
    pub fn require_permissions(self, permissions: &[Permission]) -> Self {
        self.with(|c| c.required_permissions = permissions.to_vec())
    }

    /// Graph's base URL (default `https://graph.facebook.com`); tests point
    /// it at `http://127.0.0.1:PORT`.
    pub fn graph_base(self, url: impl Into<String>) -> Self {
        self.with(|c| c.graph_base = url.into())
    }

    /// The Graph API version segment, e.g. `v25.0`.
    pub fn graph_version(self, version: impl Into<String>) -> Self {
        self.with(|c| c.graph_version = version.into())
    }

    /// Adds a media host (`host[:port]`, e.g. a fake's `127.0.0.1:4001`)
    /// that requests may carry the token to, besides Graph's own host and
    /// [`DEFAULT_MEDIA_HOST`](crate::DEFAULT_MEDIA_HOST). A request to any
    /// other host fails unsent with
    /// [`Error::HostNotAllowed`](crate::Error::HostNotAllowed). Requests to
    /// a media host carry the bearer only: the `appsecret_proof` is a Graph
    /// parameter, sent to Graph's host alone.
    ///
    /// ```
    /// use tower_whatsapp_auth::WhatsAppAuthLayer;
    /// let layer = WhatsAppAuthLayer::new("EAAG-token").media_host("127.0.0.1:4001");
    /// assert!(layer.check().is_ok());
    /// assert!(WhatsAppAuthLayer::new("t").media_host("https://x/").check().is_err());
    /// ```
    pub fn media_host(self, host: impl Into<String>) -> Self {
        self.with(|c| c.media_hosts.push(host.into()))
    }

    /// Allows plain `http://` to hosts that are not loopback addresses
    /// (default: refused with [`Error::PlainHttp`](crate::Error::PlainHttp),
    /// since the token would cross the network in clear text). Loopback
    /// addresses (a local fake) are always allowed.
    pub fn allow_plain_http(self, allowed: bool) -> Self {
        self.with(|c| c.plain_http = allowed)
    }
}

/// Validation: whether the token still works, checked before its first use and then once per interval.
impl WhatsAppAuthLayer {
    /// How long a validation holds (default 1 hour).
    pub fn validation_interval(self, interval: Duration) -> Self {
        self.with(|c| c.validation_interval = Some(interval))
    }

    /// Turns validation off: the token is used until Graph refuses it.
    pub fn without_validation(self) -> Self {
        self.with(|c| c.validation_interval = None)
    }

    /// How long a validation call may take (default 10 s); past it,
    /// requests proceed and validation is retried later.
    pub fn validation_timeout(self, timeout: Duration) -> Self {
        self.with(|c| c.validation_timeout = timeout)
    }

    /// How soon validation is retried after Graph gave no verdict (default 30 s).
    pub fn validation_retry(self, delay: Duration) -> Self {
        self.with(|c| c.validation_retry = delay)
    }

    /// With app credentials, validation uses `/debug_token`, which also tells
    /// the expiry (default). `false` validates with the phone number node.
    pub fn validate_with_debug_token(self, enabled: bool) -> Self {
        self.with(|c| c.use_debug_token = enabled)
    }
}

/// Renewal: when and how a token is renewed, and what happens while it cannot be.
impl WhatsAppAuthLayer {
    /// When a token's expiry is known, renew it this long before (default
    /// 5 minutes), or `fraction` of its remaining lifetime before if that is
    /// longer (default 0.1).
    pub fn refresh_window(self, minimum: Duration, fraction: f64) -> Self {
        self.with(|c| {
            c.refresh_window = minimum;
            c.refresh_window_fraction = fraction;
        })
    }

    /// Widens each token's refresh window by a random part of up to
    /// `fraction` of it (default 0.1), so replicas do not renew in lockstep.
    pub fn refresh_jitter(self, fraction: f64) -> Self {
        self.with(|c| c.refresh_jitter = fraction)
    }

    /// How long a token exchange may take (default 10 s).
    pub fn refresh_timeout(self, timeout: Duration) -> Self {
        self.with(|c| c.refresh_timeout = timeout)
    }

    /// Back-off after a failed exchange: `initial`, doubling per consecutive
    /// failure up to `max` (defaults 1 s and 60 s). Requests fail fast
    /// while it lasts.
    pub fn refresh_backoff(self, initial: Duration, max: Duration) -> Self {
        self.with(|c| {
            c.refresh_backoff = initial;
            c.refresh_backoff_max = max.max(initial);
        })
    }

    /// How the exchange sends its parameters (default: POST form body).
    pub fn exchange_method(self, method: ExchangeMethod) -> Self {
        self.with(|c| c.exchange_method = method)
    }

    /// While the token is dead, how often the source is asked whether it has
    /// a different one (default 30 s).
    pub fn dead_recheck(self, interval: Duration) -> Self {
        self.with(|c| c.dead_recheck = interval)
    }
}

/// Limits: how much of a body is kept, and when Graph's usage is worth a warning.
impl WhatsAppAuthLayer {
    /// Largest request body buffered for replay (default 1 MiB).
    pub fn body_limit(self, bytes: usize) -> Self {
        self.with(|c| c.body_limit = bytes)
    }

    /// Largest error body read to classify it (default 64 KiB).
    pub fn error_body_limit(self, bytes: usize) -> Self {
        self.with(|c| c.error_body_limit = bytes)
    }

    /// Logs a warning when Graph's usage headers (`X-App-Usage`,
    /// `X-Business-Use-Case-Usage`) report more than `percent` of an
    /// allowance used (default 80). Their parsed view is in every
    /// response's extensions as [`Usage`](crate::graph::usage::Usage).
    pub fn usage_warning(self, percent: f64) -> Self {
        self.with(|c| c.usage_warning = percent)
    }
}

/// Stores: where renewed tokens are kept, so restarts and replicas share one.
impl WhatsAppAuthLayer {
    /// Persists renewed tokens in `store` and reads it before the first
    /// request (see [`crate::store`]).
    pub fn token_store(mut self, store: impl TokenStore) -> Self {
        self.supply.store = Some(Arc::new(store));
        self.with(|_| {})
    }

    /// How long any call to the token store may take (default 500 ms);
    /// past it, the stack carries on with its own state.
    pub fn store_timeout(self, timeout: Duration) -> Self {
        self.with(|c| c.store_timeout = timeout)
    }

    /// With a shared store, how long the refresh lock is held at most (default
    /// 15 s): if the process holding it dies, another takes over after this.
    /// Keep it above `refresh_timeout`.
    pub fn refresh_lock_ttl(self, ttl: Duration) -> Self {
        self.with(|c| c.refresh_lock_ttl = ttl)
    }
}

/// Metrics (cargo feature `opentelemetry`).
#[cfg(feature = "opentelemetry")]
impl WhatsAppAuthLayer {
    /// Records the stack's metrics with `meter` (cargo feature
    /// `opentelemetry`; see [`crate::telemetry`] for the instruments).
    /// Without it, the global meter provider's meter is taken when the
    /// first token cell is made (the first stack, or [`cell`](Self::cell)):
    /// install your provider before that, or pass its meter here.
    ///
    /// ```
    /// use opentelemetry::metrics::MeterProvider as _;
    /// use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
    /// use tower_whatsapp_auth::WhatsAppAuthLayer;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # let client = tower::service_fn(|_req: http::Request<tower_whatsapp_auth::ReplayBody>| async {
    /// #     Ok::<_, tower::BoxError>(http::Response::new(http_body_util::Empty::<bytes::Bytes>::new()))
    /// # });
    /// let exporter = InMemoryMetricExporter::default();
    /// let provider = SdkMeterProvider::builder()
    ///     .with_reader(PeriodicReader::builder(exporter.clone()).build())
    ///     .build();
    /// let cell = WhatsAppAuthLayer::new("EAAG-token")
    ///     .meter(provider.meter("tower-whatsapp-auth"))
    ///     .token_cell(client);
    /// cell.ready().await.unwrap();
    /// provider.force_flush().unwrap();
    /// let exported = exporter.get_finished_metrics().unwrap();
    /// let names: Vec<String> = exported
    ///     .iter()
    ///     .flat_map(|batch| batch.scope_metrics())
    ///     .flat_map(|scope| scope.metrics())
    ///     .map(|metric| metric.name().to_owned())
    ///     .collect();
    /// assert!(names.contains(&"whatsapp.token.validations".to_owned()), "{names:?}");
    /// # }
    /// ```
    pub fn meter(self, meter: opentelemetry::metrics::Meter) -> Self {
        self.with(|c| c.telemetry = c.telemetry.clone().with_meter(meter))
    }
}
