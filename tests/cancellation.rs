//! Dropping a request at every point of its life (buffering, validation,
//! renewal, replay) never wedges the shared state: a caller timeout is swept
//! across the whole request, and after each drop the next request succeeds.

#[path = "support/common/mod.rs"]
mod common;

use std::time::Duration;

use common::fake_graph::{FakeConfig, FakeGraph, Injected, Route};
use common::sender::{build_stack, message, status, Stack};
use tower::ServiceExt;

const SECRET: &str = "fake-app-secret";

async fn stack_for(fake: &FakeGraph, config: &FakeConfig) -> Stack {
    build_stack(fake.layer(config), Duration::from_secs(60)).0
}

/// Cold start: slow validation (`/debug_token`) finds the token expired,
/// then a slow exchange renews it, then the message goes out.
#[tokio::test(start_paused = true)]
async fn dropping_a_cold_start_at_any_point_leaves_the_stack_usable() {
    for step in 0..48u64 {
        let cut = Duration::from_millis(step * 25);
        let config = FakeConfig {
            app_secret: Some(SECRET.into()),
            token_uses: Some(0),
            ..FakeConfig::default()
        };
        let fake = FakeGraph::start(config.clone()).await;
        fake.inject(
            Route::DebugToken,
            Injected::SlowBody(Duration::from_millis(20)),
            1,
        );
        fake.set_exchange_delay(Duration::from_millis(200));
        let stack = stack_for(&fake, &config).await;
        let _ = tokio::time::timeout(cut, stack.clone().oneshot(message(&fake))).await;
        let res = stack
            .clone()
            .oneshot(message(&fake))
            .await
            .unwrap_or_else(|e| panic!("cut at {cut:?}: {e}"));
        assert_eq!(res.status(), 200, "cut at {cut:?}");
        let graph = fake.counters();
        assert!(graph.exchanges <= 2, "cut at {cut:?}: {graph:?}");
        assert_eq!(
            graph.rejected_190, 0,
            "cut at {cut:?}: nothing sent with the expired token"
        );
    }
}

/// Warm: the message gets a 190, a slow exchange renews, the copy replays.
#[tokio::test(start_paused = true)]
async fn dropping_a_renewal_and_replay_at_any_point_leaves_the_stack_usable() {
    for step in 0..20u64 {
        let cut = Duration::from_millis(step * 15);
        let config = FakeConfig {
            app_secret: Some(SECRET.into()),
            token_uses: Some(1),
            ..FakeConfig::default()
        };
        let fake = FakeGraph::start(config.clone()).await;
        let stack = stack_for(&fake, &config).await;
        assert_eq!(status(&stack, &fake).await.unwrap(), 200);
        fake.set_exchange_delay(Duration::from_millis(200));
        let _ = tokio::time::timeout(cut, stack.clone().oneshot(message(&fake))).await;
        let res = stack
            .clone()
            .oneshot(message(&fake))
            .await
            .unwrap_or_else(|e| panic!("cut at {cut:?}: {e}"));
        assert_eq!(res.status(), 200, "cut at {cut:?}");
        assert!(fake.counters().exchanges <= 2, "cut at {cut:?}");
    }
}

/// Many waiters on one renewal, most of them dropped: the rest finish.
#[tokio::test(start_paused = true)]
async fn dropping_most_waiters_of_a_renewal_leaves_the_rest_served() {
    let config = FakeConfig {
        app_secret: Some(SECRET.into()),
        token_uses: Some(0),
        ..FakeConfig::default()
    };
    let fake = FakeGraph::start(config.clone()).await;
    fake.set_exchange_delay(Duration::from_millis(500));
    let stack = stack_for(&fake, &config).await;
    let mut kept = Vec::new();
    for i in 0..100 {
        let (stack, req) = (stack.clone(), message(&fake));
        let task = tokio::spawn(async move { stack.oneshot(req).await.map(|r| r.status()) });
        if i % 10 == 0 {
            kept.push(task);
        } else {
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(100)).await;
                task.abort();
            });
        }
    }
    for task in kept {
        assert_eq!(task.await.unwrap().unwrap(), 200);
    }
    assert_eq!(fake.counters().exchanges, 1);
}
