//! Several replicas, one token: `RedisTokenStore` against a real
//! `redis-server` on 127.0.0.1 (started and stopped by each test) and the
//! embedded Graph fake. Behind the `redis` feature:
//!
//! ```text
//! cargo test --features redis --test redis_replicas
//! ```
#![cfg(all(feature = "redis", feature = "webhook"))]

#[path = "support/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::fake_graph::{FakeConfig, FakeGraph};
use common::redis_server::RedisServer;
use common::sender::{build_stack, message, status, Stack};
use tower::ServiceExt;
use tower_whatsapp_auth::{
    store::{RedisTokenStore, StoredToken, TokenStore},
    Secret, TokenCell,
};

const SECRET: &str = "fake-app-secret";

fn config(token_uses: Option<u64>) -> FakeConfig {
    FakeConfig {
        app_secret: Some(SECRET.into()),
        token_uses,
        ..FakeConfig::default()
    }
}

/// One replica: its own Redis connection and its own client stack.
async fn replica(
    fake: &FakeGraph,
    config: &FakeConfig,
    redis: &RedisServer,
    lock_ttl: Duration,
) -> (Stack, TokenCell) {
    let store = RedisTokenStore::connect(&redis.url(), "wa-test")
        .await
        .unwrap();
    let layer = fake
        .layer(config)
        .token_store(store)
        .refresh_lock_ttl(lock_ttl);
    build_stack(layer, Duration::from_secs(30))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_locks_once_and_releases_only_for_its_holder() {
    let redis = RedisServer::start();
    let store = RedisTokenStore::connect(&redis.url(), "wa-lock")
        .await
        .unwrap();
    assert_eq!(store.load().await.unwrap(), None);
    let token = StoredToken {
        token: Secret::new("EAAGstored"),
        expires_at: None,
        lineage: "abc".into(),
        saved_at: std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
        generation: 7,
    };
    store.save(token.clone()).await.unwrap();
    assert_eq!(store.load().await.unwrap(), Some(token));
    let lock = store
        .lock_refresh(Duration::from_secs(5))
        .await
        .unwrap()
        .expect("free lock");
    assert_eq!(
        store.lock_refresh(Duration::from_secs(5)).await.unwrap(),
        None,
        "held"
    );
    store
        .unlock_refresh(tower_whatsapp_auth::store::RefreshLock(
            "someone-else".into(),
        ))
        .await
        .unwrap();
    assert_eq!(
        store.lock_refresh(Duration::from_secs(5)).await.unwrap(),
        None,
        "only the holder releases"
    );
    store.unlock_refresh(lock).await.unwrap();
    assert!(
        store
            .lock_refresh(Duration::from_secs(5))
            .await
            .unwrap()
            .is_some(),
        "released"
    );
    assert!(!format!("{store:?}").contains("EAAG"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_replicas_through_an_expiry_make_one_exchange() {
    let redis = RedisServer::start();
    let config = config(Some(40));
    let fake = FakeGraph::start(config.clone()).await;
    fake.set_exchange_delay(Duration::from_millis(300));
    let mut replicas = Vec::new();
    for _ in 0..8 {
        replicas.push(replica(&fake, &config, &redis, Duration::from_secs(5)).await);
    }
    let mut tasks = tokio::task::JoinSet::new();
    for (stack, _) in &replicas {
        for _ in 0..100 {
            let (stack, req) = (stack.clone(), message(&fake));
            tasks.spawn(async move { stack.oneshot(req).await.map(|r| r.status()) });
        }
    }
    while let Some(done) = tasks.join_next().await {
        assert_eq!(done.unwrap().unwrap(), 200);
    }
    let graph = fake.counters();
    assert_eq!(graph.messages_accepted, 800);
    assert_eq!(graph.exchanges, 1, "one exchange cluster-wide: {graph:?}");
    let renewals: u64 = replicas
        .iter()
        .map(|(_, cell)| cell.stats().refreshes)
        .sum();
    assert_eq!(renewals, 1, "seven replicas took the token from Redis");
    assert!(
        graph.validations <= 8,
        "at most one validation per replica: {graph:?}"
    );
    assert!(replicas
        .iter()
        .all(|(_, cell)| cell.stats().generation == 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_dying_with_the_lock_is_taken_over_within_the_lock_ttl() {
    let redis = RedisServer::start();
    let config = config(Some(0));
    let fake = FakeGraph::start(config.clone()).await;
    let ttl = Duration::from_secs(1);
    let (doomed, _) = replica(&fake, &config, &redis, ttl).await;
    let (survivor, survivor_cell) = replica(&fake, &config, &redis, ttl).await;

    // The first replica takes the lock and starts a slow exchange, then dies.
    fake.set_exchange_delay(Duration::from_secs(10));
    let started = Instant::now();
    let dying = tokio::spawn(doomed.oneshot(message(&fake)));
    while fake.counters().exchanges == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    dying.abort();
    fake.set_exchange_delay(Duration::ZERO);

    // The other replica waits for the lock to expire, then renews.
    let res = survivor.oneshot(message(&fake)).await.unwrap();
    assert_eq!(res.status(), 200);
    let elapsed = started.elapsed();
    assert!(
        elapsed < ttl + Duration::from_millis(700),
        "took over in {elapsed:?}"
    );
    assert_eq!(survivor_cell.stats().refreshes, 1);
    assert_eq!(
        fake.counters().exchanges,
        2,
        "the dead replica's exchange and the survivor's"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_succeed_while_redis_is_down() {
    let mut redis = RedisServer::start();
    let config = config(None);
    let fake = FakeGraph::start(config.clone()).await;
    let mut replicas = Vec::new();
    for _ in 0..3 {
        replicas.push(replica(&fake, &config, &redis, Duration::from_secs(5)).await);
    }
    for (stack, _) in &replicas {
        assert_eq!(status(stack, &fake).await.unwrap(), 200);
    }
    redis.stop();
    fake.expire_all();
    let started = Instant::now();
    for (stack, _) in &replicas {
        for _ in 0..10 {
            assert_eq!(status(stack, &fake).await.unwrap(), 200);
        }
    }
    // Each replica renewed on its own, without waiting on Redis for long.
    let exchanges = fake.counters().exchanges;
    assert!((1..=3).contains(&exchanges), "{exchanges}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

/// Two replicas receiving the same delivery (Meta retried it, and a load
/// balancer sent each copy elsewhere): the message is processed once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_process_a_redelivered_message_once() {
    use tower_whatsapp_auth::webhook::{Deduplicator, Notification, RedisDeduplicator};
    let redis = RedisServer::start();
    let replica = || async {
        let client = redis::Client::open(redis.url()).unwrap();
        let conn = client.get_connection_manager().await.unwrap();
        RedisDeduplicator::new(conn, "wa-dedupe", Duration::from_secs(3600))
    };
    let (a, b) = (replica().await, replica().await);
    let delivery = common::webhooks::text_delivery("1", "15551234567", "wamid.TWICE", "hi");
    let mut processed = 0;
    for replica in [&a, &b, &a] {
        let parsed = Notification::parse(&delivery).unwrap();
        for (_, message) in parsed.messages() {
            if replica.first_sighting(&message.id).await.unwrap() {
                processed += 1;
            }
        }
    }
    assert_eq!(processed, 1);
    assert!(b.first_sighting("wamid.OTHER").await.unwrap());
}

/// A Redis that hangs (frozen: connections open, no answer), not one that
/// refuses: every store call gives up after `store_timeout`, each replica
/// renews on its own, and no request waits on Redis longer than that.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_request_waits_on_a_hanging_redis_longer_than_the_store_timeout() {
    let redis = RedisServer::start();
    let config = config(None);
    let fake = FakeGraph::start(config.clone()).await;
    let store_timeout = Duration::from_millis(300);
    let mut replicas = Vec::new();
    for _ in 0..2 {
        let store = RedisTokenStore::connect(&redis.url(), "wa-hang")
            .await
            .unwrap();
        let layer = fake
            .layer(&config)
            .token_store(store)
            .store_timeout(store_timeout)
            .without_validation();
        replicas.push(build_stack(layer, Duration::from_secs(30)));
    }
    for (stack, _) in &replicas {
        assert_eq!(status(stack, &fake).await.unwrap(), 200);
    }
    redis.pause();
    fake.expire_all();
    for (stack, cell) in &replicas {
        let started = Instant::now();
        assert_eq!(status(stack, &fake).await.unwrap(), 200);
        // A renewal asks the store at most three times (read, lock, save),
        // each bounded by store_timeout; the exchange and replay are quick.
        let took = started.elapsed();
        assert!(
            took < store_timeout * 3 + Duration::from_millis(700),
            "{took:?}"
        );
        assert_eq!(cell.stats().generation, 1);
    }
    let exchanges = fake.counters().exchanges;
    assert_eq!(exchanges, 2, "each replica renewed alone");
    redis.resume();
}
