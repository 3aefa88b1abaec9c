//! A Redis Cluster master killed mid-run (`SIGKILL`), on a cluster of its
//! own (six `redis-server` processes on 127.0.0.1, killed when the test
//! ends): two replicas of the tenant stack keep sending for a tenant
//! whose keys that master held, while Graph refuses the tenant's token as
//! expired. No request fails, the token is renewed at most twice (the
//! lock is best effort across a failover), the number's shared pace is
//! back within 3 s of the promotion, and both stacks end up sending with
//! one token. Behind the `redis-cluster`
//! feature:
//!
//! ```text
//! cargo test --features redis-cluster --test redis_failover
//! ```
#![cfg(all(feature = "redis-cluster", feature = "tenants", feature = "throughput"))]

#[path = "support/common/mod.rs"]
mod common;
#[path = "support/redis_cluster.rs"]
mod deploy;

use std::time::{Duration, Instant};

use common::fake_graph::tenants::FakeTenant;
use common::fake_graph::{FakeConfig, FakeGraph};
use common::sender::{https_client, text_message, HttpsClient};
use common::tenant_book::TenantBook;
use deploy::{cli, RedisCluster};
use http::Request;
use http_body_util::Full;
use tower::{Layer, ServiceExt};
use tower_whatsapp_auth::tenants::{WhatsAppTenants, WhatsAppTenantsLayer};
use tower_whatsapp_auth::throughput::{RedisPace, Throughput, ThroughputLayer};
use tower_whatsapp_auth::{store::RedisTokenStore, RedisConnection};

const SECRET: &str = "platform-app-secret";
const PREFIX: &str = "wa-failover";

type Paced = Throughput<WhatsAppTenants<HttpsClient>>;

/// One replica: its cluster connection for the tenants' tokens and for
/// the numbers' shared pace, in front of the tenant stack.
async fn replica(fake: &FakeGraph, book: &TenantBook, redis: &RedisCluster) -> Paced {
    let urls = redis.urls();
    let urls: Vec<&str> = urls.iter().map(String::as_str).collect();
    let conn = RedisConnection::cluster(&urls).await.unwrap();
    let store = RedisTokenStore::new(conn.clone(), PREFIX);
    let base = fake.base_url();
    let tenants = WhatsAppTenantsLayer::new(book.clone())
        .configure(move |auth| {
            auth.app_credentials("1234567890", SECRET)
                .graph_base(base)
                .store_timeout(Duration::from_millis(500))
                .refresh_lock_ttl(Duration::from_secs(2))
        })
        .store_per_tenant(move |phone| store.for_tenant(phone))
        .layer(https_client());
    let pace = RedisPace::new(conn, PREFIX).replicas(2);
    ThroughputLayer::new(80).shared(pace).layer(tenants)
}

/// A phone number whose token keys and pace key one master holds.
fn phone_on_one_master(redis: &RedisCluster) -> String {
    (1..)
        .map(|n| format!("1065403522{n:05}"))
        .find(|p| redis.master_of(&token_key(p)) == redis.master_of(&pace_key(p)))
        .unwrap()
}

fn token_key(phone: &str) -> String {
    format!("{{{PREFIX}:{phone}}}:token")
}

fn pace_key(phone: &str) -> String {
    format!("{PREFIX}:pace:{{{phone}}}")
}

async fn send(stack: &Paced, phone: &str, n: usize) -> u16 {
    let req = Request::post(format!("/{phone}/messages"))
        .body(Full::new(text_message(
            "15551234567",
            &format!("message {n}"),
        )))
        .unwrap();
    match tokio::time::timeout(Duration::from_secs(20), stack.clone().oneshot(req)).await {
        Ok(Ok(res)) => res.status().as_u16(),
        Ok(Err(e)) => panic!("message {n} failed: {e}"),
        Err(_) => panic!("message {n} hung"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_killed_mid_run_fails_no_request() {
    let mut redis = RedisCluster::start();
    let phone = phone_on_one_master(&redis);
    let tenant = FakeTenant::new(
        &phone,
        "500000000001",
        &format!("EAAGfailoverBusiness{}", "f".repeat(20)),
    );
    let config = FakeConfig {
        app_secret: Some(SECRET.into()),
        tenants: vec![tenant.clone()],
        ..FakeConfig::default()
    };
    let fake = FakeGraph::start(config).await;
    let book = TenantBook::of(std::slice::from_ref(&tenant));
    let (a, b) = (
        replica(&fake, &book, &redis).await,
        replica(&fake, &book, &redis).await,
    );
    assert_eq!(
        (
            send(&a, &tenant.phone, 0).await,
            send(&b, &tenant.phone, 1).await
        ),
        (200, 200)
    );

    let master = redis.master_of(&token_key(&tenant.phone));
    assert_eq!(master, redis.master_of(&pace_key(&tenant.phone)));
    redis.kill(master);
    // Graph refuses the token as expired while the master is gone: both
    // replicas renew, with Redis unanswering, and replay.
    fake.expire_all();
    let mut n = 2;
    for _ in 0..8 {
        let (x, y) = tokio::join!(send(&a, &tenant.phone, n), send(&b, &tenant.phone, n + 1));
        assert_eq!((x, y), (200, 200));
        n += 2;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    redis.wait_ok();
    // Shared pacing is back within 3 s of the promotion: the lease script
    // writes the number's key on the promoted master again.
    let promoted = redis.master_of(&pace_key(&tenant.phone));
    let before = cli(promoted, &["GET", &pace_key(&tenant.phone)]);
    let promoted_at = Instant::now();
    loop {
        assert_eq!(send(&a, &tenant.phone, n).await, 200);
        n += 1;
        if cli(promoted, &["GET", &pace_key(&tenant.phone)]) != before {
            break;
        }
        assert!(
            promoted_at.elapsed() < Duration::from_secs(3),
            "pacing still not shared 3 s after the promotion"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let exchanges = fake.exchanges_for(&tenant.waba);
    assert!((1..=2).contains(&exchanges), "{exchanges} renewals");
    // The replicas converge: their saves land on the promoted replica, the
    // first saved wins and the other replica adopts it.
    assert_ne!(promoted, master);
    assert_eq!(promoted, redis.master_of(&token_key(&tenant.phone)));
    let cells = [
        a.get_ref().tenants().cell(&tenant.phone).unwrap(),
        b.get_ref().tenants().cell(&tenant.phone).unwrap(),
    ];
    deploy::wait_until(Duration::from_secs(60), "every save landed", || {
        cells.iter().all(|c| !c.stats().save_behind)
    });
    let stored = cli(
        promoted,
        &["GET", &format!("{{{PREFIX}:{}}}:token", tenant.phone)],
    );
    let stored = stored
        .split("\"token\": \"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a stored token")
        .to_owned();
    // Every other token Graph issued is revoked: a replica still sending
    // with one would fail.
    for token in fake.tokens_of(&tenant.waba) {
        if token != stored {
            fake.revoke(&token, 460);
        }
    }
    assert_eq!(
        (
            send(&a, &tenant.phone, 100).await,
            send(&b, &tenant.phone, 101).await
        ),
        (200, 200),
        "both replicas send with the stored token"
    );
    assert!(fake.exchanges_for(&tenant.waba) <= 2);
}
