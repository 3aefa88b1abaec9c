//! Two replicas of the tenant-aware stack, one Redis: every tenant's token
//! renewed once between them (the lock is per tenant, under a key naming
//! it), against a real `redis-server` and the Graph fake.
#![cfg(all(feature = "redis", feature = "tenants"))]

#[path = "support/common/mod.rs"]
mod common;

use std::time::Duration;

use common::fake_graph::tenants::FakeTenant;
use common::fake_graph::{FakeConfig, FakeGraph};
use common::redis_server::RedisServer;
use common::sender::{https_client, text_message, HttpsClient};
use common::tenant_book::TenantBook;
use http::Request;
use http_body_util::Full;
use tokio::task::JoinSet;
use tower::{Layer, ServiceExt};
use tower_whatsapp_auth::store::RedisTokenStore;
use tower_whatsapp_auth::tenants::{WhatsAppTenants, WhatsAppTenantsLayer};

const SECRET: &str = "platform-app-secret";

/// Twenty businesses; the even ones' tokens expire within the refresh
/// window (renewed at once), the odd ones' never.
fn businesses() -> Vec<FakeTenant> {
    (0..20)
        .map(|n| {
            let t = FakeTenant::new(
                &format!("10654035229{n:04}"),
                &format!("30000000{n:04}"),
                &format!("EAAGreplicaBusiness{n:04}{}", "r".repeat(20)),
            );
            if n % 2 == 0 {
                t.expiring_in(Duration::from_secs(120))
            } else {
                t
            }
        })
        .collect()
}

async fn replica(
    fake: &FakeGraph,
    book: &TenantBook,
    redis: &RedisServer,
) -> WhatsAppTenants<HttpsClient> {
    let store = RedisTokenStore::connect(&redis.url(), "wa-tenants")
        .await
        .unwrap();
    let base = fake.base_url();
    WhatsAppTenantsLayer::new(book.clone())
        .configure(move |auth| auth.app_credentials("1234567890", SECRET).graph_base(base))
        .store_per_tenant(move |phone| store.for_tenant(phone))
        .layer(https_client())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_renew_each_expiring_tenant_once_between_them() {
    let tenants = businesses();
    let config = FakeConfig {
        app_secret: Some(SECRET.into()),
        tenants: tenants.clone(),
        ..FakeConfig::default()
    };
    let fake = FakeGraph::start(config).await;
    let redis = RedisServer::start();
    let book = TenantBook::of(&tenants);
    let replicas = [
        replica(&fake, &book, &redis).await,
        replica(&fake, &book, &redis).await,
    ];
    let mut sends = JoinSet::new();
    for round in 0..3 {
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
        tokio::time::timeout(Duration::from_secs(20), stack.tenants().finish_work())
            .await
            .expect("renewals settle");
    }
    for (n, tenant) in tenants.iter().enumerate() {
        let want = u64::from(n % 2 == 0);
        assert_eq!(fake.exchanges_for(&tenant.waba), want, "{}", tenant.phone);
        assert_eq!(fake.accepted_for(&tenant.phone), 6);
    }
    assert_eq!(fake.counters().exchanges, 10);
    assert_eq!(fake.wrong_business(), 0);
    // The renewed tokens reached the platform's database, once each.
    let saved = book.saved();
    assert_eq!(saved.len(), 10, "{saved:?}");
}
