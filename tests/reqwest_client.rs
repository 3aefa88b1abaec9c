//! `ReqwestClient` (feature `reqwest`) under the layer, over real sockets:
//! a token expiry at 16 in flight, and a body over the buffer limit.
#![cfg(feature = "reqwest")]

#[path = "support/common/mod.rs"]
mod common;

use common::bodies::Streamed;

use std::time::Duration;

use common::fake_graph::{FakeConfig, FakeGraph};
use common::sender::text_message;
use http::Request;
use http_body_util::{BodyExt, Full};
use tokio::task::JoinSet;
use tower::{Layer, ServiceExt};
use tower_whatsapp_auth::{graph::ErrorKind, Error, ReqwestClient};

const SECRET: &str = "fake-app-secret";

fn config(token_uses: Option<u64>) -> FakeConfig {
    FakeConfig {
        app_secret: Some(SECRET.into()),
        token_uses,
        ..FakeConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reqwest_sends_200_at_16_through_an_expiry_with_one_exchange() {
    let config = config(Some(20));
    let fake = FakeGraph::start(config.clone()).await;
    let layer = fake.layer(&config);
    let stack = layer.layer(ReqwestClient::new(reqwest::Client::new()));
    let cell = stack.token_cell().clone();
    let body = text_message("15551234567", "reqwest");
    let mut tasks = JoinSet::new();
    let limit = std::sync::Arc::new(tokio::sync::Semaphore::new(16));
    for i in 0..200 {
        let permit = limit.clone().acquire_owned().await.unwrap();
        let stack = stack.clone();
        // Bare paths half the time: the layer completes them.
        let uri = if i % 2 == 0 {
            fake.messages_url(tower_whatsapp_auth::DEFAULT_GRAPH_VERSION)
        } else {
            format!("/{}/messages", config.phone_number_id)
        };
        let req = Request::post(uri).body(Full::new(body.clone())).unwrap();
        tasks.spawn(async move {
            let res = stack.oneshot(req).await;
            drop(permit);
            let res = res.unwrap();
            let status = res.status();
            let bytes = res.into_body().collect().await.unwrap().to_bytes();
            (status, bytes)
        });
    }
    while let Some(done) = tasks.join_next().await {
        let (status, bytes) = done.unwrap();
        assert_eq!(status, 200, "{bytes:?}");
        assert!(bytes.starts_with(b"{\"messaging_product\""));
    }
    let graph = fake.counters();
    assert_eq!(graph.exchanges, 1, "{graph:?}");
    assert_eq!(graph.messages_accepted, 200);
    assert_eq!(graph.message_requests, 200 + graph.rejected_190);
    assert!(fake.bodies().iter().all(|b| *b == body), "byte-identical");
    assert_eq!(cell.stats().generation, 1);
    assert_eq!(graph.secrets_in_url, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_the_limit_is_streamed_whole_and_reported_not_replayed() {
    let config = config(Some(0));
    let fake = FakeGraph::start(config.clone()).await;
    let stack = fake
        .layer(&config)
        .without_validation()
        .body_limit(1024)
        .layer(ReqwestClient::new(reqwest::Client::new()));
    let big = text_message("1555", &"x".repeat(8192));
    let req = Request::post(fake.messages_url(tower_whatsapp_auth::DEFAULT_GRAPH_VERSION))
        .body(Streamed::chunked(&big, 500))
        .unwrap();
    let err = tokio::time::timeout(Duration::from_secs(10), stack.clone().oneshot(req))
        .await
        .unwrap()
        .unwrap_err();
    match err.downcast_ref::<Error>() {
        Some(Error::NotReplayed { limit, source }) => {
            assert_eq!(*limit, 1024);
            assert_eq!(source.kind(), ErrorKind::TokenExpired);
        }
        other => panic!("{other:?}: {err}"),
    }
    assert_eq!(fake.bodies(), vec![big], "sent once, whole");
    // The renewal it started serves the next request.
    let req = Request::post(format!("/{}/messages", config.phone_number_id))
        .body(Full::new(text_message("1555", "next")))
        .unwrap();
    assert_eq!(stack.oneshot(req).await.unwrap().status(), 200);
    assert_eq!(fake.counters().exchanges, 1);
}
