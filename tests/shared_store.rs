//! Replicas sharing one token store, on a paused clock: an in-memory store
//! with the same contract as `RedisTokenStore` (shared, a refresh lock with a
//! TTL), so every instant of the coordination is exact. The Redis tests
//! (`redis_replicas.rs`, `--features redis`) run the same flows against a
//! real redis-server.

#[path = "support/common/mod.rs"]
mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::fake_graph::{FakeConfig, FakeGraph};
use common::sender::{build_stack, status, Stack};
use tokio::time::Instant;
use tower_whatsapp_auth::{
    store::{RefreshLock, StoreError, StoredToken, TokenStore},
    TokenCell,
};

type Answer<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

const LOCK_TTL: Duration = Duration::from_secs(15);
const REFRESH_TIMEOUT: Duration = Duration::from_secs(10);

/// What the store holds, and how often it was read.
#[derive(Default)]
struct Held {
    token: Option<StoredToken>,
    lock: Option<(String, Instant)>,
    next_lock: u64,
    loads: u64,
}

/// A store shared by every replica in this process.
#[derive(Clone, Default)]
struct SharedMemory(Arc<Mutex<Held>>);

impl SharedMemory {
    fn held<R>(&self, f: impl FnOnce(&mut Held) -> R) -> R {
        f(&mut self.0.lock().unwrap())
    }
}

fn answer<'a, T: Send + 'a>(value: T) -> Answer<'a, T> {
    Box::pin(std::future::ready(Ok(value)))
}

impl TokenStore for SharedMemory {
    fn load(&self) -> Answer<'_, Option<StoredToken>> {
        answer(self.held(|h| {
            h.loads += 1;
            h.token.clone()
        }))
    }
    fn save(&self, token: StoredToken) -> Answer<'_, ()> {
        self.held(|h| h.token = Some(token));
        answer(())
    }
    fn is_shared(&self) -> bool {
        true
    }
    fn lock_refresh(&self, ttl: Duration) -> Answer<'_, Option<RefreshLock>> {
        answer(self.held(|h| {
            let now = Instant::now();
            if h.lock.as_ref().is_some_and(|(_, until)| *until > now) {
                return None;
            }
            h.next_lock += 1;
            let id = format!("lock-{}", h.next_lock);
            h.lock = Some((id.clone(), now + ttl));
            Some(RefreshLock(id))
        }))
    }
    fn unlock_refresh(&self, lock: RefreshLock) -> Answer<'_, ()> {
        self.held(|h| {
            if h.lock.as_ref().is_some_and(|(id, _)| *id == lock.0) {
                h.lock = None;
            }
        });
        answer(())
    }
}

fn replica(fake: &FakeGraph, config: &FakeConfig, store: &SharedMemory) -> (Stack, TokenCell) {
    let layer = fake
        .layer(config)
        .token_store(store.clone())
        .refresh_lock_ttl(LOCK_TTL)
        .refresh_timeout(REFRESH_TIMEOUT)
        .refresh_jitter(0.0);
    build_stack(layer, Duration::from_secs(60))
}

fn config() -> FakeConfig {
    FakeConfig {
        app_secret: Some("fake-app-secret".into()),
        token_uses: Some(1),
        ..FakeConfig::default()
    }
}

/// Two replicas meet the expiry together: one takes the lock and renews,
/// the other waits, then adopts the stored token without an exchange or a
/// validation of its own (Graph just issued it), and validates it only
/// after the validation interval. The lock is released at the end.
#[tokio::test(start_paused = true)]
async fn one_replica_renews_and_the_other_adopts_its_token() {
    let config = config();
    let fake = FakeGraph::start(config.clone()).await;
    fake.set_exchange_delay(Duration::from_secs(2));
    let store = SharedMemory::default();
    let (a, cell_a) = replica(&fake, &config, &store);
    let (b, cell_b) = replica(&fake, &config, &store);
    assert_eq!(status(&a, &fake).await.unwrap(), 200);
    let (ra, rb) = tokio::join!(status(&a, &fake), status(&b, &fake));
    assert_eq!((ra.unwrap(), rb.unwrap()), (200, 200));
    let graph = fake.counters();
    assert_eq!(graph.exchanges, 1, "one renewal for both replicas");
    assert_eq!(
        (cell_a.stats().generation, cell_b.stats().generation),
        (1, 1)
    );
    assert_eq!(
        (cell_a.stats().refreshes, cell_b.stats().refreshes),
        (1, 0),
        "A renewed, B adopted"
    );
    assert!(store.held(|h| h.lock.is_none()), "the lock was released");
    // B validated the configured token it started with, once; the token it
    // adopted Graph had just issued, so it is not validated…
    assert_eq!(cell_b.stats().validations, 1);
    // …until its validation interval comes round.
    tokio::time::advance(tower_whatsapp_auth::DEFAULT_VALIDATION_INTERVAL).await;
    assert_eq!(status(&b, &fake).await.unwrap(), 200);
    assert_eq!(
        cell_b.stats().validations,
        2,
        "validated after the interval"
    );
}

/// The process holding the lock died: the other polls the store with
/// back-off (not a busy loop), and takes the lock once its TTL has run out,
/// not before, then renews.
#[tokio::test(start_paused = true)]
async fn a_dead_lock_holder_is_outwaited_then_replaced() {
    let config = config();
    let fake = FakeGraph::start(config.clone()).await;
    let store = SharedMemory::default();
    let (b, _cell) = replica(&fake, &config, &store);
    assert_eq!(status(&b, &fake).await.unwrap(), 200);
    store.held(|h| h.lock = Some(("dead-process".into(), Instant::now() + LOCK_TTL)));
    let loads = store.held(|h| h.loads);
    let started = Instant::now();
    assert_eq!(status(&b, &fake).await.unwrap(), 200);
    let waited = started.elapsed();
    assert!(waited >= LOCK_TTL, "renewed after {waited:?}");
    assert!(waited < LOCK_TTL + Duration::from_millis(300), "{waited:?}");
    assert_eq!(fake.counters().exchanges, 1);
    let polls = store.held(|h| h.loads) - loads;
    // 15 s of polling, doubling from 20 ms to at most 250 ms apart.
    assert!((40..=100).contains(&polls), "{polls} store reads");
}

/// A lock that stays taken (another process keeps renewing it) is waited
/// out for the lock's TTL plus the refresh timeout, then overruled: this
/// replica renews alone rather than fail forever.
#[tokio::test(start_paused = true)]
async fn a_lock_that_never_frees_is_overruled_after_ttl_and_refresh_timeout() {
    let config = config();
    let fake = FakeGraph::start(config.clone()).await;
    let store = SharedMemory::default();
    let (b, _cell) = replica(&fake, &config, &store);
    assert_eq!(status(&b, &fake).await.unwrap(), 200);
    let forever = Instant::now() + Duration::from_secs(86_400);
    store.held(|h| h.lock = Some(("busy-process".into(), forever)));
    let started = Instant::now();
    assert_eq!(status(&b, &fake).await.unwrap(), 200);
    let waited = started.elapsed();
    assert!(
        waited >= LOCK_TTL + REFRESH_TIMEOUT,
        "renewed after {waited:?}"
    );
    assert!(waited < LOCK_TTL + REFRESH_TIMEOUT + Duration::from_millis(300));
    assert_eq!(fake.counters().exchanges, 1);
}
