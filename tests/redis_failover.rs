//! A Redis Cluster master killed mid-run (`SIGKILL`), on a cluster of its
//! own (six `redis-server` processes on 127.0.0.1, killed when the test
//! ends): two replicas of the tenant stack keep sending for a tenant
//! whose keys that master held, while Graph refuses the tenant's token as
//! expired. No request fails, the token is renewed at most twice (the
//! lock is best effort across a failover), and once the replica is
//! promoted both stacks send with one token. Behind the `redis-cluster`
//! feature:
//!
//! ```text
//! cargo test --features redis-cluster --test redis_failover
//! ```
#![cfg(feature = "redis-cluster")]

#[path = "../examples/common/mod.rs"]
mod common;
#[path = "support/redis_cluster.rs"]
mod deploy;

use std::time::Duration;

use common::fake_graph::tenants::FakeTenant;
use common::fake_graph::{FakeConfig, FakeGraph};
use common::sender::{https_client, text_message, HttpsClient};
use common::tenant_book::TenantBook;
use deploy::{cli, RedisCluster};
use http::Request;
use http_body_util::Full;
use tower::{Layer, ServiceExt};
use tower_whatsapp_auth::tenants::{WhatsAppTenants, WhatsAppTenantsLayer};
use tower_whatsapp_auth::{RedisConnection, RedisTokenStore};

const SECRET: &str = "platform-app-secret";
const PREFIX: &str = "wa-failover";

async fn replica(
    fake: &FakeGraph,
    book: &TenantBook,
    redis: &RedisCluster,
) -> WhatsAppTenants<HttpsClient> {
    let urls = redis.urls();
    let urls: Vec<&str> = urls.iter().map(String::as_str).collect();
    let store = RedisTokenStore::new(RedisConnection::cluster(&urls).await.unwrap(), PREFIX);
    let base = fake.base_url();
    WhatsAppTenantsLayer::new(book.clone())
        .configure(move |auth| {
            auth.app_credentials("1234567890", SECRET)
                .graph_base(base)
                .store_timeout(Duration::from_millis(500))
                .refresh_lock_ttl(Duration::from_secs(2))
        })
        .store_per_tenant(move |phone| store.for_tenant(phone))
        .layer(https_client())
}

async fn send(stack: &WhatsAppTenants<HttpsClient>, phone: &str, n: usize) -> u16 {
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
    let tenant = FakeTenant::new(
        "106540352270001",
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

    let master = redis.master_of(&format!("{{{PREFIX}:{}}}:token", tenant.phone));
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
    let exchanges = fake.exchanges_for(&tenant.waba);
    assert!((1..=2).contains(&exchanges), "{exchanges} renewals");
    // The replicas converge: their saves land on the promoted replica, the
    // first saved wins and the other replica adopts it.
    let promoted = redis.master_of(&format!("{{{PREFIX}:{}}}:token", tenant.phone));
    assert_ne!(promoted, master);
    let cells = [
        a.tenants().cell(&tenant.phone).unwrap(),
        b.tenants().cell(&tenant.phone).unwrap(),
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
