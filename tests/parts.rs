//! The stack's parts and edge cases: cancellation, validation verdicts,
//! header hygiene, standalone layers.

#[path = "support/common/mod.rs"]
mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use common::fake_graph::{FakeConfig, FakeGraph};
use common::sender::{build_stack, https_client, message, status, text_message};
use http::header::AUTHORIZATION;
use http::{Request, Response};
use http_body_util::{BodyExt, Empty, Full};
use tower::retry::RetryLayer;
use tower::{service_fn, BoxError, ServiceBuilder, ServiceExt};
use tower_whatsapp_auth::{
    body::BufferBodyLayer, classify::ClassifyLayer, graph::ErrorKind, refresh::RefreshOn190,
    validate::ValidateIfNeededLayer, Error, ReplayBody, WhatsAppAuthLayer, DEFAULT_GRAPH_VERSION,
};

const SECRET: &str = "fake-app-secret";

fn config(token_uses: Option<u64>) -> FakeConfig {
    FakeConfig {
        app_secret: Some(SECRET.into()),
        token_uses,
        ..FakeConfig::default()
    }
}

fn layer(fake: &FakeGraph, config: &FakeConfig) -> WhatsAppAuthLayer {
    fake.layer(config)
}

#[tokio::test(start_paused = true)]
async fn a_caller_dropped_mid_refresh_does_not_cancel_it() {
    let config = config(Some(0));
    let fake = FakeGraph::start(config.clone()).await;
    fake.set_exchange_delay(Duration::from_secs(5));
    let (stack, cell) = build_stack(
        layer(&fake, &config).without_validation(),
        Duration::from_secs(60),
    );
    // The first caller gives up while the renewal it caused is in flight.
    let first = tokio::time::timeout(
        Duration::from_secs(1),
        stack.clone().oneshot(message(&fake)),
    )
    .await;
    assert!(first.is_err(), "timed out mid-refresh");
    assert_eq!(fake.counters().exchanges, 1);
    assert_eq!(cell.stats().generation, 0);
    // The next caller joins the same renewal and succeeds.
    assert_eq!(status(&stack, &fake).await.unwrap(), 200);
    assert_eq!(cell.stats().generation, 1);
    assert_eq!(
        fake.counters().exchanges,
        1,
        "the exchange ran once, to completion"
    );
    // And it stays healthy.
    assert_eq!(status(&stack, &fake).await.unwrap(), 200);
    assert_eq!(fake.counters().exchanges, 1);
}

#[tokio::test(start_paused = true)]
async fn aborted_tasks_mid_refresh_leave_the_cell_usable() {
    let config = config(Some(0));
    let fake = FakeGraph::start(config.clone()).await;
    fake.set_exchange_delay(Duration::from_secs(5));
    let (stack, cell) = build_stack(
        layer(&fake, &config).without_validation(),
        Duration::from_secs(60),
    );
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (stack, req) = (stack.clone(), message(&fake));
        tasks.push(tokio::spawn(async move {
            stack.oneshot(req).await.map(|r| r.status())
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(fake.counters().exchanges, 1, "20 callers, one renewal");
    for task in &tasks {
        task.abort();
    }
    // The renewal the aborted callers waited on runs on (still 5 s): the
    // next caller joins it rather than starting another, and uses its token.
    assert_eq!(status(&stack, &fake).await.unwrap(), 200);
    assert_eq!(fake.counters().exchanges, 1, "the renewal ran once");
    assert_eq!(cell.stats().generation, 1, "its token is the one in use");
}

#[tokio::test]
async fn validation_that_finds_the_token_expired_refreshes_before_the_first_send() {
    let config = config(Some(0));
    let fake = FakeGraph::start(config.clone()).await;
    let (stack, cell) = build_stack(layer(&fake, &config), Duration::from_secs(10));
    assert_eq!(status(&stack, &fake).await.unwrap(), 200);
    let graph = fake.counters();
    assert_eq!(
        (graph.validations, graph.debug_token_calls),
        (1, 1),
        "validated with /debug_token"
    );
    assert_eq!((graph.exchanges, graph.message_requests), (1, 1));
    assert_eq!(
        graph.rejected_190, 0,
        "no message was sent with the expired token"
    );
    assert_eq!(cell.stats().generation, 1);
}

#[tokio::test]
async fn concurrent_first_requests_validate_an_expired_token_once() {
    let config = config(Some(0));
    let fake = FakeGraph::start(config.clone()).await;
    fake.set_exchange_delay(Duration::from_millis(50));
    let (stack, cell) = build_stack(layer(&fake, &config), Duration::from_secs(10));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let (stack, req) = (stack.clone(), message(&fake));
        tasks.spawn(async move { stack.oneshot(req).await.map(|r| r.status()) });
    }
    while let Some(done) = tasks.join_next().await {
        assert_eq!(done.unwrap().unwrap(), 200);
    }
    let graph = fake.counters();
    assert_eq!(
        graph.validations, 1,
        "one validation found it expired; the queue waited for the renewal: {graph:?}"
    );
    assert_eq!(graph.exchanges, 1);
    assert_eq!(cell.stats().validations, 1);
}

#[tokio::test]
async fn validation_that_finds_the_token_revoked_sends_nothing() {
    // With /debug_token (app id and secret), and with the phone number node
    // (app secret only): the password was changed, the token revoked.
    for with_app_id in [true, false] {
        let config = config(None);
        let fake = FakeGraph::start(config.clone()).await;
        fake.revoke(&config.token, 460);
        let mut layer = WhatsAppAuthLayer::new(config.token.as_str())
            .graph_base(fake.base_url())
            .phone_number_id(config.phone_number_id.as_str())
            .app_secret(SECRET);
        if with_app_id {
            layer = layer.app_credentials(config.app_id.as_str(), SECRET);
        }
        let (stack, _cell) = build_stack(layer, Duration::from_secs(10));
        for _ in 0..3 {
            let err = status(&stack, &fake).await.unwrap_err();
            match err.downcast_ref::<Error>() {
                Some(Error::TokenDead { cause }) => {
                    assert_eq!((cause.code(), cause.subcode()), (190, Some(460)));
                    assert_eq!(cause.kind(), ErrorKind::TokenRevoked);
                }
                other => panic!("{with_app_id}: {other:?}"),
            }
        }
        assert_eq!(fake.counters().message_requests, 0, "nothing sent");
        assert_eq!(
            fake.counters().validations,
            1,
            "validated once; a dead token is not validated again"
        );
        assert_eq!(
            fake.counters().exchanges,
            0,
            "a revoked token is not exchanged"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn validation_without_a_verdict_lets_traffic_through_and_retries_later() {
    // A Graph that is down for validation (503) but not for messages.
    let calls = Arc::new(Mutex::new(Vec::new()));
    let seen = calls.clone();
    let graph = service_fn(move |req: Request<ReplayBody>| {
        seen.lock().unwrap().push(req.uri().path().to_owned());
        let status = if req.method() == http::Method::GET {
            503
        } else {
            200
        };
        async move {
            Ok::<_, BoxError>(
                Response::builder()
                    .status(status)
                    .body(Empty::<Bytes>::new())
                    .unwrap(),
            )
        }
    });
    let retry = Duration::from_secs(30);
    let svc = ServiceBuilder::new()
        .layer(
            WhatsAppAuthLayer::new("EAAGtoken")
                .phone_number_id("42")
                .graph_base("http://127.0.0.1:9")
                .validation_retry(retry),
        )
        .service(graph);
    let send = || async {
        let req = Request::post("/42/messages")
            .body(Full::new(Bytes::new()))
            .unwrap();
        svc.clone().oneshot(req).await.unwrap().status()
    };
    let validations = || {
        let node = format!("/{DEFAULT_GRAPH_VERSION}/42");
        calls.lock().unwrap().iter().filter(|p| **p == node).count()
    };
    for _ in 0..3 {
        assert_eq!(send().await, 200, "traffic flows without a verdict");
    }
    assert_eq!(validations(), 1, "{:?}", calls.lock().unwrap());
    tokio::time::advance(retry - Duration::from_secs(1)).await;
    assert_eq!(send().await, 200);
    assert_eq!(validations(), 1, "not before validation_retry");
    tokio::time::advance(Duration::from_secs(2)).await;
    for _ in 0..100 {
        if validations() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(validations(), 2, "tried again after validation_retry");
    assert_eq!(send().await, 200);
    let messages = calls
        .lock()
        .unwrap()
        .iter()
        .filter(|p| p.ends_with("/messages"))
        .count();
    assert_eq!(messages, 5);
}

#[tokio::test]
async fn a_caller_authorization_header_is_replaced_not_duplicated() {
    let graph = service_fn(|req: Request<ReplayBody>| async move {
        let values: Vec<_> = req
            .headers()
            .get_all(AUTHORIZATION)
            .iter()
            .cloned()
            .collect();
        let mut res = Response::new(Full::new(Bytes::from(values.len().to_string())));
        res.headers_mut().insert("x-auth", values[0].clone());
        Ok::<_, BoxError>(res)
    });
    let svc = ServiceBuilder::new()
        .layer(WhatsAppAuthLayer::new("EAAGmine").without_validation())
        .service(graph);
    let req = Request::post("/v24.0/me")
        .header(AUTHORIZATION, "Bearer theirs")
        .header(AUTHORIZATION, "Basic other")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let res = svc.oneshot(req).await.unwrap();
    assert_eq!(res.headers()["x-auth"], "Bearer EAAGmine");
    assert!(res.headers()["x-auth"].is_sensitive());
    assert_eq!(res.into_body().collect().await.unwrap().to_bytes(), "1");
}

#[tokio::test]
async fn a_token_that_cannot_be_a_header_is_a_config_error_not_a_panic() {
    let layer = WhatsAppAuthLayer::new("EAAG\r\nX-Injected: 1");
    assert!(matches!(layer.check(), Err(Error::Config(_))));
    let svc = ServiceBuilder::new().layer(layer).service(https_client());
    let err = svc
        .oneshot(Request::post("/x").body(Full::new(Bytes::new())).unwrap())
        .await
        .unwrap_err();
    let err = err.downcast_ref::<Error>().unwrap();
    assert!(
        matches!(err, Error::Config(msg) if msg.contains("not allowed in an HTTP header")),
        "{err}"
    );
    assert!(!err.to_string().contains("X-Injected"));
}

#[tokio::test]
async fn refresh_policy_works_standalone_with_tower_retry() {
    let config = config(Some(1));
    let fake = FakeGraph::start(config.clone()).await;
    let client = https_client();
    let cell = layer(&fake, &config).token_cell(client.clone());
    let svc = ServiceBuilder::new()
        .layer(BufferBodyLayer::new())
        .layer(RetryLayer::new(RefreshOn190::new(cell.clone())))
        .layer(ValidateIfNeededLayer::new(cell.clone()))
        .layer(ClassifyLayer::new())
        .service(client);
    for _ in 0..3 {
        let req = Request::post(fake.messages_url(DEFAULT_GRAPH_VERSION))
            .body(Full::new(text_message("1555", "standalone")))
            .unwrap();
        assert_eq!(svc.clone().oneshot(req).await.unwrap().status(), 200);
    }
    assert_eq!(fake.counters().exchanges, 1);
    assert_eq!(cell.stats().generation, 1);
}
