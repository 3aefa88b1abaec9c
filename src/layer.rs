//! [`WhatsAppAuthLayer`]: the whole stack in one layer.

use std::sync::Arc;
use std::time::Duration;

use tower_layer::Layer;

use crate::bounds::HttpService;
use crate::classify::ClassifyLayer;
use crate::config::{Config, ExchangeMethod};
use crate::error::Error;
use crate::permissions::Permission;
use crate::refresh::RefreshOn190;
use crate::secret::Secret;
use crate::service::WhatsAppAuth;
use crate::source::TokenSource;
use crate::store::TokenStore;
use crate::token::{Supply, TokenCell};
use crate::validate::ValidateIfNeededLayer;

/// Layer that keeps a WhatsApp Cloud API client authenticated.
///
/// It builds [`WhatsAppAuth`] from the public parts:
/// [`ValidateIfNeeded`](crate::ValidateIfNeeded) over
/// [`Classify`](crate::Classify) over your client, driven by the
/// [`RefreshOn190`] retry policy, with bodies made replayable as
/// [`BufferBody`](crate::BufferBody) would. The wrapped service receives
/// `http::Request<`[`ReplayBody`](crate::ReplayBody)`>`, so a hyper-util
/// client is a `Client<_, ReplayBody>`; see the [crate docs](crate) for a
/// full example. Each call to [`layer`](Layer::layer) creates one
/// [`TokenCell`], shared by all clones of the resulting service.
///
/// Requests that Graph refuses for a reason the stack cannot repair (a dead
/// token, a missing permission, an expired token after one refresh and
/// replay) fail with [`Error`]; every other answer, rate limits and 5xx
/// included, is passed through untouched.
#[derive(Clone, Debug)]
pub struct WhatsAppAuthLayer {
    config: Config,
    supply: Supply,
}

impl WhatsAppAuthLayer {
    /// A layer for `token`: a `&str` or `String` holding a system-user or
    /// user access token.
    ///
    /// A token that cannot be sent in a header (control characters, empty)
    /// makes every request fail with [`Error::Config`]; check it at start-up
    /// with [`check`](Self::check).
    pub fn new(token: impl Into<Secret>) -> WhatsAppAuthLayer {
        WhatsAppAuthLayer {
            config: Config::new(Some(token.into())),
            supply: Supply::default(),
        }
    }

    /// A layer whose tokens come from `source` (see [`crate::source`]): a
    /// file or environment variable re-read on renewal, an exchange, or your
    /// own async closure.
    pub fn from_source(source: impl TokenSource) -> WhatsAppAuthLayer {
        WhatsAppAuthLayer {
            config: Config::new(None),
            supply: Supply {
                source: Some(Arc::new(source)),
                store: None,
            },
        }
    }

    /// Persists renewed tokens in `store` and reads it before the first
    /// request (see [`crate::store`]).
    pub fn token_store(mut self, store: impl TokenStore) -> Self {
        self.supply.store = Some(Arc::new(store));
        self
    }

    /// How long any call to the token store may take (default 500 ms);
    /// past it, the stack carries on with its own state.
    pub fn store_timeout(mut self, timeout: Duration) -> Self {
        self.config.store_timeout = timeout;
        self
    }

    /// With a shared store, how long the refresh lock is held at most (default
    /// 15 s): if the process holding it dies, another takes over after this.
    /// Keep it above `refresh_timeout`.
    pub fn refresh_lock_ttl(mut self, ttl: Duration) -> Self {
        self.config.refresh_lock_ttl = ttl;
        self
    }

    /// When a token's expiry is known, renew it this long before (default
    /// 5 minutes), or `fraction` of its remaining lifetime before if that is
    /// longer (default 0.1).
    pub fn refresh_window(mut self, minimum: Duration, fraction: f64) -> Self {
        self.config.refresh_window = minimum;
        self.config.refresh_window_fraction = fraction;
        self
    }

    /// Widens each token's refresh window by a random part of up to
    /// `fraction` of it (default 0.1), so replicas do not renew in lockstep.
    pub fn refresh_jitter(mut self, fraction: f64) -> Self {
        self.config.refresh_jitter = fraction;
        self
    }

    /// While the token is dead, how often the source is asked whether it has
    /// a different one (default 30 s).
    pub fn dead_recheck(mut self, interval: Duration) -> Self {
        self.config.dead_recheck = interval;
        self
    }

    /// With app credentials, validation uses `/debug_token`, which also tells
    /// the expiry (default). `false` validates with the phone number node.
    pub fn validate_with_debug_token(mut self, enabled: bool) -> Self {
        self.config.use_debug_token = enabled;
        self
    }

    /// The WhatsApp phone number id, used for validation
    /// (`GET /{version}/{phone-number-id}`). Without it, `/me` is used.
    pub fn phone_number_id(mut self, id: impl Into<String>) -> Self {
        self.config.phone_number_id = Some(id.into());
        self
    }

    /// Graph's base URL (default `https://graph.facebook.com`); tests point
    /// it at `http://127.0.0.1:PORT`.
    pub fn graph_base(mut self, url: impl Into<String>) -> Self {
        self.config.graph_base = url.into();
        self
    }

    /// The Graph API version segment, e.g. `v25.0`.
    pub fn graph_version(mut self, version: impl Into<String>) -> Self {
        self.config.graph_version = version.into();
        self
    }

    /// The Meta app id: with [`app_secret`](Self::app_secret), enables
    /// renewal with `fb_exchange_token`.
    pub fn app_id(mut self, app_id: impl Into<String>) -> Self {
        self.config.app_id = Some(app_id.into());
        self
    }

    /// The Meta app secret: every call then carries `appsecret_proof`; with
    /// [`app_id`](Self::app_id), enables renewal.
    pub fn app_secret(mut self, secret: impl Into<Secret>) -> Self {
        self.config.app_secret = Some(secret.into());
        self
    }

    /// Sets both the app id and the app secret.
    pub fn app_credentials(self, app_id: impl Into<String>, secret: impl Into<Secret>) -> Self {
        self.app_id(app_id).app_secret(secret)
    }

    /// How long a validation holds (default 1 hour).
    pub fn validation_interval(mut self, interval: Duration) -> Self {
        self.config.validation_interval = Some(interval);
        self
    }

    /// Turns validation off: the token is used until Graph refuses it.
    pub fn without_validation(mut self) -> Self {
        self.config.validation_interval = None;
        self
    }

    /// How long a validation call may take (default 10 s); past it,
    /// requests proceed and validation is retried later.
    pub fn validation_timeout(mut self, timeout: Duration) -> Self {
        self.config.validation_timeout = timeout;
        self
    }

    /// How soon validation is retried after Graph gave no verdict (default 30 s).
    pub fn validation_retry(mut self, delay: Duration) -> Self {
        self.config.validation_retry = delay;
        self
    }

    /// How long a token exchange may take (default 10 s).
    pub fn refresh_timeout(mut self, timeout: Duration) -> Self {
        self.config.refresh_timeout = timeout;
        self
    }

    /// Back-off after a failed exchange: `initial`, doubling per consecutive
    /// failure up to `max` (defaults 1 s and 60 s). Requests fail fast
    /// while it lasts.
    pub fn refresh_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.config.refresh_backoff = initial;
        self.config.refresh_backoff_max = max.max(initial);
        self
    }

    /// Largest request body buffered for replay (default 1 MiB).
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.config.body_limit = bytes;
        self
    }

    /// Logs a warning when Graph's usage headers (`X-App-Usage`,
    /// `X-Business-Use-Case-Usage`) report more than `percent` of an
    /// allowance used (default 80). Their parsed view is in every
    /// response's extensions as [`Usage`](crate::Usage).
    pub fn usage_warning(mut self, percent: f64) -> Self {
        self.config.usage_warning = percent;
        self
    }

    /// Largest error body read to classify it (default 64 KiB).
    pub fn error_body_limit(mut self, bytes: usize) -> Self {
        self.config.error_body_limit = bytes;
        self
    }

    /// How the exchange sends its parameters (default: POST form body).
    pub fn exchange_method(mut self, method: ExchangeMethod) -> Self {
        self.config.exchange_method = method;
        self
    }

    /// The WhatsApp Business Account id, against which permission grants are
    /// checked (a grant for another account does not count).
    pub fn business_account_id(mut self, id: impl Into<String>) -> Self {
        self.config.business_account_id = Some(id.into());
        self
    }

    /// Refuses to send unless the token has `permissions`: they are checked
    /// with the first validation, and when one is missing every request
    /// fails with [`Error::PermissionMissing`] without reaching Graph.
    pub fn require_permissions(mut self, permissions: &[Permission]) -> Self {
        self.config.required_permissions = permissions.to_vec();
        self
    }

    /// The messages endpoint of the configured phone number
    /// (`{graph_base}/{graph_version}/{phone-number-id}/messages`), or
    /// `None` without a phone number id. Requests may also give a bare path
    /// (`/{phone-number-id}/messages`): the stack completes it.
    ///
    /// ```
    /// use tower_whatsapp_auth::WhatsAppAuthLayer;
    /// let layer = WhatsAppAuthLayer::new("EAAG-token").phone_number_id("106540352242922");
    /// assert_eq!(
    ///     layer.messages_url().as_deref(),
    ///     Some("https://graph.facebook.com/v25.0/106540352242922/messages")
    /// );
    /// ```
    pub fn messages_url(&self) -> Option<String> {
        self.config.messages_url()
    }

    /// Checks the configuration without sending anything: the token can be
    /// sent in a header, the base URL is absolute, fractions are numbers in
    /// [0, 1], timeouts are above zero and durations below ten years. The
    /// stack never panics on a bad value (it clamps it), but it may not do
    /// what you meant: call this at start-up.
    ///
    /// ```
    /// use tower_whatsapp_auth::WhatsAppAuthLayer;
    /// assert!(WhatsAppAuthLayer::new("EAAG-ok").check().is_ok());
    /// assert!(WhatsAppAuthLayer::new("bad\ntoken").check().is_err());
    /// assert!(WhatsAppAuthLayer::new("t").graph_base("not a url").check().is_err());
    /// ```
    pub fn check(&self) -> Result<(), Error> {
        self.config.check()
    }

    /// Builds the shared token state for `service`, for assembling the parts
    /// ([`ValidateIfNeededLayer`], [`RefreshOn190`]) by hand. The cell makes
    /// its own Graph calls through `service`.
    ///
    /// [`ValidateIfNeededLayer`]: crate::ValidateIfNeededLayer
    pub fn token_cell<S: HttpService>(&self, service: S) -> TokenCell {
        TokenCell::new(self.config.clone(), self.supply.clone(), service)
    }
}

impl<S: HttpService> Layer<S> for WhatsAppAuthLayer {
    type Service = WhatsAppAuth<S>;

    fn layer(&self, service: S) -> WhatsAppAuth<S> {
        let cell = self.token_cell(service.clone());
        let classify = ClassifyLayer::new()
            .limit(self.config.error_body_limit)
            .usage_warning(self.config.usage_warning)
            .layer(service);
        let inner = ValidateIfNeededLayer::new(cell.clone()).layer(classify);
        WhatsAppAuth::new(inner, RefreshOn190::new(cell), self.config.body_limit)
    }
}
