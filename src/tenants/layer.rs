//! [`WhatsAppTenantsLayer`]: many businesses, one stack.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tower_layer::Layer;

use super::handle::{Shared, TenantMap};
use super::registry::{Registry, Settings, StoreFor};
use super::service::WhatsAppTenants;
use super::source::TenantSource;
use crate::bounds::HttpService;
use crate::calls::GraphIo;
use crate::classify::ClassifyLayer;
use crate::error::Error;
use crate::layer::WhatsAppAuthLayer;
use crate::store::TokenStore;

/// Layer of the tenant-aware stack: one client, one token cell per phone
/// number id, each created on first use from a [`TenantSource`]. See the
/// [module docs](super).
#[derive(Clone)]
pub struct WhatsAppTenantsLayer {
    source: Arc<dyn TenantSource>,
    settings: WhatsAppAuthLayer,
    tenants: Settings,
    validations_in_flight: usize,
    /// The tenant map of the stacks this layer (and its clones) builds,
    /// made on first use.
    built: Arc<OnceLock<TenantMap>>,
}

impl WhatsAppTenantsLayer {
    /// A layer whose tenants come from `source`: 10,000 resident at most,
    /// evicted after 15 minutes unused, looked up within 5 seconds, 16
    /// validations in flight at most.
    pub fn new(source: impl TenantSource) -> WhatsAppTenantsLayer {
        WhatsAppTenantsLayer {
            source: Arc::new(source),
            settings: WhatsAppAuthLayer::template(),
            tenants: Settings {
                max_tenants: 10_000,
                idle_after: Duration::from_secs(15 * 60),
                lookup_timeout: Duration::from_secs(5),
                unknown_for: Duration::from_secs(30),
                store_for: None,
                metrics_per_tenant: false,
            },
            validations_in_flight: 16,
            built: Arc::default(),
        }
    }

    fn with(mut self, change: impl FnOnce(&mut Self)) -> Self {
        change(&mut self);
        self.built = Arc::default();
        self
    }

    /// Every tenant's settings, as a [`WhatsAppAuthLayer`] would take them:
    /// the platform's app credentials (for `/debug_token`, renewal and
    /// `appsecret_proof`), the Graph base URL and version, timeouts and
    /// intervals. The token comes from each tenant.
    ///
    /// ```
    /// # use tower_whatsapp_auth::tenants::{tenant_fn, Tenant, WhatsAppTenantsLayer};
    /// # let source = tenant_fn(|_: String| async { Ok::<_, tower::BoxError>(None::<Tenant>) });
    /// let layer = WhatsAppTenantsLayer::new(source)
    ///     .configure(|auth| auth.app_credentials("1234567890", "app-secret").graph_version("v25.0"));
    /// assert!(layer.check().is_ok());
    /// ```
    pub fn configure(self, settings: impl FnOnce(WhatsAppAuthLayer) -> WhatsAppAuthLayer) -> Self {
        self.with(|l| l.settings = settings(l.settings.clone()))
    }

    /// How many tenants stay resident at most (default 10,000): past it,
    /// the least recently used are evicted.
    pub fn max_tenants(self, tenants: usize) -> Self {
        self.with(|l| l.tenants.max_tenants = tenants.max(1))
    }

    /// A tenant unused this long is evicted (default 15 minutes): it costs
    /// nothing until its next request looks it up again.
    pub fn idle_after(self, idle: Duration) -> Self {
        self.with(|l| l.tenants.idle_after = idle)
    }

    /// How long looking a tenant up in the source may take (default 5 s).
    pub fn lookup_timeout(self, timeout: Duration) -> Self {
        self.with(|l| l.tenants.lookup_timeout = timeout)
    }

    /// How long a phone number id the source knows no tenant for is
    /// answered [`Error::UnknownTenant`] without asking the source again
    /// (default 30 s; zero asks every time). At most `max_tenants` such
    /// ids are remembered; [`TenantMap::replace`] and [`TenantMap::forget`]
    /// end it for their number at once.
    pub fn remember_unknown_for(self, duration: Duration) -> Self {
        self.with(|l| l.tenants.unknown_for = duration)
    }

    /// How many validations may be in flight at once across tenants
    /// (default 16), so a cold start of many tenants does not stampede
    /// Graph.
    pub fn max_validations_in_flight(self, validations: usize) -> Self {
        self.with(|l| l.validations_in_flight = validations.max(1))
    }

    /// A token store per tenant besides its source, e.g. Redis under a key
    /// naming the tenant, so replicas renew each tenant's token once
    /// between them (its lock is per tenant).
    pub fn store_per_tenant<T: TokenStore>(
        self,
        store: impl Fn(&str) -> T + Send + Sync + 'static,
    ) -> Self {
        let make: StoreFor = Arc::new(move |id| Arc::new(store(id)) as Arc<dyn TokenStore>);
        self.with(|l| l.tenants.store_for = Some(make))
    }

    /// Labels every tenant's metrics (validations, renewals, Graph errors,
    /// replays, waits, the expiry gauge, the stack's own calls) with
    /// `whatsapp.phone_number_id`: one series per tenant, so mind how many
    /// tenants an alert or a dashboard spans. Off by default: the
    /// tenants' measurements then add up in the same series.
    ///
    /// ```
    /// # use tower_whatsapp_auth::tenants::{tenant_fn, Tenant, WhatsAppTenantsLayer};
    /// # let source = tenant_fn(|_: String| async { Ok::<_, tower::BoxError>(None::<Tenant>) });
    /// let meter = opentelemetry::global::meter("whatsapp");
    /// let layer = WhatsAppTenantsLayer::new(source)
    ///     .configure(|auth| auth.app_credentials("1234567890", "app-secret").meter(meter))
    ///     .metrics_per_tenant(true);
    /// # let _ = layer;
    /// ```
    #[cfg(feature = "opentelemetry")]
    pub fn metrics_per_tenant(self, per_tenant: bool) -> Self {
        self.with(|l| l.tenants.metrics_per_tenant = per_tenant)
    }

    /// Checks the settings without sending anything; see
    /// [`WhatsAppAuthLayer::check`].
    pub fn check(&self) -> Result<(), Error> {
        self.settings.check()?;
        match self.settings.config().app_credentials() {
            Some(_) => Ok(()),
            None => Err(Error::Config(
                "the tenant-aware stack needs the platform's app id and secret (configure(|auth| auth.app_credentials(..)))"
                    .into(),
            )),
        }
    }

    /// The tenants of the stacks this layer (and its clones) builds:
    /// reachable before the layer goes into `ServiceBuilder`.
    pub fn tenants(&self) -> TenantMap {
        self.built
            .get_or_init(|| {
                let mut template = self.settings.config().clone();
                template.validation_gate = Some(Arc::new(tokio::sync::Semaphore::new(
                    self.validations_in_flight,
                )));
                let graph = GraphIo::new(Arc::new(template.clone()));
                let registry = Registry::new(self.source.clone(), template, self.tenants.clone());
                let registry = Arc::new(registry);
                TenantMap {
                    shared: Arc::new(Shared {
                        registry,
                        graph,
                        sweeping: AtomicBool::new(false),
                    }),
                }
            })
            .clone()
    }
}

impl<S: HttpService> Layer<S> for WhatsAppTenantsLayer {
    type Service = WhatsAppTenants<S>;

    fn layer(&self, client: S) -> WhatsAppTenants<S> {
        let tenants = self.tenants();
        tenants.shared.graph.bind(client.clone());
        // New tenants' cells call Graph through the first stack's client.
        let shared = Mutex::new(client.clone());
        let _ = tenants.shared.registry.binder.set(Box::new(move |cell| {
            let client = shared.lock().unwrap_or_else(|p| p.into_inner()).clone();
            cell.bind(client);
        }));
        let config = self.settings.config();
        let classify = ClassifyLayer::new()
            .limit(config.error_body_limit)
            .usage_warning(config.usage_warning)
            .layer(client);
        WhatsAppTenants::new(classify, tenants, config.body_limit)
    }
}

impl std::fmt::Debug for WhatsAppTenantsLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WhatsAppTenantsLayer")
            .field("settings", &self.settings)
            .field("max_tenants", &self.tenants.max_tenants)
            .field("idle_after", &self.tenants.idle_after)
            .finish_non_exhaustive()
    }
}
