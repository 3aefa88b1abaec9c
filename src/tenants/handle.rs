//! [`TenantMap`]: the platform's handle on the tenant map, for webhooks and
//! admin actions (a business removed the app; a business onboarded), and
//! Embedded Signup.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::registry::Registry;
use super::signup::{onboard, Onboarded};
use super::source::Tenant;
use crate::calls::GraphIo;
use crate::error::Error;
use crate::ids::GraphId;
use crate::token::TokenCell;
#[cfg(feature = "webhook")]
use crate::webhook::Notification;

/// The tenants of a [`WhatsAppTenantsLayer`](super::WhatsAppTenantsLayer)
/// and of every stack it builds: reachable before the layer is handed to
/// `ServiceBuilder` ([`WhatsAppTenantsLayer::tenants`](super::WhatsAppTenantsLayer::tenants)),
/// cheap to clone.
///
/// ```
/// use tower_whatsapp_auth::tenants::{tenant_fn, Tenant, WhatsAppTenantsLayer};
/// let layer = WhatsAppTenantsLayer::new(tenant_fn(|_phone: String| async {
///     Ok::<_, tower::BoxError>(Some(Tenant::new("EAAG-business-token")))
/// }));
/// let tenants = layer.tenants();
/// // A business removed the app: its phone number's token is not used again.
/// assert!(!tenants.forget("106540352242922"), "not resident yet");
/// assert_eq!(tenants.len(), 0);
/// ```
#[derive(Clone)]
pub struct TenantMap {
    /// One reference count, taken and dropped with every clone of a stack
    /// (one per message with `oneshot`): three had been.
    pub(crate) shared: Arc<Shared>,
}

/// What every handle and stack of a tenant map shares.
pub(crate) struct Shared {
    pub(crate) registry: Arc<Registry>,
    /// The stack's own Graph calls that concern no tenant (Embedded
    /// Signup), through the client of the first stack built.
    pub(crate) graph: GraphIo,
    pub(crate) sweeping: AtomicBool,
}

impl TenantMap {
    /// The token cell of `phone_number_id`'s tenant, when it is resident:
    /// its stats, `ready()`, `diagnose()`.
    pub fn cell(&self, phone_number_id: &str) -> Option<TokenCell> {
        self.shared
            .registry
            .resident(GraphId::parse(phone_number_id)?)
    }

    /// How many tenants are resident.
    pub fn len(&self) -> usize {
        self.shared.registry.len()
    }

    /// Whether no tenant is resident.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Ends `phone_number_id`'s tenant now: its token is not sent again,
    /// and requests holding it fail with
    /// [`Error::TenantRemoved`](crate::Error::TenantRemoved). The next
    /// request for the number asks the [`TenantSource`](super::TenantSource)
    /// again. Whether it was resident.
    pub fn forget(&self, phone_number_id: &str) -> bool {
        GraphId::parse(phone_number_id).is_some_and(|id| self.shared.registry.forget(id))
    }

    /// [`forget`](Self::forget)s every resident tenant of the WhatsApp
    /// Business Account `waba_id` (as [`Tenant::waba_id`] named it); how
    /// many.
    pub fn forget_business(&self, waba_id: &str) -> usize {
        let numbers = self.shared.registry.numbers_of(waba_id);
        numbers
            .into_iter()
            .filter(|&id| self.shared.registry.forget(id))
            .count()
    }

    /// Makes `tenant` the tenant of `phone_number_id` now, replacing the
    /// resident one (a business onboarded again, with a new token); its
    /// cell. [`Error::UnknownTenant`] when `phone_number_id` cannot be a
    /// Graph id (digits, no leading zero).
    pub fn replace(&self, phone_number_id: &str, tenant: Tenant) -> Result<TokenCell, Error> {
        let id = GraphId::parse(phone_number_id).ok_or_else(|| Error::UnknownTenant {
            phone_number_id: phone_number_id.to_owned(),
        })?;
        Ok(self.shared.registry.install(id, tenant, true))
    }

    /// Evicts the tenants not used between the last three sweeps (and,
    /// past the capacity, the least recently used): their cells end with
    /// the last request that holds them. The stack sweeps by itself every
    /// half `idle_after`, so a tenant goes after `idle_after` to 1.5 times
    /// it unused; how many went.
    pub fn sweep(&self) -> usize {
        self.shared.registry.sweep()
    }

    /// Acts on a webhook delivery: every `account_update` that says a
    /// business removed the app or unshared its account
    /// (`PARTNER_APP_UNINSTALLED`, `PARTNER_REMOVED`, `ACCOUNT_DELETED`)
    /// ends that business's tenants now, not at their next 190. How many
    /// tenants ended. (Tell your own database too: the next request for
    /// the number asks the source.)
    ///
    /// ```
    /// # use tower_whatsapp_auth::tenants::{tenant_fn, Tenant, WhatsAppTenantsLayer};
    /// # let tenants = WhatsAppTenantsLayer::new(tenant_fn(|_: String| async {
    /// #     Ok::<_, tower::BoxError>(None::<Tenant>)
    /// # })).tenants();
    /// let delivery: tower_whatsapp_auth::webhook::Notification = serde_json::from_str(
    ///     r#"{"object":"whatsapp_business_account","entry":[{"id":"2949482758682047","changes":[{"field":"account_update",
    ///        "value":{"event":"PARTNER_APP_UNINSTALLED","waba_info":{"waba_id":"184943124712545"}}}]}]}"#,
    /// )?;
    /// assert_eq!(tenants.on_webhook(&delivery), 0); // none of its numbers was resident
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    #[cfg(feature = "webhook")]
    pub fn on_webhook(&self, delivery: &Notification) -> usize {
        let mut ended = 0;
        for (entry, update) in delivery.account_updates() {
            if !update.ends_access() {
                continue;
            }
            // Partner events name the account in `waba_info` (their entry
            // is the partner's business); others in the entry.
            let waba = update.waba_info.as_ref().and_then(|i| i.waba_id.as_deref());
            ended += self.forget_business(waba.unwrap_or(&entry.id));
            if let Some(number) = &update.phone_number {
                ended += usize::from(self.forget(number));
            }
        }
        ended
    }

    /// Embedded Signup: exchanges the `code` the signup returned (valid for
    /// about 30 seconds) for the business's token, server to server with
    /// the app id and secret (a POST form, so the secret stays out of URLs,
    /// unless `exchange_method(ExchangeMethod::GetQuery)` asks for the
    /// documented GET), and asks `/debug_token` what it covers. Keep the
    /// token where your [`TenantSource`](super::TenantSource) reads it. The
    /// stack must have been built (its client makes the calls).
    pub async fn exchange_code(&self, code: &str) -> Result<Onboarded, Error> {
        onboard(&self.shared.graph, code).await
    }

    /// Waits until every resident tenant's token work due now is done (see
    /// [`TokenCell::finish_work`]): for a graceful shutdown.
    pub async fn finish_work(&self) {
        for cell in self.shared.registry.cells() {
            cell.finish_work().await;
        }
    }

    /// Starts the sweeper once: a task that sweeps every half `idle_after`
    /// and ends with the tenant map.
    pub(crate) fn start_sweeping(&self) {
        if self.shared.sweeping.swap(true, Ordering::AcqRel) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.shared.sweeping.store(false, Ordering::Release);
            return;
        };
        let every = (self.shared.registry.settings.idle_after / 2)
            .max(std::time::Duration::from_millis(10));
        let shared = Arc::downgrade(&self.shared);
        runtime.spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(shared) = shared.upgrade() else {
                    return;
                };
                let evicted = shared.registry.sweep();
                if evicted > 0 {
                    let resident = shared.registry.len();
                    tracing::debug!(evicted, resident, "idle tenants evicted");
                }
            }
        });
    }
}

impl std::fmt::Debug for TenantMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantMap")
            .field("resident", &self.len())
            .finish_non_exhaustive()
    }
}
