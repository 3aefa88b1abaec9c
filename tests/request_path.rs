//! The request path, composed with real tower layers over real sockets:
//! capacity limits inside the auth layer, token work that never stalls a
//! request while the token is usable, and token work that callers cannot
//! cancel. The same outcomes from `WhatsAppAuthLayer` and from the parts
//! assembled by hand are in `layer_and_parts.rs`.

#[path = "support/common/mod.rs"]
mod common;

use std::time::Duration;

use common::fake_graph::{FakeConfig, FakeGraph};
use common::full_stack::{config, HOUR};
use common::sender::{https_client, message, send_batch, status, text_message, Stack};
use http::Request;
use tokio::time::Instant;
use tower::buffer::BufferLayer;
use tower::limit::ConcurrencyLimitLayer;
use tower::timeout::TimeoutLayer;
use tower::{ServiceBuilder, ServiceExt};
use tower_whatsapp_auth::{ReplayBody, TokenCell, DEFAULT_GRAPH_VERSION};

/// Sends one message, then `count` more 16 at a time, through `stack` (the
/// layer over a limit of one, whose token state is `cell`), and asserts what a limit inside the
/// layer must not change: every message goes through, the first one in the
/// time of its Graph calls (under paused time, a self-deadlock would show
/// as the 10 s validation timeout passing), and the token is validated
/// once.
async fn assert_no_stall(stack: Stack, cell: TokenCell, fake: &FakeGraph, count: usize) {
    let started = Instant::now();
    let res = stack.clone().oneshot(message(fake)).await.unwrap();
    assert_eq!(res.status(), 200);
    let first = started.elapsed();
    assert!(
        first < Duration::from_millis(500),
        "first request took {first:?}"
    );
    let url = fake.messages_url(DEFAULT_GRAPH_VERSION);
    let summary = send_batch(stack, &url, text_message("1555", "b"), count, 16, false).await;
    assert_eq!(summary.sent, count, "{:?}", summary.failed);
    assert_eq!(cell.stats().validations, 1);
    assert_eq!(fake.counters().validations, 1);
    assert_eq!(fake.counters().messages_accepted, count as u64 + 1);
}

/// A limit of one between the auth layer and the client: the request that
/// triggers validation gives its permit back while it waits, so the
/// validation gets one.
#[tokio::test(start_paused = true)]
async fn a_concurrency_limit_of_one_inside_the_layer_does_not_deadlock() {
    let config = config();
    let fake = FakeGraph::start(config.clone()).await;
    let service = ServiceBuilder::new()
        .layer(TimeoutLayer::new(Duration::from_secs(30)))
        .layer(fake.layer(&config))
        .layer(ConcurrencyLimitLayer::new(1))
        .service(https_client());
    let cell = service.get_ref().token_cell().clone();
    assert_no_stall(Stack::new(service), cell, &fake, 200).await;
}

/// The same with a buffer of one: its worker holds the client, and the
/// waiting request holds no slot of it.
#[tokio::test(start_paused = true)]
async fn a_buffer_of_one_inside_the_layer_does_not_deadlock() {
    let config = config();
    let fake = FakeGraph::start(config.clone()).await;
    let service = ServiceBuilder::new()
        .layer(TimeoutLayer::new(Duration::from_secs(30)))
        .layer(fake.layer(&config))
        .layer(BufferLayer::<Request<ReplayBody>>::new(1))
        .service(https_client());
    let cell = service.get_ref().token_cell().clone();
    assert_no_stall(Stack::new(service), cell, &fake, 200).await;
}

/// An exchange that takes 3 s while the token still has minutes left: the
/// renewal runs beside the requests, which keep the current token.
#[tokio::test(start_paused = true)]
async fn renewal_ahead_of_expiry_never_stalls_traffic() {
    let config = FakeConfig {
        token_lifetime: Some(HOUR),
        ..config()
    };
    let fake = FakeGraph::start(config.clone()).await;
    fake.set_exchange_delay(Duration::from_secs(3));
    let (stack, cell) = common::sender::build_stack(
        fake.layer(&config)
            .refresh_jitter(0.0)
            .validation_interval(10 * HOUR),
        Duration::from_secs(30),
    );
    assert_eq!(status(&stack, &fake).await.unwrap(), 200);
    // Into the window (renew 6 min before expiry).
    tokio::time::advance(Duration::from_secs(54 * 60 + 1)).await;
    let mut slowest = Duration::ZERO;
    for _ in 0..50 {
        let started = Instant::now();
        let res = stack.clone().oneshot(message(&fake)).await.unwrap();
        assert_eq!(res.status(), 200);
        slowest = slowest.max(started.elapsed());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        slowest < Duration::from_millis(300),
        "a request waited {slowest:?}"
    );
    assert_eq!(fake.counters().exchanges, 1);
    assert_eq!(
        cell.stats().generation,
        1,
        "renewed meanwhile (5 s of sends)"
    );
    assert_eq!(fake.counters().rejected_190, 0);
}

/// An outer timeout shorter than the exchange: the caller gives up, the
/// exchange does not; later requests use its token.
#[tokio::test(start_paused = true)]
async fn an_outer_timeout_cannot_cancel_the_renewal() {
    let config = FakeConfig {
        token_uses: Some(1),
        ..config()
    };
    let fake = FakeGraph::start(config.clone()).await;
    fake.set_exchange_delay(Duration::from_secs(5));
    let (stack, cell) = common::sender::build_stack(
        fake.layer(&config).without_validation(),
        Duration::from_secs(1),
    );
    assert_eq!(status(&stack, &fake).await.unwrap(), 200);
    for _ in 0..3 {
        // Each caller times out while the one exchange runs.
        let err = stack.clone().oneshot(message(&fake)).await.unwrap_err();
        assert!(err.is::<tower::timeout::error::Elapsed>(), "{err}");
    }
    // The exchange started at the first refusal, 3 s ago: 2 s more.
    tokio::time::sleep(Duration::from_secs(2)).await;
    for _ in 0..3 {
        assert_eq!(status(&stack, &fake).await.unwrap(), 200);
    }
    assert_eq!(
        fake.counters().exchanges,
        1,
        "completed once, never restarted"
    );
    assert_eq!(cell.stats().generation, 1);
}
