//! Renewals that reach every place a token is kept, against a real
//! `redis-server` on 127.0.0.1 and the Graph fake: saves compare-and-set
//! on the generation (the first renewal wins, the other replica adopts
//! it); a tenant's lineage survives its renewals, so a replica that loaded
//! the renewed token from the platform's database still renews together
//! with one that renewed it; and a frozen Redis keeps no renewed token
//! from `TenantSource::save`. Behind the `redis` feature:
//!
//! ```text
//! cargo test --features redis --test redis_renewals
//! ```
#![cfg(all(feature = "redis", feature = "tenants"))]

#[path = "support/common/mod.rs"]
mod common;

use std::time::{Duration, SystemTime};

use common::fake_graph::tenants::FakeTenant;
use common::fake_graph::{FakeConfig, FakeGraph};
use common::redis_server::RedisServer;
use common::sender::{https_client, text_message, HttpsClient};
use common::tenant_book::TenantBook;
use http::Request;
use http_body_util::Full;
use tower::{Layer, ServiceExt};
use tower_whatsapp_auth::tenants::{WhatsAppTenants, WhatsAppTenantsLayer};
use tower_whatsapp_auth::{
    store::{RedisTokenStore, Saved, StoredToken, TokenStore},
    Secret,
};

const SECRET: &str = "platform-app-secret";

fn record(token: &str, lineage: &str, generation: u64) -> StoredToken {
    StoredToken {
        token: Secret::new(token),
        expires_at: None,
        lineage: lineage.into(),
        saved_at: SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
        generation,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saves_compare_and_set_on_the_generation() {
    let redis = RedisServer::start();
    let store = RedisTokenStore::connect(&redis.url(), "wa-cas")
        .await
        .unwrap();
    let first = record("EAAG-first", "lineage-a", 7);
    assert_eq!(
        store.save_if_newer(first.clone()).await.unwrap(),
        Saved::Stored
    );
    // Another renewal to the same generation, saved second: it loses, and
    // is told the winner.
    let rival = record("EAAG-rival", "lineage-a", 7);
    assert_eq!(
        store.save_if_newer(rival).await.unwrap(),
        Saved::Superseded(first.clone())
    );
    // An older one loses too; the same token again is no conflict.
    assert!(matches!(
        store
            .save_if_newer(record("EAAG-old", "lineage-a", 6))
            .await
            .unwrap(),
        Saved::Superseded(_)
    ));
    assert_eq!(
        store.save_if_newer(first.clone()).await.unwrap(),
        Saved::Stored
    );
    // A newer generation wins; another lineage (an operator's new token)
    // replaces whatever is there.
    let next = record("EAAG-next", "lineage-a", 8);
    assert_eq!(
        store.save_if_newer(next.clone()).await.unwrap(),
        Saved::Stored
    );
    assert_eq!(store.load().await.unwrap(), Some(next));
    let replaced = record("EAAG-operator", "lineage-b", 1);
    assert_eq!(
        store.save_if_newer(replaced.clone()).await.unwrap(),
        Saved::Stored
    );
    assert_eq!(store.load().await.unwrap(), Some(replaced));
}

async fn replica(
    fake: &FakeGraph,
    book: &TenantBook,
    redis: &RedisServer,
) -> WhatsAppTenants<HttpsClient> {
    let store = RedisTokenStore::connect(&redis.url(), "wa-lineage")
        .await
        .unwrap();
    let base = fake.base_url();
    WhatsAppTenantsLayer::new(book.clone())
        .configure(move |auth| {
            auth.app_credentials("1234567890", SECRET)
                .graph_base(base)
                .store_timeout(Duration::from_millis(300))
        })
        .store_per_tenant(move |phone| store.for_tenant(phone))
        .layer(https_client())
}

async fn send(stack: &WhatsAppTenants<HttpsClient>, phone: &str) -> u16 {
    let req = Request::post(format!("/{phone}/messages"))
        .body(Full::new(text_message("15551234567", "hello")))
        .unwrap();
    stack.clone().oneshot(req).await.unwrap().status().as_u16()
}

fn business() -> FakeTenant {
    FakeTenant::new(
        "106540352290001",
        "300000000001",
        &format!("EAAGlineageBusiness{}", "l".repeat(20)),
    )
    .expiring_in(Duration::from_secs(120))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_that_loaded_the_renewed_token_renews_with_the_others() {
    let tenant = business();
    let config = FakeConfig {
        app_secret: Some(SECRET.into()),
        tenants: vec![tenant.clone()],
        ..FakeConfig::default()
    };
    let fake = FakeGraph::start(config).await;
    let redis = RedisServer::start();
    let book = TenantBook::of(std::slice::from_ref(&tenant));
    // Replica A renews the expiring token; the platform's database and
    // Redis hold the renewed one.
    let a = replica(&fake, &book, &redis).await;
    assert_eq!(send(&a, &tenant.phone).await, 200);
    a.tenants().finish_work().await;
    assert_eq!(fake.exchanges_for(&tenant.waba), 1);
    assert_eq!(book.saved().len(), 1);
    // Replica B starts later: its tenant comes from the database, with
    // the renewed token.
    let b = replica(&fake, &book, &redis).await;
    assert_eq!(send(&b, &tenant.phone).await, 200);
    // Graph then refuses that token as expired: both replicas renew, and
    // between them Graph sees one exchange.
    fake.expire_all();
    let (sent_a, sent_b) = tokio::join!(send(&a, &tenant.phone), send(&b, &tenant.phone));
    assert_eq!((sent_a, sent_b), (200, 200));
    a.tenants().finish_work().await;
    b.tenants().finish_work().await;
    assert_eq!(
        fake.exchanges_for(&tenant.waba),
        2,
        "one exchange per expiry, for both replicas"
    );
    // One valid token, which both replicas send with.
    assert_eq!(fake.tokens_of(&tenant.waba).len(), 1);
    let before = fake.accepted_for(&tenant.phone);
    assert_eq!(
        (send(&a, &tenant.phone).await, send(&b, &tenant.phone).await),
        (200, 200)
    );
    assert_eq!(fake.accepted_for(&tenant.phone), before + 2);
    assert_eq!(fake.exchanges_for(&tenant.waba), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_redis_keeps_no_renewal_from_the_platform() {
    let tenant = business();
    let config = FakeConfig {
        app_secret: Some(SECRET.into()),
        tenants: vec![tenant.clone()],
        ..FakeConfig::default()
    };
    let fake = FakeGraph::start(config).await;
    let redis = RedisServer::start();
    let book = TenantBook::of(std::slice::from_ref(&tenant));
    let stack = replica(&fake, &book, &redis).await;
    redis.pause();
    let sent = tokio::time::timeout(Duration::from_secs(10), send(&stack, &tenant.phone)).await;
    assert_eq!(sent.expect("no request waits on a frozen Redis"), 200);
    // The renewal ahead of expiry, beside the request.
    tokio::time::timeout(Duration::from_secs(10), stack.tenants().finish_work())
        .await
        .expect("the renewal ends while Redis is frozen");
    assert_eq!(fake.exchanges_for(&tenant.waba), 1);
    let saved = book.saved();
    // Once at least (a save of Redis's half that keeps failing sends the
    // platform's again, the same token).
    assert!(!saved.is_empty(), "the renewal reached TenantSource::save");
    assert!(saved.iter().all(|(phone, token)| phone == &tenant.phone
        && token != &tenant.token
        && token == &saved[0].1));
    redis.resume();
}

/// A business that connected again: `TenantMap::replace` puts its new token
/// in place, and the token Redis holds from an earlier renewal is not
/// adopted over it (with the old one revoked, a send would fail).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_tenant_keeps_its_new_token_over_the_stored_one() {
    let tenant = business();
    let config = FakeConfig {
        app_secret: Some(SECRET.into()),
        tenants: vec![tenant.clone()],
        ..FakeConfig::default()
    };
    let fake = FakeGraph::start(config).await;
    let redis = RedisServer::start();
    let book = TenantBook::of(std::slice::from_ref(&tenant));
    let stack = replica(&fake, &book, &redis).await;
    assert_eq!(send(&stack, &tenant.phone).await, 200);
    stack.tenants().finish_work().await;
    assert_eq!(
        fake.exchanges_for(&tenant.waba),
        1,
        "Redis holds the renewed token"
    );
    let fresh = format!("EAAGreconnectedBusiness{}", "n".repeat(20));
    fake.add_token_of(&fresh, &tenant.waba);
    for token in fake.tokens_of(&tenant.waba) {
        if token != fresh {
            fake.revoke(&token, 460);
        }
    }
    stack
        .tenants()
        .replace(
            &tenant.phone,
            tower_whatsapp_auth::tenants::Tenant::new(fresh.as_str()).waba_id(&tenant.waba),
        )
        .unwrap();
    assert_eq!(send(&stack, &tenant.phone).await, 200);
    stack.tenants().finish_work().await;
    assert_eq!(send(&stack, &tenant.phone).await, 200);
}
