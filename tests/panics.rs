//! Panics in token work (a token source's bug, or a client that panics on a
//! token call) become typed errors or a later retry: never a hang, a
//! poisoned cell, or a panic in the caller's task.

#[path = "support/common/mod.rs"]
mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use common::fake_graph::{FakeConfig, FakeGraph};
use common::sender::{build_stack, https_client, message, status, Stack};
use http::Request;
use tower::timeout::TimeoutLayer;
use tower::{Service, ServiceBuilder, ServiceExt};
use tower_whatsapp_auth::{source::token_fn, Error, RefreshError, Token, WhatsAppAuthLayer};

const SECRET: &str = "fake-app-secret";

/// The cause every caller sees after token work panicked.
fn panicked(err: &tower::BoxError) -> bool {
    matches!(err.downcast_ref::<Error>(), Some(Error::Refresh(RefreshError::BackingOff { last, .. }))
        if matches!(&**last, RefreshError::Source(why) if why.contains("panicked")))
}

/// A token source that panics: the request gets a typed error at once, not
/// a hang, and the next fetch (after the back-off) recovers.
#[tokio::test(start_paused = true)]
async fn a_panicking_token_source_is_a_typed_error_then_recovers() {
    let config = FakeConfig::default();
    let fake = FakeGraph::start(config.clone()).await;
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let token = config.token.clone();
    let source = token_fn(move |_ctx| {
        let first = seen.fetch_add(1, Ordering::SeqCst) == 0;
        let token = token.clone();
        async move {
            assert!(!first, "a source bug");
            Ok::<_, RefreshError>(Token::new(token))
        }
    });
    let layer = WhatsAppAuthLayer::from_source(source)
        .phone_number_id(config.phone_number_id.as_str())
        .graph_base(fake.base_url())
        .refresh_backoff(Duration::from_secs(1), Duration::from_secs(1));
    let (stack, _cell) = build_stack(layer, Duration::from_secs(30));
    let err = stack.clone().oneshot(message(&fake)).await.unwrap_err();
    assert!(panicked(&err), "{err}");
    tokio::time::advance(Duration::from_secs(1)).await;
    assert_eq!(status(&stack, &fake).await.unwrap(), 200);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

/// The user's client, panicking (once) inside the future of any request
/// whose path contains `path`.
#[derive(Clone)]
struct PanicsOnce<S> {
    inner: S,
    path: &'static str,
    armed: Arc<AtomicBool>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B> Service<Request<B>> for PanicsOnce<S>
where
    S: Service<Request<B>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let hit = req.uri().path().contains(self.path) && self.armed.swap(false, Ordering::SeqCst);
        let future = self.inner.call(req);
        Box::pin(async move {
            assert!(!hit, "a client bug");
            future.await
        })
    }
}

fn stack_over_panicking_client(auth: WhatsAppAuthLayer, path: &'static str) -> Stack {
    let client = PanicsOnce {
        inner: https_client(),
        path,
        armed: Arc::new(AtomicBool::new(true)),
    };
    Stack::new(
        ServiceBuilder::new()
            .layer(TimeoutLayer::new(Duration::from_secs(30)))
            .layer(auth)
            .service(client),
    )
}

/// The client panics on the exchange: the caller whose 190 started the
/// renewal gets a typed error (nothing replayed), later callers fail fast
/// until the back-off ends, and then the renewal runs again and succeeds.
#[tokio::test(start_paused = true)]
async fn a_client_panicking_on_the_exchange_is_a_typed_error_then_recovers() {
    let config = FakeConfig {
        token_uses: Some(0),
        app_secret: Some(SECRET.into()),
        ..FakeConfig::default()
    };
    let fake = FakeGraph::start(config.clone()).await;
    let auth = fake
        .layer(&config)
        .without_validation()
        .refresh_backoff(Duration::from_secs(1), Duration::from_secs(1));
    let stack = stack_over_panicking_client(auth, "/oauth/access_token");
    let err = stack.clone().oneshot(message(&fake)).await.unwrap_err();
    assert!(panicked(&err), "{err}");
    let err = stack.clone().oneshot(message(&fake)).await.unwrap_err();
    assert!(panicked(&err), "backing off: {err}");
    let graph = fake.counters();
    assert_eq!((graph.message_requests, graph.exchanges), (1, 0));
    tokio::time::advance(Duration::from_secs(1)).await;
    assert_eq!(status(&stack, &fake).await.unwrap(), 200);
    assert_eq!(
        fake.counters().exchanges,
        1,
        "renewed once, after the back-off"
    );
}

/// The client panics on the validation: no verdict, so the request goes
/// through, and validation is tried again after `validation_retry`.
#[tokio::test(start_paused = true)]
async fn a_client_panicking_on_the_validation_lets_traffic_through_and_retries() {
    let config = FakeConfig {
        app_secret: Some(SECRET.into()),
        ..FakeConfig::default()
    };
    let fake = FakeGraph::start(config.clone()).await;
    let retry = Duration::from_secs(30);
    let auth = fake.layer(&config).validation_retry(retry);
    let stack = stack_over_panicking_client(auth, "/debug_token");
    assert_eq!(status(&stack, &fake).await.unwrap(), 200);
    assert_eq!(
        fake.counters().validations,
        0,
        "the panicked call never left"
    );
    tokio::time::advance(retry / 2).await;
    assert_eq!(status(&stack, &fake).await.unwrap(), 200);
    assert_eq!(
        fake.counters().validations,
        0,
        "not retried before the delay"
    );
    tokio::time::advance(retry / 2).await;
    assert_eq!(status(&stack, &fake).await.unwrap(), 200);
    assert_eq!(
        fake.counters().validations,
        1,
        "validated after the retry delay"
    );
}
