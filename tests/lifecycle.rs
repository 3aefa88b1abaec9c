//! Token lifecycle over real sockets: renewal ahead of expiry, sources that
//! re-read, persistence, recovery from a dead token, and what gets logged.

#[path = "support/common/mod.rs"]
mod common;

use std::path::PathBuf;

use std::time::Duration;

use common::fake_graph::{ExchangeMode, FakeConfig, FakeGraph, Fault};
use common::sender::{build_stack, send_batch, status, text_message};
use tower_whatsapp_auth::{
    source::FileToken,
    store::{FileTokenStore, StoreError, TokenStore},
    Error, WhatsAppAuthLayer, DEFAULT_GRAPH_VERSION,
};

const SECRET: &str = "fake-app-secret";
const HOUR: Duration = Duration::from_secs(3600);

fn config(lifetime: Option<Duration>) -> FakeConfig {
    FakeConfig {
        app_secret: Some(SECRET.into()),
        token_lifetime: lifetime,
        ..FakeConfig::default()
    }
}

fn layer(fake: &FakeGraph, config: &FakeConfig) -> WhatsAppAuthLayer {
    fake.layer(config)
        .refresh_jitter(0.0)
        .validation_interval(10 * HOUR)
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tower-wa-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn advance(d: Duration) {
    tokio::time::advance(d).await;
}

/// Waits until `done` holds (paused time moves on by itself while the
/// runtime is idle); fails after 30 s.
async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..3000 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("never happened: {what}");
}

#[tokio::test(start_paused = true)]
async fn renewal_happens_inside_the_window_and_not_before() {
    // 1 h token: window = max(5 min, 10% of 1 h) = 6 min, so renew at 54 min.
    let config = config(Some(HOUR));
    let fake = FakeGraph::start(config.clone()).await;
    let (stack, cell) = build_stack(layer(&fake, &config), Duration::from_secs(30));
    assert_eq!(status(&stack, &fake).await.unwrap(), 200);
    let known = cell.expires_in().expect("expiry learned from /debug_token");
    assert!(
        known > Duration::from_secs(3590) && known <= HOUR,
        "{known:?}"
    );
    advance(Duration::from_secs(53 * 60 + 50)).await;
    assert_eq!(status(&stack, &fake).await.unwrap(), 200);
    assert_eq!(fake.counters().exchanges, 0, "not before the window");
    advance(Duration::from_secs(20)).await;
    assert_eq!(status(&stack, &fake).await.unwrap(), 200);
    // The renewal runs beside the requests, which keep the current token.
    eventually("renewed", || cell.stats().generation == 1).await;
    assert_eq!(fake.counters().exchanges, 1, "inside the window");
    assert_eq!(fake.counters().rejected_190, 0, "callers never saw a 190");
    // The exchanged token's lifetime comes from expires_in.
    let renewed = cell.expires_in().unwrap();
    assert!(renewed > Duration::from_secs(5_183_000), "{renewed:?}");
    // Past the old token's expiry everything still works, with no more renewals.
    advance(HOUR).await;
    assert_eq!(status(&stack, &fake).await.unwrap(), 200);
    assert_eq!(fake.counters().exchanges, 1);
}

/// With jitter, a renewal still falls inside the window's bounds. That the
/// jitter really spreads renewals (replicas do not renew in lockstep) is
/// `token::schedule::tests::renewals_are_spread_by_jitter_within_its_bound`.
#[tokio::test(start_paused = true)]
async fn jittered_renewal_stays_within_its_bound() {
    let config = config(Some(HOUR));
    let fake = FakeGraph::start(config.clone()).await;
    let (stack, _cell) = build_stack(
        layer(&fake, &config).refresh_jitter(0.5),
        Duration::from_secs(30),
    );
    assert_eq!(status(&stack, &fake).await.unwrap(), 200);
    // Window between 6 and 9 min: nothing before 51 min, renewed by 54 min.
    advance(Duration::from_secs(50 * 60 + 50)).await;
    assert_eq!(status(&stack, &fake).await.unwrap(), 200);
    assert_eq!(fake.counters().exchanges, 0);
    advance(Duration::from_secs(3 * 60 + 20)).await;
    assert_eq!(status(&stack, &fake).await.unwrap(), 200);
    assert_eq!(fake.counters().exchanges, 1);
}

#[tokio::test(start_paused = true)]
async fn one_renewal_for_a_thousand_concurrent_callers() {
    let config = config(Some(HOUR));
    let fake = FakeGraph::start(config.clone()).await;
    fake.set_exchange_delay(Duration::from_millis(200));
    let (stack, cell) = build_stack(layer(&fake, &config), Duration::from_secs(30));
    assert_eq!(status(&stack, &fake).await.unwrap(), 200);
    advance(Duration::from_secs(55 * 60)).await;
    let summary = send_batch(
        stack,
        &fake.messages_url(DEFAULT_GRAPH_VERSION),
        text_message("1555", "storm"),
        1000,
        1000,
        false,
    )
    .await;
    assert_eq!(summary.sent, 1000, "{:?}", summary.failed);
    assert_eq!(fake.counters().exchanges, 1);
    assert_eq!(cell.stats().refreshes, 1);
    assert_eq!(fake.counters().rejected_190, 0);
}

#[tokio::test(start_paused = true)]
async fn a_failed_renewal_with_time_left_keeps_traffic_flowing() {
    let config = config(Some(HOUR));
    let fake = FakeGraph::start(config.clone()).await;
    let (stack, cell) = build_stack(
        layer(&fake, &config).refresh_backoff(Duration::from_secs(10), Duration::from_secs(60)),
        Duration::from_secs(30),
    );
    assert_eq!(status(&stack, &fake).await.unwrap(), 200);
    fake.set_exchange_mode(ExchangeMode::ServerError);
    advance(Duration::from_secs(55 * 60)).await;
    for _ in 0..20 {
        assert_eq!(
            status(&stack, &fake).await.unwrap(),
            200,
            "old token still used"
        );
    }
    eventually("first attempt", || fake.counters().exchanges == 1).await;
    let exchanges = || fake.counters().exchanges;
    // The back-off doubles from 10 s: the second attempt 10 s after the
    // first, the third 20 s after the second (a constant back-off would
    // try again at +10 s).
    advance(Duration::from_secs(10)).await;
    eventually("second attempt", || exchanges() == 2).await;
    assert_eq!(status(&stack, &fake).await.unwrap(), 200);
    advance(Duration::from_secs(10)).await;
    assert_eq!(status(&stack, &fake).await.unwrap(), 200);
    assert_eq!(exchanges(), 2, "not before 20 s");
    fake.set_exchange_mode(ExchangeMode::Issue);
    advance(Duration::from_secs(10)).await;
    eventually("third attempt, renewed", || cell.stats().generation == 1).await;
    assert_eq!(exchanges(), 3, "retried with back-off, never per request");
    assert_eq!(status(&stack, &fake).await.unwrap(), 200);
    assert_eq!(fake.counters().rejected_190, 0);
}

#[tokio::test(start_paused = true)]
async fn a_rotated_file_recovers_a_dead_stack() {
    let dir = temp_dir("rotate");
    let path = dir.join("token");
    let config = FakeConfig::default();
    std::fs::write(&path, format!("{}\n", config.token)).unwrap();
    let fake = FakeGraph::start(config.clone()).await;
    let auth = WhatsAppAuthLayer::from_source(FileToken::new(&path))
        .phone_number_id(config.phone_number_id.as_str())
        .graph_base(fake.base_url())
        .dead_recheck(Duration::from_secs(30));
    let (stack, cell) = build_stack(auth, Duration::from_secs(30));
    assert_eq!(status(&stack, &fake).await.unwrap(), 200);
    fake.push_fault(Fault::Revoke { subcode: 460 });
    assert!(status(&stack, &fake).await.is_err());
    let err = status(&stack, &fake).await.unwrap_err();
    assert!(
        matches!(err.downcast_ref::<Error>(), Some(Error::TokenDead { .. })),
        "{err}"
    );
    // An operator rotates the secret.
    let rotated = "EAAFakeRotatedByOps000000000000000000";
    fake.add_token(rotated);
    std::fs::write(&path, rotated).unwrap();
    let sent = fake.counters().message_requests;
    assert!(
        status(&stack, &fake).await.is_err(),
        "not re-read before the recheck interval"
    );
    assert_eq!(fake.counters().message_requests, sent);
    advance(Duration::from_secs(30)).await;
    assert_eq!(
        status(&stack, &fake).await.unwrap(),
        200,
        "recovered without a restart"
    );
    assert_eq!(cell.stats().generation, 1);
}

#[tokio::test]
async fn renewed_tokens_survive_a_restart_through_the_file_store() {
    let dir = temp_dir("store");
    let config = FakeConfig {
        token_uses: Some(1),
        ..config(None)
    };
    let fake = FakeGraph::start(config.clone()).await;
    let store = FileTokenStore::new(dir.join("token.json"));
    let (stack, cell) = build_stack(
        layer(&fake, &config).token_store(store.clone()),
        Duration::from_secs(30),
    );
    for _ in 0..3 {
        assert_eq!(status(&stack, &fake).await.unwrap(), 200);
    }
    assert_eq!(cell.stats().generation, 1);
    let stored = store.load().await.unwrap().expect("renewal persisted");
    assert!(stored.token.expose().starts_with("EAAFakeRefreshed"));
    drop(stack);

    // "Restart": a new stack with the same configured token picks the stored one up.
    let before = fake.counters();
    let (stack, cell) = build_stack(
        layer(&fake, &config).token_store(store.clone()),
        Duration::from_secs(30),
    );
    assert_eq!(status(&stack, &fake).await.unwrap(), 200);
    let after = fake.counters();
    assert_eq!(cell.stats().generation, 1, "started from the stored token");
    assert_eq!(
        cell.stats().validations,
        1,
        "a stored token may be old: validated before first use"
    );
    assert_eq!(after.exchanges, before.exchanges, "no exchange needed");
    assert_eq!(
        after.rejected_190, before.rejected_190,
        "the expired configured token was never sent"
    );

    // A stored token known to have expired is not used, even of the same
    // lineage: the configured one is checked (dead here) and renewed.
    let mut stale = store.load().await.unwrap().unwrap();
    stale.expires_at = Some(std::time::SystemTime::now() - Duration::from_secs(60));
    store.save(stale).await.unwrap();
    let before = fake.counters();
    let (stack, cell) = build_stack(
        layer(&fake, &config).token_store(store.clone()),
        Duration::from_secs(30),
    );
    assert_eq!(status(&stack, &fake).await.unwrap(), 200);
    let after = fake.counters();
    assert_eq!(
        after.exchanges,
        before.exchanges + 1,
        "the configured (dead) token was renewed, the expired stored one not used"
    );
    assert_eq!(cell.stats().generation, 1);
    drop(stack);

    // A different configured token means an operator replaced it: it wins.
    let replacement = "EAAFakeNewlyConfigured00000000000000";
    fake.add_token(replacement);
    let other = FakeConfig {
        token: replacement.into(),
        ..config.clone()
    };
    let (stack, cell) = build_stack(
        layer(&fake, &other).token_store(store),
        Duration::from_secs(30),
    );
    assert_eq!(status(&stack, &fake).await.unwrap(), 200);
    assert_eq!(cell.stats().generation, 0);
}

#[tokio::test]
async fn a_corrupt_store_is_reported_and_the_configured_token_used() {
    let dir = temp_dir("corrupt-store");
    let path = dir.join("token.json");
    std::fs::write(&path, b"{ this is not a token file").unwrap();
    let store = FileTokenStore::new(&path);
    assert!(matches!(
        store.load().await,
        Err(StoreError::Corrupt { .. })
    ));
    let config = config(None);
    let fake = FakeGraph::start(config.clone()).await;
    let (stack, cell) = build_stack(
        layer(&fake, &config).token_store(store),
        Duration::from_secs(30),
    );
    assert_eq!(status(&stack, &fake).await.unwrap(), 200);
    assert_eq!(cell.stats().generation, 0);
}
