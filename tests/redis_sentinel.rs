//! The token store through Sentinel, against real processes on 127.0.0.1
//! (a master, its replica and a Sentinel, killed when the test ends): a
//! failover the Sentinel makes demotes the master the store talks to,
//! whose `READONLY` answers connect the store to the new master; then the
//! new master is killed (`SIGKILL`) and the store follows the next
//! promotion. Behind the `redis` feature:
//!
//! ```text
//! cargo test --features redis --test redis_sentinel
//! ```
#![cfg(feature = "redis")]

#[path = "support/redis_cluster.rs"]
mod deploy;

use std::time::{Duration, Instant, SystemTime};

use deploy::{cli, wait_until, RedisSentinel};
use tower_whatsapp_auth::{
    store::{RedisTokenStore, StoredToken, TokenStore},
    RedisConnection, Secret,
};

fn record(generation: u64) -> StoredToken {
    StoredToken {
        token: Secret::new(format!("EAAG-sentinel-{generation}")),
        expires_at: None,
        lineage: "sentinel".into(),
        saved_at: SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
        generation,
    }
}

/// Saves `generation`, retrying while the failover is under way (as the
/// cell's save does); how long it took.
async fn save_through(store: &RedisTokenStore, generation: u64) -> Duration {
    let started = Instant::now();
    loop {
        match store.save(record(generation)).await {
            Ok(()) => return started.elapsed(),
            Err(error) => {
                assert!(
                    started.elapsed() < Duration::from_secs(30),
                    "still failing: {error}"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_follows_the_master_sentinel_names() {
    let mut redis = RedisSentinel::start();
    let first = redis.master.port;
    let conn = RedisConnection::sentinel(&[&redis.sentinel_url()], "mymaster")
        .await
        .unwrap();
    let store = RedisTokenStore::new(conn, "wa-sentinel");
    save_through(&store, 1).await;
    assert_eq!(store.load().await.unwrap(), Some(record(1)));

    // A failover by the Sentinel: the old master turns replica, and the
    // store's connection to it meets READONLY (or is closed by it).
    // Asked again until the Sentinel takes it: it answers NOGOODSLAVE
    // until it has heard from the replica, INPROG while it works.
    wait_until(Duration::from_secs(40), "the replica is promoted", || {
        if redis.master_port() == redis.replica.port {
            return true;
        }
        cli(redis.sentinel.port, &["SENTINEL", "FAILOVER", "mymaster"]);
        std::thread::sleep(Duration::from_millis(250));
        false
    });
    wait_until(Duration::from_secs(30), "the old master follows", || {
        let info = cli(first, &["INFO", "replication"]);
        info.contains("role:slave") && info.contains("master_link_status:up")
    });
    save_through(&store, 2).await;
    assert_eq!(store.load().await.unwrap(), Some(record(2)));
    assert!(cli(redis.replica.port, &["GET", "{wa-sentinel}:token"]).contains("EAAG-sentinel-2"));

    // The new master killed: the Sentinel promotes the old one again, and
    // the store finds it.
    wait_until(
        Duration::from_secs(20),
        "the sentinel knows the replica",
        || {
            cli(redis.sentinel.port, &["SENTINEL", "REPLICAS", "mymaster"])
                .contains(&first.to_string())
        },
    );
    redis.replica.kill();
    save_through(&store, 3).await;
    assert_eq!(redis.master_port(), first);
    assert_eq!(store.load().await.unwrap(), Some(record(3)));
}
