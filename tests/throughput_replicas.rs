//! Two replicas sharing one phone number's pace through a real
//! `redis-server` (started and stopped by the test) against the embedded
//! Graph fake enforcing the number's rate. Behind the `redis` feature:
//!
//! ```text
//! cargo test --features redis --test throughput_replicas
//! ```
#![cfg(all(feature = "redis", feature = "throughput"))]

#[path = "support/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::fake_graph::throughput::Rates;
use common::fake_graph::{FakeConfig, FakeGraph};
use common::redis_server::RedisServer;
use common::sender::{build_stack_shaped, send_batch, text_message, Stack, Summary};
use tower_whatsapp_auth::throughput::{RedisPace, ThroughputLayer};
use tower_whatsapp_auth::DEFAULT_GRAPH_VERSION;

const NUMBER: &str = "106540352242922";

/// One replica: its own Redis connection, shaper and client stack.
async fn replica(fake: &FakeGraph, config: &FakeConfig, redis: &RedisServer) -> Stack {
    let shared = RedisPace::connect(&redis.url(), "wa-test").await.unwrap();
    let pace = ThroughputLayer::new(80).shared(shared.replicas(2));
    let (stack, cell) =
        build_stack_shaped(fake.layer(config), Duration::from_secs(30), 3, Some(pace));
    cell.ready().await.unwrap();
    stack
}

/// Both replicas send `each` messages at once, 32 in flight each.
async fn together(
    one: &Stack,
    two: &Stack,
    url: &str,
    each: usize,
) -> (Summary, Summary, Duration) {
    let body = text_message("15551234567", "hi");
    let started = Instant::now();
    let (a, b) = tokio::join!(
        send_batch(one.clone(), url, body.clone(), each, 32, false),
        send_batch(two.clone(), url, body, each, 32, false),
    );
    (a, b, started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_keep_one_number_within_its_rate_together() {
    let redis = RedisServer::start();
    let config = FakeConfig {
        phone_number_id: NUMBER.into(),
        throughput: Rates::new().limit(NUMBER, 80.0),
        ..FakeConfig::default()
    };
    let fake = FakeGraph::start(config.clone()).await;
    let (one, two) = (
        replica(&fake, &config, &redis).await,
        replica(&fake, &config, &redis).await,
    );
    let url = fake.messages_url(DEFAULT_GRAPH_VERSION);

    // 400 messages at 80 a second between them: 5 s, not the 2.5 s each
    // would take alone (with hundreds of refusals).
    let (a, b, took) = together(&one, &two, &url, 200).await;
    let seen = fake.throughput(NUMBER);
    println!(
        "two replicas, 2 × 200: {took:.2?}, {} refusals, busiest second {}",
        seen.refused,
        seen.busiest_second()
    );
    assert_eq!((a.sent, b.sent), (200, 200), "{a:?} {b:?}");
    assert!(seen.refused <= 2, "{} refusals", seen.refused);
    // Within the rate: never faster than a second's worth at once and
    // 80 a second after.
    assert!(
        took >= Duration::from_secs(4),
        "{took:?}: faster than the number's rate"
    );

    // Redis frozen: each replica paces alone at its share (half), so
    // together they still keep within the rate.
    redis.pause();
    let before = seen.refused;
    let (a, b, took) = together(&one, &two, &url, 80).await;
    redis.resume();
    let refused = fake.throughput(NUMBER).refused - before;
    println!("Redis frozen, 2 × 80: {took:.2?}, {refused} refusals");
    assert_eq!((a.sent, b.sent), (80, 80), "{a:?} {b:?}");
    assert!(refused <= 2, "{refused} refusals with Redis frozen");
    assert_eq!(fake.counters().duplicates, 0);
}

/// A Redis whose scripts may not call `TIME` (renamed away, as some managed
/// services do): the pace is still shared, on the replicas' clocks. The
/// number's key is written by the lease script (a failing script writes
/// nothing), and the two replicas together keep the number's rate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pacing_is_shared_where_scripts_may_not_call_time() {
    let redis = RedisServer::start_with(&["--rename-command", "TIME", ""]);
    let config = FakeConfig {
        phone_number_id: NUMBER.into(),
        throughput: Rates::new().limit(NUMBER, 80.0),
        ..FakeConfig::default()
    };
    let fake = FakeGraph::start(config.clone()).await;
    let (one, two) = (
        replica(&fake, &config, &redis).await,
        replica(&fake, &config, &redis).await,
    );
    let url = fake.messages_url(DEFAULT_GRAPH_VERSION);
    let (a, b, _) = together(&one, &two, &url, 100).await;
    assert_eq!((a.sent, b.sent), (100, 100), "{a:?} {b:?}");
    let seen = fake.throughput(NUMBER);
    assert!(seen.refused <= 2, "{} refusals", seen.refused);
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let exists: i64 = redis::cmd("EXISTS")
        .arg(format!("wa-test:pace:{{{NUMBER}}}"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(exists, 1, "the lease script ran without TIME");
}
