//! [`WhatsAppAuthLayer`]: the whole stack in one layer.

use std::sync::{Arc, Mutex};

use tower_layer::Layer;

use crate::bounds::HttpService;
use crate::classify::ClassifyLayer;
use crate::config::Config;
use crate::error::Error;
use crate::refresh::RefreshOn190;
use crate::secret::Secret;
use crate::service::WhatsAppAuth;
use crate::source::TokenSource;
use crate::token::{Supply, TokenCell};
use crate::validate::ValidateIfNeededLayer;

mod builder;

/// Layer that keeps a WhatsApp Cloud API client authenticated.
///
/// It builds [`WhatsAppAuth`] from the public parts:
/// [`ValidateIfNeeded`](crate::validate::ValidateIfNeeded) over
/// [`Classify`](crate::classify::Classify) over your client, driven by the
/// [`RefreshOn190`] retry policy, with bodies made replayable as
/// [`BufferBody`](crate::body::BufferBody) would. The wrapped service receives
/// `http::Request<`[`ReplayBody`](crate::ReplayBody)`>`, so a hyper-util
/// client is a `Client<_, ReplayBody>`; see the [crate docs](crate) for a
/// full example.
///
/// Each stack it builds has one [`TokenCell`], shared by all clones of that
/// stack. The first stack's cell is reachable before the layer is handed to
/// `ServiceBuilder`, with [`cell`](Self::cell); clones of the layer share
/// it, and a layer changed by a builder method starts a cell of its own.
///
/// Requests that Graph refuses for a reason the stack cannot repair (a dead
/// token, a missing permission, an expired token after one refresh and
/// replay) fail with [`Error`]; every other answer, rate limits and 5xx
/// included, is passed through untouched.
#[derive(Clone, Debug)]
pub struct WhatsAppAuthLayer {
    config: Config,
    supply: Supply,
    /// The cell of the first stack built from this layer (or one of its
    /// clones): made by [`cell`](Self::cell) or that first stack.
    first: Arc<Mutex<Option<TokenCell>>>,
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
            first: Arc::default(),
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
                replaced: false,
            },
            first: Arc::default(),
        }
    }

    /// A layer with no token of its own, whose settings the tenant-aware
    /// stack gives every tenant's cell.
    #[cfg_attr(not(feature = "tenants"), allow(dead_code))]
    pub(crate) fn template() -> WhatsAppAuthLayer {
        WhatsAppAuthLayer {
            config: Config::new(None),
            supply: Supply::default(),
            first: Arc::default(),
        }
    }

    /// The settings.
    #[cfg_attr(not(feature = "tenants"), allow(dead_code))]
    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    /// This layer with `change` made to its configuration, and a cell of
    /// its own for the stacks it builds.
    fn with(mut self, change: impl FnOnce(&mut Config)) -> Self {
        change(&mut self.config);
        self.first = Arc::default();
        self
    }

    fn first(&self) -> std::sync::MutexGuard<'_, Option<TokenCell>> {
        self.first.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The token state of the first stack this layer (or a clone of it)
    /// builds, before it is built: to wait for the first validation at
    /// start-up, read its counters, or diagnose the setup. The cell makes
    /// its own Graph calls through the client the stack wraps, once built.
    ///
    /// ```
    /// use tower::{ServiceBuilder, ServiceExt};
    /// use tower_whatsapp_auth::{ReplayBody, WhatsAppAuthLayer};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), tower::BoxError> {
    /// # let client = tower::service_fn(|_req: http::Request<ReplayBody>| async {
    /// #     Ok::<_, tower::BoxError>(http::Response::new(http_body_util::Empty::<bytes::Bytes>::new()))
    /// # });
    /// let layer = WhatsAppAuthLayer::new("EAAG-token");
    /// let cell = layer.cell();
    /// let whatsapp = ServiceBuilder::new().layer(layer).service(client);
    /// cell.ready().await?; // validated before serving
    /// assert_eq!(cell.stats().validations, 1);
    /// assert_eq!(whatsapp.token_cell().stats(), cell.stats());
    /// # Ok(()) }
    /// ```
    pub fn cell(&self) -> TokenCell {
        self.first()
            .get_or_insert_with(|| TokenCell::new(self.config.clone(), self.supply.clone()))
            .clone()
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
    /// [0, 1], timeouts are above zero and durations below ten years; once
    /// a stack is built over [`ReqwestClient`][reqwest-client] (with
    /// the `reqwest` feature), that it can reach an `https` base URL. The
    /// stack never panics on a bad value (it clamps it), but it may not do
    /// what you meant: call this at start-up.
    ///
    /// ```
    /// use tower_whatsapp_auth::WhatsAppAuthLayer;
    /// assert!(WhatsAppAuthLayer::new("EAAG-ok").check().is_ok());
    /// assert!(WhatsAppAuthLayer::new("bad\ntoken").check().is_err());
    /// assert!(WhatsAppAuthLayer::new("t").graph_base("not a url").check().is_err());
    /// ```
    ///
    #[cfg_attr(feature = "reqwest", doc = "[reqwest-client]: crate::ReqwestClient")]
    #[cfg_attr(not(feature = "reqwest"), doc = "[reqwest-client]: crate#features")]
    pub fn check(&self) -> Result<(), Error> {
        self.config.check()?;
        match &*self.first() {
            Some(cell) => cell.check_client(),
            None => Ok(()),
        }
    }

    /// The token state for a stack over `service`, for assembling the parts
    /// ([`ValidateIfNeededLayer`], [`RefreshOn190`]) by hand: the layer's
    /// [`cell`](Self::cell) for the first stack, a cell of its own for
    /// each later one. The cell makes its own Graph calls through `service`.
    ///
    /// [`ValidateIfNeededLayer`]: crate::validate::ValidateIfNeededLayer
    pub fn token_cell<S: HttpService>(&self, service: S) -> TokenCell {
        let mut first = self.first();
        let cell = match &*first {
            Some(cell) if !cell.is_bound() => cell.clone(),
            Some(_) => TokenCell::new(self.config.clone(), self.supply.clone()),
            None => first
                .insert(TokenCell::new(self.config.clone(), self.supply.clone()))
                .clone(),
        };
        cell.bind(service);
        cell
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
