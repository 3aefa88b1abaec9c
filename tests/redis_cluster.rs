//! The token store and the shared pace on a real Redis Cluster (six
//! `redis-server` processes on 127.0.0.1, three masters and three
//! replicas, started once for this binary and killed when it ends), with
//! the Graph fake. Behind the `redis-cluster` feature:
//!
//! ```text
//! cargo test --features redis-cluster --test redis_cluster
//! ```
#![cfg(all(feature = "redis-cluster", feature = "tenants"))]

#[path = "support/common/mod.rs"]
mod common;
#[path = "support/redis_cluster.rs"]
mod deploy;

use std::collections::BTreeSet;
use std::time::Duration;

use common::fake_graph::tenants::FakeTenant;
use common::fake_graph::{FakeConfig, FakeGraph};
use common::sender::{https_client, text_message, HttpsClient};
use common::tenant_book::TenantBook;
use deploy::RedisCluster;
use http::Request;
use http_body_util::Full;
use tokio::task::JoinSet;
use tower::{Layer, ServiceExt};
use tower_whatsapp_auth::tenants::{WhatsAppTenants, WhatsAppTenantsLayer};
use tower_whatsapp_auth::{
    store::{RedisTokenStore, StoreError, StoredToken, TokenStore},
    RedisConnection, Secret,
};

const SECRET: &str = "platform-app-secret";
const PREFIX: &str = "wa-cluster";

/// Fifty businesses; the even ones' tokens expire within the refresh
/// window (renewed at once), the odd ones' never.
fn businesses() -> Vec<FakeTenant> {
    (0..50)
        .map(|n| {
            let t = FakeTenant::new(
                &format!("10654035228{n:04}"),
                &format!("40000000{n:04}"),
                &format!("EAAGclusterBusiness{n:04}{}", "c".repeat(20)),
            );
            match n % 2 {
                0 => t.expiring_in(Duration::from_secs(120)),
                _ => t,
            }
        })
        .collect()
}

async fn replica(
    fake: &FakeGraph,
    book: &TenantBook,
    redis: &RedisCluster,
) -> WhatsAppTenants<HttpsClient> {
    let urls = redis.urls();
    let urls: Vec<&str> = urls.iter().map(String::as_str).collect();
    let conn = RedisConnection::cluster(&urls).await.unwrap();
    assert!(conn.is_cluster());
    let store = RedisTokenStore::new(conn, PREFIX);
    let base = fake.base_url();
    WhatsAppTenantsLayer::new(book.clone())
        .configure(move |auth| {
            auth.app_credentials("1234567890", SECRET)
                .graph_base(base)
                .store_timeout(Duration::from_secs(2))
        })
        .store_per_tenant(move |phone| store.for_tenant(phone))
        .layer(https_client())
}

/// One cluster for the binary: each scenario in turn.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_redis_cluster() {
    let redis = RedisCluster::start();
    one_token_per_tenant_for_every_replica(&redis).await;
    a_single_node_connection_to_a_cluster_says_so(&redis).await;
}

async fn one_token_per_tenant_for_every_replica(redis: &RedisCluster) {
    let tenants = businesses();
    // The tenants' keys spread over all three masters, each tenant's
    // token and lock on one slot.
    let masters: BTreeSet<u16> = tenants
        .iter()
        .map(|t| redis.master_of(&format!("{{{PREFIX}:{}}}:token", t.phone)))
        .collect();
    assert_eq!(masters.len(), 3, "{masters:?}");
    for t in &tenants[..5] {
        assert_eq!(
            redis.master_of(&format!("{{{PREFIX}:{}}}:token", t.phone)),
            redis.master_of(&format!("{{{PREFIX}:{}}}:refresh-lock", t.phone))
        );
    }

    let config = FakeConfig {
        app_secret: Some(SECRET.into()),
        tenants: tenants.clone(),
        ..FakeConfig::default()
    };
    let fake = FakeGraph::start(config).await;
    let book = TenantBook::of(&tenants);
    let replicas = [
        replica(&fake, &book, redis).await,
        replica(&fake, &book, redis).await,
    ];
    let mut sends = JoinSet::new();
    for round in 0..2 {
        for tenant in &tenants {
            for stack in &replicas {
                let stack = stack.clone();
                let req = Request::post(format!("/{}/messages", tenant.phone))
                    .body(Full::new(text_message(
                        "15551234567",
                        &format!("round {round}"),
                    )))
                    .unwrap();
                sends.spawn(async move { stack.oneshot(req).await.map(|r| r.status()) });
            }
        }
    }
    while let Some(sent) = sends.join_next().await {
        assert_eq!(sent.unwrap().unwrap(), 200);
    }
    for stack in &replicas {
        tokio::time::timeout(Duration::from_secs(30), stack.tenants().finish_work())
            .await
            .expect("renewals settle");
    }
    for (n, tenant) in tenants.iter().enumerate() {
        let want = u64::from(n % 2 == 0);
        assert_eq!(fake.exchanges_for(&tenant.waba), want, "{}", tenant.phone);
        assert_eq!(fake.accepted_for(&tenant.phone), 4);
    }
    assert_eq!(fake.wrong_business(), 0);
    assert_eq!(book.saved().len(), 25);
}

async fn a_single_node_connection_to_a_cluster_says_so(redis: &RedisCluster) {
    let node = &redis.nodes[0];
    // A prefix whose keys another master holds: the node answers MOVED.
    let prefix = (0..)
        .map(|n| format!("wa-single-{n}"))
        .find(|p| redis.master_of(&format!("{{{p}}}:token")) != node.port)
        .unwrap();
    let store = RedisTokenStore::connect(&node.url(), &*prefix)
        .await
        .unwrap();
    let token = StoredToken {
        token: Secret::new("EAAG-x"),
        expires_at: None,
        lineage: "l".into(),
        saved_at: std::time::SystemTime::now(),
        generation: 1,
    };
    let err = store.save(token).await.unwrap_err();
    let StoreError::Io { reason, .. } = &err else {
        panic!("{err}");
    };
    assert!(
        reason.contains("MOVED") && reason.contains("RedisConnection::cluster"),
        "{err}"
    );
}
