//! The full stack over real hyper sockets on 127.0.0.1, against the embedded
//! Graph fake.

#[path = "../examples/common/mod.rs"]
mod common;

use std::time::Duration;

use bytes::Bytes;
use common::fake_graph::{ExchangeMode, FakeConfig, FakeGraph, Fault};
use common::sender::{build_stack, send_batch, text_message, Stack};
use http::Request;
use http_body_util::{BodyExt, Full};
use tower::{BoxError, ServiceExt};
use tower_whatsapp_auth::{
    Error, ErrorKind, GraphError, RefreshError, TokenCell, WhatsAppAuthLayer, DEFAULT_GRAPH_VERSION,
};

const SECRET: &str = "fake-app-secret";

fn fake_config(token_uses: Option<u64>) -> FakeConfig {
    FakeConfig {
        app_secret: Some(SECRET.into()),
        token_uses,
        ..FakeConfig::default()
    }
}

fn layer(fake: &FakeGraph, config: &FakeConfig) -> WhatsAppAuthLayer {
    fake.layer(config).refresh_timeout(Duration::from_secs(2))
}

async fn start(
    config: FakeConfig,
    adjust: impl FnOnce(WhatsAppAuthLayer) -> WhatsAppAuthLayer,
) -> (FakeGraph, Stack, TokenCell) {
    let fake = FakeGraph::start(config.clone()).await;
    let (stack, cell) = build_stack(adjust(layer(&fake, &config)), Duration::from_secs(30));
    (fake, stack, cell)
}

fn message(fake: &FakeGraph, body: &Bytes) -> Request<Full<Bytes>> {
    Request::post(fake.messages_url(DEFAULT_GRAPH_VERSION))
        .header("content-type", "application/json")
        .body(Full::new(body.clone()))
        .unwrap()
}

async fn send_one(
    stack: &Stack,
    fake: &FakeGraph,
    body: &Bytes,
) -> Result<http::Response<Bytes>, BoxError> {
    let res = stack.clone().oneshot(message(fake, body)).await?;
    let (parts, body) = res.into_parts();
    let body = body.collect().await?.to_bytes();
    Ok(http::Response::from_parts(parts, body))
}

fn crate_error(err: &BoxError) -> &Error {
    err.downcast_ref::<Error>()
        .unwrap_or_else(|| panic!("not a crate error: {err}"))
}

async fn expiry_run(count: usize, concurrency: usize) {
    let (fake, stack, cell) = start(fake_config(Some(20)), |l| l).await;
    let body = text_message("15551234567", "expiry run");
    let summary = send_batch(
        stack,
        &fake.messages_url(DEFAULT_GRAPH_VERSION),
        body.clone(),
        count,
        concurrency,
        false,
    )
    .await;
    assert_eq!(summary.sent, count, "failures: {:?}", summary.failed);
    let graph = fake.counters();
    assert_eq!(graph.exchanges, 1, "exactly one exchange");
    assert_eq!(cell.stats().refreshes, 1);
    assert_eq!(cell.stats().generation, 1);
    assert_eq!(graph.messages_accepted, count as u64);
    // Every rejection was replayed exactly once, and nothing else was sent twice.
    assert_eq!(graph.message_requests, count as u64 + graph.rejected_190);
    assert!(
        graph.rejected_190 >= 1 && graph.rejected_190 <= concurrency as u64,
        "{graph:?}"
    );
    let bodies = fake.bodies();
    assert_eq!(bodies.len() as u64, graph.message_requests);
    assert!(
        bodies.iter().all(|b| *b == body),
        "every received body is byte-identical"
    );
    assert_eq!(graph.secrets_in_url, 0, "client_secret never in a URL");
}

#[tokio::test]
async fn two_hundred_at_16_through_an_expiry_are_all_accepted_with_one_exchange() {
    expiry_run(200, 16).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_at_128_through_an_expiry_are_all_accepted_with_one_exchange() {
    expiry_run(1000, 128).await;
}

#[tokio::test]
async fn error_190_is_recognised_under_http_400_and_401() {
    for status in [400, 401] {
        let config = FakeConfig {
            status_190: status,
            ..fake_config(Some(1))
        };
        let (fake, stack, _cell) = start(config, |l| l).await;
        let body = text_message("1555", "status");
        for _ in 0..3 {
            let res = send_one(&stack, &fake, &body).await.unwrap();
            assert_eq!(res.status(), 200, "HTTP {status}");
        }
        let graph = fake.counters();
        assert_eq!(graph.exchanges, 1, "HTTP {status}");
        assert_eq!(graph.rejected_190, 1, "HTTP {status}");
    }
}

#[tokio::test]
async fn rate_limits_and_bad_gateways_pass_through_untouched_without_refresh() {
    let (fake, stack, cell) = start(fake_config(None), |l| l).await;
    let body = text_message("1555", "limits");
    for (status, code) in [
        (400, 130429),
        (400, 4),
        (400, 80007),
        (429, 131056),
        (400, 613),
    ] {
        fake.push_fault(Fault::GraphError {
            status,
            code,
            subcode: None,
        });
        let res = send_one(&stack, &fake, &body).await.unwrap();
        assert_eq!(res.status(), status);
        let err = res.extensions().get::<GraphError>().expect("classified");
        assert_eq!(err.kind(), ErrorKind::RateLimited);
        assert_eq!(err.code(), code);
        assert!(
            res.body().starts_with(b"{\"error\""),
            "body kept for the caller"
        );
    }
    fake.push_fault(Fault::BadGatewayHtml);
    let res = send_one(&stack, &fake, &body).await.unwrap();
    assert_eq!(res.status(), 502);
    assert!(res.extensions().get::<GraphError>().is_none());
    assert_eq!(
        &res.body()[..],
        b"<html><head><title>502 Bad Gateway</title></head><body>Bad Gateway</body></html>"
    );
    // Nothing refreshed, nothing replayed, and the stack still works.
    assert_eq!(fake.counters().exchanges, 0);
    assert_eq!(fake.counters().message_requests, 6);
    assert_eq!(send_one(&stack, &fake, &body).await.unwrap().status(), 200);
    assert_eq!(cell.stats().generation, 0);
}

#[tokio::test]
async fn a_revoked_token_fails_fast_without_reaching_graph() {
    let (fake, stack, _cell) = start(fake_config(None), |l| l).await;
    let body = text_message("1555", "revoked");
    fake.push_fault(Fault::Revoke { subcode: 460 });
    let err = send_one(&stack, &fake, &body).await.unwrap_err();
    match crate_error(&err) {
        Error::Graph(g) => {
            assert_eq!((g.code(), g.subcode()), (190, Some(460)));
            assert_eq!(g.kind(), ErrorKind::TokenRevoked);
            assert!(g.hint().contains("password"));
        }
        other => panic!("unexpected {other:?}"),
    }
    let before = fake.counters();
    for _ in 0..20 {
        let err = send_one(&stack, &fake, &body).await.unwrap_err();
        assert!(
            matches!(crate_error(&err), Error::TokenDead { cause } if cause.subcode() == Some(460)),
            "{err}"
        );
    }
    let after = fake.counters();
    assert_eq!(
        after.message_requests, before.message_requests,
        "nothing sent"
    );
    assert_eq!(after.exchanges, 0, "a revoked token is not exchanged");
}

#[tokio::test]
async fn an_expired_token_without_app_credentials_is_a_typed_error_that_says_what_to_do() {
    let config = FakeConfig {
        app_secret: None,
        ..fake_config(Some(1))
    };
    let (fake, stack, _cell) = start(config, |l| l).await;
    let body = text_message("1555", "no creds");
    assert_eq!(send_one(&stack, &fake, &body).await.unwrap().status(), 200);
    let err = send_one(&stack, &fake, &body).await.unwrap_err();
    let Error::Graph(g) = crate_error(&err) else {
        panic!("{err}")
    };
    assert_eq!(g.kind(), ErrorKind::TokenExpired);
    assert!(err.to_string().contains("app id and secret"), "{err}");
    let sent = fake.counters().message_requests;
    let err = send_one(&stack, &fake, &body).await.unwrap_err();
    assert!(matches!(crate_error(&err), Error::TokenDead { .. }));
    assert_eq!(fake.counters().message_requests, sent, "fails fast");
}

#[tokio::test]
async fn a_refused_exchange_marks_the_token_dead() {
    let config = FakeConfig {
        exchange_accepts_expired: false,
        ..fake_config(Some(1))
    };
    let (fake, stack, _cell) = start(config, |l| l).await;
    let body = text_message("1555", "refused");
    assert_eq!(send_one(&stack, &fake, &body).await.unwrap().status(), 200);
    let err = send_one(&stack, &fake, &body).await.unwrap_err();
    assert!(
        matches!(crate_error(&err), Error::TokenDead { cause } if cause.code() == 190),
        "{err}"
    );
    let err = send_one(&stack, &fake, &body).await.unwrap_err();
    assert!(matches!(crate_error(&err), Error::TokenDead { .. }));
    assert_eq!(fake.counters().exchanges, 1);
    assert_eq!(
        fake.counters().message_requests,
        2,
        "the replay and later requests are not sent"
    );
}

async fn failing_exchange(
    mode: ExchangeMode,
) -> (
    Vec<Result<http::Response<Bytes>, BoxError>>,
    FakeGraph,
    Duration,
) {
    let (fake, stack, _cell) = start(fake_config(Some(0)), |l| {
        l.without_validation()
            .refresh_timeout(Duration::from_millis(800))
    })
    .await;
    fake.set_exchange_mode(mode);
    let body = text_message("1555", "exchange fails");
    let started = tokio::time::Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let (stack, req) = (stack.clone(), message(&fake, &body));
        tasks.spawn(async move {
            let res = stack.oneshot(req).await?;
            let (parts, body) = res.into_parts();
            Ok::<_, BoxError>(http::Response::from_parts(
                parts,
                body.collect().await?.to_bytes(),
            ))
        });
    }
    let results = tasks.join_all().await;
    (results, fake, started.elapsed())
}

#[tokio::test(start_paused = true)]
async fn an_exchange_answering_500_gives_a_typed_error_and_one_exchange_for_all_waiters() {
    let (results, fake, _) = failing_exchange(ExchangeMode::ServerError).await;
    for result in &results {
        let err = result.as_ref().unwrap_err();
        assert!(matches!(crate_error(err), Error::Refresh(_)), "{err}");
    }
    assert!(results.iter().any(|r| matches!(
        crate_error(r.as_ref().unwrap_err()),
        Error::Refresh(RefreshError::BackingOff { .. })
    )));
    assert_eq!(
        fake.counters().exchanges,
        1,
        "one exchange however many waited"
    );
    assert!(
        fake.counters().message_requests <= 50,
        "no replay reached Graph"
    );
}

#[tokio::test(start_paused = true)]
async fn a_hanging_exchange_gives_a_typed_error_within_the_refresh_timeout() {
    let (results, fake, elapsed) = failing_exchange(ExchangeMode::Hang).await;
    for result in &results {
        let err = result.as_ref().unwrap_err();
        let Error::Refresh(refresh) = crate_error(err) else {
            panic!("{err}")
        };
        let timed_out = match refresh {
            RefreshError::Timeout(t) => *t == Duration::from_millis(800),
            RefreshError::BackingOff { last, .. } => matches!(**last, RefreshError::Timeout(_)),
            _ => false,
        };
        assert!(timed_out, "{refresh}");
    }
    assert_eq!(fake.counters().exchanges, 1);
    assert!(
        elapsed >= Duration::from_millis(800) && elapsed < Duration::from_millis(900),
        "{elapsed:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn after_a_failed_exchange_the_backoff_ends_and_the_next_refresh_succeeds() {
    let (fake, stack, _cell) = start(fake_config(Some(0)), |l| {
        l.without_validation()
            .refresh_backoff(Duration::from_secs(5), Duration::from_secs(60))
    })
    .await;
    fake.set_exchange_mode(ExchangeMode::ServerError);
    let body = text_message("1555", "backoff");
    assert!(send_one(&stack, &fake, &body).await.is_err());
    fake.set_exchange_mode(ExchangeMode::Issue);
    let err = send_one(&stack, &fake, &body).await.unwrap_err();
    assert!(
        matches!(
            crate_error(&err),
            Error::Refresh(RefreshError::BackingOff { .. })
        ),
        "{err}"
    );
    assert_eq!(
        fake.counters().exchanges,
        1,
        "no exchange while backing off"
    );
    tokio::time::advance(Duration::from_secs(5)).await;
    assert_eq!(send_one(&stack, &fake, &body).await.unwrap().status(), 200);
    assert_eq!(fake.counters().exchanges, 2);
}

#[tokio::test(start_paused = true)]
async fn validation_happens_once_per_interval() {
    let (fake, stack, cell) = start(fake_config(None), |l| {
        l.validation_interval(Duration::from_secs(3600))
    })
    .await;
    let body = text_message("1555", "validate");
    let summary = send_batch(
        stack.clone(),
        &fake.messages_url(DEFAULT_GRAPH_VERSION),
        body.clone(),
        64,
        32,
        false,
    )
    .await;
    assert_eq!(summary.sent, 64);
    assert_eq!(
        fake.counters().validations,
        1,
        "one validation for 32 concurrent first requests"
    );
    tokio::time::advance(Duration::from_secs(3599)).await;
    send_one(&stack, &fake, &body).await.unwrap();
    assert_eq!(fake.counters().validations, 1);
    tokio::time::advance(Duration::from_secs(2)).await;
    send_batch(
        stack.clone(),
        &fake.messages_url(DEFAULT_GRAPH_VERSION),
        body.clone(),
        16,
        16,
        false,
    )
    .await;
    assert_eq!(fake.counters().validations, 2);
    assert_eq!(cell.stats().validations, 2);
}

#[tokio::test]
async fn a_body_over_the_cap_is_sent_once_and_its_190_is_reported() {
    let (fake, stack, _cell) = start(fake_config(Some(0)), |l| {
        l.without_validation().body_limit(1024)
    })
    .await;
    let big = text_message("1555", &"x".repeat(4096));
    let err = send_one(&stack, &fake, &big).await.unwrap_err();
    match crate_error(&err) {
        Error::NotReplayed { limit, source } => {
            assert_eq!(*limit, 1024);
            assert_eq!(source.kind(), ErrorKind::TokenExpired);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(fake.bodies(), vec![big.clone()], "sent exactly once, whole");
    // The refusal started the renewal; the next request waits for it and goes through.
    assert_eq!(send_one(&stack, &fake, &big).await.unwrap().status(), 200);
    assert_eq!(fake.counters().exchanges, 1);
}

#[tokio::test]
async fn composes_with_tower_timeout_and_retry_layers() {
    use tower::retry::{Policy, RetryLayer};
    use tower::timeout::TimeoutLayer;

    /// A user's policy: retry 502s up to twice.
    #[derive(Clone)]
    struct RetryBadGateway(usize);
    impl<Res: std::fmt::Debug> Policy<Request<Full<Bytes>>, http::Response<Res>, BoxError>
        for RetryBadGateway
    {
        type Future = std::future::Ready<()>;
        fn retry(
            &mut self,
            _: &mut Request<Full<Bytes>>,
            result: &mut Result<http::Response<Res>, BoxError>,
        ) -> Option<Self::Future> {
            let bad = matches!(result, Ok(res) if res.status() == 502);
            (bad && self.0 > 0).then(|| {
                self.0 -= 1;
                std::future::ready(())
            })
        }
        fn clone_request(&mut self, req: &Request<Full<Bytes>>) -> Option<Request<Full<Bytes>>> {
            let mut copy = Request::new(req.body().clone());
            *copy.uri_mut() = req.uri().clone();
            *copy.method_mut() = req.method().clone();
            *copy.headers_mut() = req.headers().clone();
            Some(copy)
        }
    }

    let config = fake_config(Some(3));
    let fake = FakeGraph::start(config.clone()).await;
    let stack = tower::ServiceBuilder::new()
        .layer(RetryLayer::new(RetryBadGateway(2)))
        .layer(TimeoutLayer::new(Duration::from_secs(10)))
        .layer(layer(&fake, &config))
        .service(common::sender::https_client());
    let body = text_message("1555", "composed");
    fake.push_fault(Fault::BadGatewayHtml);
    for _ in 0..10 {
        let res = stack.clone().oneshot(message(&fake, &body)).await.unwrap();
        assert_eq!(res.status(), 200);
    }
    let graph = fake.counters();
    assert_eq!(graph.exchanges, 1);
    assert_eq!(graph.messages_accepted, 10);
    assert_eq!(
        graph.message_requests, 12,
        "one 502 retried by the user's layer, one 190 replayed by ours"
    );
}

#[tokio::test]
async fn secrets_stay_out_of_debug_display_and_urls() {
    let config = fake_config(Some(2));
    let (fake, stack, cell) = start(config.clone(), |l| l).await;
    let body = text_message("1555", "secrets");
    for _ in 0..4 {
        send_one(&stack, &fake, &body).await.unwrap();
    }
    fake.push_fault(Fault::Revoke { subcode: 460 });
    let err = send_one(&stack, &fake, &body).await.unwrap_err();
    let err2 = send_one(&stack, &fake, &body).await.unwrap_err();
    let printed = format!(
        "{err} {err:?} {err2} {err2:?} {cell:?} {:?}",
        layer(&fake, &config)
    );
    let proof = tower_whatsapp_auth::appsecret_proof(&SECRET.into(), &config.token.as_str().into());
    for secret in [
        config.token.as_str(),
        SECRET,
        proof.as_str(),
        "EAAFakeRefreshed",
    ] {
        assert!(!printed.contains(secret), "{secret} leaked in {printed}");
    }
    assert_eq!(fake.counters().secrets_in_url, 0);
}
