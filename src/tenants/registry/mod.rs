//! The resident tenants: one token cell per phone number id, in a map
//! sharded by the id's hash. A request reads its shard (a read lock, one
//! look-up) and marks the entry seen; a phone number seen for the first
//! time is looked up once however many requests ask (single-flight, in a
//! task of its own, so a dropped request cancels nothing); idle tenants
//! and tenants past the capacity are evicted by a sweep, their cells (and
//! so their tasks) ending with the last request that holds them.

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::source::{Tenant, TenantSource, TenantStore, TenantToken};
use crate::config::Config;
use crate::error::Error;
use crate::ids::{hash_of, GraphId, IdMap};
use crate::permissions::Permission;
use crate::store::TokenStore;
use crate::token::{Supply, TokenCell};

/// How many shards the map has: enough that requests on many cores rarely
/// meet on one lock.
const SHARDS: usize = 32;

/// The attribute naming a tenant on its metrics, when asked for.
const TENANT_ATTRIBUTE: &str = "whatsapp.phone_number_id";

/// Makes the store a tenant's renewals go to besides its source (Redis, a
/// key naming the tenant).
pub(crate) type StoreFor = Arc<dyn Fn(&str) -> Arc<dyn TokenStore> + Send + Sync>;

/// Gives a new cell the stack's client for its own Graph calls.
pub(crate) type Binder = Box<dyn Fn(&TokenCell) + Send + Sync>;

/// The knobs of the tenant map.
#[derive(Clone)]
pub(crate) struct Settings {
    pub(crate) max_tenants: usize,
    pub(crate) idle_after: Duration,
    pub(crate) lookup_timeout: Duration,
    /// How long an id no tenant owns is answered from memory.
    pub(crate) unknown_for: Duration,
    pub(crate) store_for: Option<StoreFor>,
    /// Each tenant's metrics carry its phone number id.
    pub(crate) metrics_per_tenant: bool,
}

/// What the look-up of a phone number id ended in, for every request that
/// waits on it.
pub(crate) type Lookup = watch::Receiver<Option<Result<TokenCell, Error>>>;

mod evict;

/// One shard of the map.
type Shard = RwLock<IdMap<GraphId, Slot>>;

enum Slot {
    Resident(Resident),
    Loading(Lookup),
    /// The source knows no tenant for this id: answered from the finished
    /// look-up until `until`, so a stream of requests for an unknown
    /// number does not ask the platform's database each time.
    Unknown {
        until: Instant,
        lookup: Lookup,
    },
}

struct Resident {
    cell: TokenCell,
    waba_id: Option<Arc<str>>,
    /// The sweep epoch it was last used in.
    seen: AtomicU32,
}

/// Every resident tenant, and how to make more.
pub(crate) struct Registry {
    pub(crate) source: Arc<dyn TenantSource>,
    /// The settings every tenant's cell starts from (no token).
    pub(crate) template: Config,
    pub(crate) settings: Settings,
    shards: Box<[Shard]>,
    resident: AtomicUsize,
    /// How many ids are remembered as unknown (at most `max_tenants`).
    unknown: AtomicUsize,
    /// Advanced by each sweep: entries not seen for two whole epochs are
    /// idle.
    epoch: AtomicU32,
    pub(crate) binder: OnceLock<Binder>,
}

impl Registry {
    pub(crate) fn new(
        source: Arc<dyn TenantSource>,
        template: Config,
        settings: Settings,
    ) -> Registry {
        Registry {
            source,
            template: template.seal(),
            settings,
            shards: (0..SHARDS).map(|_| RwLock::default()).collect(),
            resident: AtomicUsize::new(0),
            unknown: AtomicUsize::new(0),
            epoch: AtomicU32::new(0),
            binder: OnceLock::new(),
        }
    }

    fn shard(&self, id: GraphId) -> usize {
        (hash_of(&id) >> 59) as usize % SHARDS
    }

    fn read(&self, shard: usize) -> RwLockReadGuard<'_, IdMap<GraphId, Slot>> {
        self.shards[shard].read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self, shard: usize) -> RwLockWriteGuard<'_, IdMap<GraphId, Slot>> {
        self.shards[shard]
            .write()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// The hot path: the cell of a resident tenant, marked seen.
    #[inline]
    pub(crate) fn resident(&self, id: GraphId) -> Option<TokenCell> {
        let shard = self.read(self.shard(id));
        let Some(Slot::Resident(entry)) = shard.get(&id) else {
            return None;
        };
        let epoch = self.epoch.load(Ordering::Relaxed);
        // Written only when it changes: most requests only read the line.
        if entry.seen.load(Ordering::Relaxed) != epoch {
            entry.seen.store(epoch, Ordering::Relaxed);
        }
        Some(entry.cell.clone())
    }

    /// The cell of `id`'s tenant, or the look-up to wait for (started here
    /// when no request started it yet).
    pub(crate) fn resolve(self: &Arc<Self>, id: GraphId) -> Result<TokenCell, Lookup> {
        let mut shard = self.write(self.shard(id));
        match shard.get(&id) {
            Some(Slot::Resident(entry)) => return Ok(entry.cell.clone()),
            Some(Slot::Loading(lookup)) => return Err(lookup.clone()),
            Some(Slot::Unknown { until, lookup }) if Instant::now() < *until => {
                return Err(lookup.clone())
            }
            Some(Slot::Unknown { .. }) | None => {}
        }
        let (publish, lookup) = watch::channel(None);
        if let Some(Slot::Unknown { .. }) = shard.insert(id, Slot::Loading(lookup.clone())) {
            self.unknown.fetch_sub(1, Ordering::Relaxed);
        }
        drop(shard);
        tokio::spawn(self.clone().look_up(id, publish));
        Err(lookup)
    }

    /// Asks the source for `id`'s tenant, bounded by the look-up timeout,
    /// and publishes what it found (or why not) to every waiting request.
    async fn look_up(
        self: Arc<Self>,
        id: GraphId,
        publish: watch::Sender<Option<Result<TokenCell, Error>>>,
    ) {
        // However this ends (a panic in the source included), the slot
        // does not stay loading.
        let slot = LoadingSlot {
            registry: &self,
            id,
            settled: false,
        };
        let limit = self.settings.lookup_timeout;
        let failed = |reason: String| Error::TenantLookup {
            phone_number_id: id.to_string(),
            reason,
        };
        let name = id.to_string();
        let found = match tokio::time::timeout(limit, self.source.tenant(&name)).await {
            Ok(Ok(Some(tenant))) => Ok(tenant),
            Ok(Ok(None)) => Err(Error::UnknownTenant {
                phone_number_id: id.to_string(),
            }),
            Ok(Err(e)) => Err(failed(e.to_string())),
            Err(_) => Err(failed(format!("no answer within {limit:?}"))),
        };
        match found {
            Ok(tenant) => {
                let cell = slot.settle(tenant);
                let _ = publish.send(Some(Ok(cell)));
            }
            Err(unknown @ Error::UnknownTenant { .. }) => {
                let _ = publish.send(Some(Err(unknown)));
                slot.unknown(publish.subscribe());
            }
            Err(failed) => {
                let _ = publish.send(Some(Err(failed)));
            }
        }
    }

    /// A cell for `tenant`, with the stack's client.
    fn cell_for(&self, id: GraphId, tenant: Tenant, replaced: bool) -> TokenCell {
        let id: Arc<str> = Arc::from(id.to_string());
        let mut config = self.template.clone();
        config.token = None;
        config.tenant = true;
        config.phone_number_id = Some(id.to_string());
        if self.settings.metrics_per_tenant {
            config.telemetry = config
                .telemetry
                .clone()
                .with_attribute(TENANT_ATTRIBUTE, &*id);
        }
        if let Some(waba) = &tenant.waba_id {
            config.business_account_id = Some(waba.clone());
            if config.required_permissions.is_empty() {
                config.required_permissions = vec![Permission::WhatsappBusinessMessaging];
            }
        }
        let source = TenantToken {
            source: self.source.clone(),
            phone_number_id: id.clone(),
            initial: tenant.token,
            can_exchange: config.app_credentials().is_some(),
            lookup_timeout: self.settings.lookup_timeout,
        };
        let store = TenantStore {
            source: self.source.clone(),
            phone_number_id: id.clone(),
            shared: self.settings.store_for.as_ref().map(|make| make(&id)),
            lookup_timeout: self.settings.lookup_timeout,
        };
        let supply = Supply {
            source: Some(Arc::new(source)),
            store: Some(Arc::new(store)),
            replaced,
        };
        let cell = TokenCell::new(config, supply);
        if let Some(bind) = self.binder.get() {
            bind(&cell);
        }
        cell
    }

    /// Makes `tenant` the resident tenant of `id` now, replacing any;
    /// `replaced`: put in place by hand (`TenantMap::replace`), so its token
    /// wins over one a shared store holds.
    pub(crate) fn install(&self, id: GraphId, tenant: Tenant, replaced: bool) -> TokenCell {
        let waba_id = tenant.waba_id.as_deref().map(Arc::from);
        let cell = self.cell_for(id, tenant, replaced);
        let entry = Resident {
            cell: cell.clone(),
            waba_id,
            seen: AtomicU32::new(self.epoch.load(Ordering::Relaxed)),
        };
        let replaced = self.write(self.shard(id)).insert(id, Slot::Resident(entry));
        match replaced {
            Some(Slot::Resident(old)) => old.cell.forget(&id.to_string()),
            Some(Slot::Unknown { .. }) => {
                self.unknown.fetch_sub(1, Ordering::Relaxed);
                self.resident.fetch_add(1, Ordering::Relaxed);
            }
            _ => {
                self.resident.fetch_add(1, Ordering::Relaxed);
            }
        }
        if self.len() > self.settings.max_tenants {
            self.evict(false, Some(id));
        }
        cell
    }

    /// Removes `id`'s tenant; its cell ends now (requests holding it fail).
    pub(crate) fn forget(&self, id: GraphId) -> bool {
        let mut shard = self.write(self.shard(id));
        if let Some(Slot::Unknown { .. }) = shard.get(&id) {
            // Asked for again from the next request on.
            shard.remove(&id);
            self.unknown.fetch_sub(1, Ordering::Relaxed);
            return false;
        }
        if !matches!(shard.get(&id), Some(Slot::Resident(_))) {
            return false;
        }
        let Some(Slot::Resident(entry)) = shard.remove(&id) else {
            return false;
        };
        drop(shard);
        self.resident.fetch_sub(1, Ordering::Relaxed);
        entry.cell.forget(&id.to_string());
        true
    }

    /// The phone number ids of the resident tenants of `waba_id`.
    pub(crate) fn numbers_of(&self, waba_id: &str) -> Vec<GraphId> {
        let mut found = Vec::new();
        for shard in 0..SHARDS {
            for (id, slot) in self.read(shard).iter() {
                if let Slot::Resident(entry) = slot {
                    if entry.waba_id.as_deref() == Some(waba_id) {
                        found.push(*id);
                    }
                }
            }
        }
        found
    }

    /// The cells of every resident tenant.
    pub(crate) fn cells(&self) -> Vec<TokenCell> {
        let mut cells = Vec::with_capacity(self.len());
        for shard in 0..SHARDS {
            for slot in self.read(shard).values() {
                if let Slot::Resident(entry) = slot {
                    cells.push(entry.cell.clone());
                }
            }
        }
        cells
    }

    /// How many ids are remembered as unknown.
    #[cfg(test)]
    pub(crate) fn unknown_len(&self) -> usize {
        self.unknown.load(Ordering::Relaxed)
    }

    /// How many tenants are resident.
    pub(crate) fn len(&self) -> usize {
        self.resident.load(Ordering::Relaxed)
    }
}

/// A loading slot until its look-up settles: a tenant then becomes
/// resident; anything else (none found, a failure, a panic) clears it.
struct LoadingSlot<'a> {
    registry: &'a Registry,
    id: GraphId,
    settled: bool,
}

impl LoadingSlot<'_> {
    fn settle(mut self, tenant: Tenant) -> TokenCell {
        self.settled = true;
        self.registry.install(self.id, tenant, false)
    }

    /// No tenant owns the id: remembered as unknown for a while, within
    /// the bound (else cleared, as any other failure).
    fn unknown(mut self, lookup: Lookup) {
        let registry = self.registry;
        let for_how_long = registry.settings.unknown_for;
        let max = registry.settings.max_tenants;
        if for_how_long.is_zero() || registry.unknown.load(Ordering::Relaxed) >= max {
            return;
        }
        let mut shard = registry.write(registry.shard(self.id));
        if let Some(slot @ Slot::Loading(_)) = shard.get_mut(&self.id) {
            *slot = Slot::Unknown {
                until: crate::clock::later(Instant::now(), for_how_long),
                lookup,
            };
            registry.unknown.fetch_add(1, Ordering::Relaxed);
            self.settled = true;
        }
    }
}

impl Drop for LoadingSlot<'_> {
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        let mut shard = self.registry.write(self.registry.shard(self.id));
        if matches!(shard.get(&self.id), Some(Slot::Loading(_))) {
            shard.remove(&self.id);
        }
    }
}
