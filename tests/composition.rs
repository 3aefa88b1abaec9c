//! Every order of layers the composition guide (`src/guide/composition.md`)
//! documents, built with real tower (and tower-http) layers over real
//! sockets, each taking 200 messages at 16 in flight through a token
//! expiry: all delivered, with one exchange.
#![cfg(feature = "retry")]

#[path = "support/common/mod.rs"]
mod common;

use std::time::Duration;

use bytes::Bytes;
use common::fake_graph::{FakeConfig, FakeGraph};
use common::sender::{https_client, text_message};
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use tower::buffer::BufferLayer;
use tower::limit::ConcurrencyLimitLayer;
use tower::retry::RetryLayer;
use tower::timeout::TimeoutLayer;
use tower::util::BoxCloneSyncService;
use tower::{BoxError, Service, ServiceBuilder, ServiceExt};
use tower_http::trace::TraceLayer;
use tower_whatsapp_auth::{
    retry::GraphRetry, ReplayBody, WhatsAppAuthLayer, DEFAULT_GRAPH_VERSION,
};

type Composed = BoxCloneSyncService<Request<Full<Bytes>>, StatusCode, BoxError>;

/// Any stack, seen by its status only.
fn composed<S, B>(stack: S) -> Composed
where
    S: Service<Request<Full<Bytes>>, Response = Response<B>> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
{
    BoxCloneSyncService::new(
        stack
            .map_response(|res: Response<B>| res.status())
            .map_err(Into::into),
    )
}

const T: Duration = Duration::from_secs(30);

/// The documented orders, outermost first.
fn orders(auth: WhatsAppAuthLayer) -> Vec<(&'static str, Composed)> {
    let client = https_client;
    vec![
        (
            "recommended: trace, limit, retry, timeout, auth, client",
            composed(
                ServiceBuilder::new()
                    .layer(TraceLayer::new_for_http())
                    .layer(ConcurrencyLimitLayer::new(64))
                    .layer(RetryLayer::new(GraphRetry::new()))
                    .layer(TimeoutLayer::new(T))
                    .layer(auth.clone())
                    .service(client()),
            ),
        ),
        (
            "buffer instead of limit: trace, buffer, retry, timeout, auth, client",
            composed(
                ServiceBuilder::new()
                    .layer(TraceLayer::new_for_http())
                    .layer(BufferLayer::<Request<Full<Bytes>>>::new(64))
                    .layer(RetryLayer::new(GraphRetry::new()))
                    .layer(TimeoutLayer::new(T))
                    .layer(auth.clone())
                    .service(client()),
            ),
        ),
        (
            "timeout inside: retry, auth, timeout, client",
            composed(
                ServiceBuilder::new()
                    .layer(RetryLayer::new(GraphRetry::new()))
                    .layer(auth.clone())
                    .layer(TimeoutLayer::new(T))
                    .service(client()),
            ),
        ),
        (
            "a limit of one inside: timeout, auth, limit 1, client",
            composed(
                ServiceBuilder::new()
                    .layer(TimeoutLayer::new(T))
                    .layer(auth.clone())
                    .layer(ConcurrencyLimitLayer::new(1))
                    .service(client()),
            ),
        ),
        (
            "a buffer of one inside: timeout, auth, buffer 1, client",
            composed(
                ServiceBuilder::new()
                    .layer(TimeoutLayer::new(T))
                    .layer(auth.clone())
                    .layer(BufferLayer::<Request<ReplayBody>>::new(1))
                    .service(client()),
            ),
        ),
        (
            "trace inside (logs the proof: see the composition guide): auth, trace, client",
            composed(
                ServiceBuilder::new()
                    .layer(auth)
                    .layer(TraceLayer::new_for_http())
                    .service(client()),
            ),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_order_carries_a_token_expiry() {
    let config = FakeConfig {
        app_secret: Some("fake-app-secret".into()),
        token_uses: Some(20),
        ..FakeConfig::default()
    };
    for index in 0..orders(WhatsAppAuthLayer::new("x")).len() {
        let fake = FakeGraph::start(config.clone()).await;
        let (name, stack) = orders(fake.layer(&config)).swap_remove(index);
        let body = text_message("15551234567", "composed");
        let limit = std::sync::Arc::new(tokio::sync::Semaphore::new(16));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..200 {
            let permit = limit.clone().acquire_owned().await.unwrap();
            let req = Request::post(fake.messages_url(DEFAULT_GRAPH_VERSION))
                .body(Full::new(body.clone()))
                .unwrap();
            let stack = stack.clone();
            tasks.spawn(async move {
                let status = stack.oneshot(req).await;
                drop(permit);
                status
            });
        }
        while let Some(done) = tasks.join_next().await {
            let status = done.unwrap().unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(status, 200, "{name}");
        }
        let graph = fake.counters();
        assert_eq!(graph.messages_accepted, 200, "{name}: {graph:?}");
        assert_eq!(graph.exchanges, 1, "{name}: {graph:?}");
        assert_eq!(graph.secrets_in_url, 0, "{name}");
    }
}
