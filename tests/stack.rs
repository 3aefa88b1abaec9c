//! The full stack over real hyper sockets on 127.0.0.1, against the embedded
//! Graph fake, while traffic flows: a token expiring under 200 messages (16
//! at a time) or 1,000 (128 at a time) costs one exchange, each rejected
//! message replayed once and every body byte-identical; error 190 is
//! recognised under HTTP 400 and 401; the token is validated once per
//! interval; a body over the replay cap is sent once; the layer composes
//! with tower's `Timeout` and `Retry`; no secret shows in `Debug`,
//! `Display` or a URL.

#[path = "support/common/mod.rs"]
mod common;

use std::time::Duration;

use bytes::Bytes;
use common::fake_graph::{FakeConfig, FakeGraph, Fault};
use common::full_stack::{crate_error, fake_config, layer, message, send_one, start, SECRET};
use common::sender::{send_batch, text_message};
use http::Request;
use http_body_util::Full;
use tower::{BoxError, ServiceExt};
use tower_whatsapp_auth::{graph::ErrorKind, Error, DEFAULT_GRAPH_VERSION};

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

/// The first request finds the token not yet validated and waits for it
/// (the stack's future then drives `ValidateIfNeeded`'s own, a path apart
/// from a send with a ready token); Graph refuses it as expired, and it is
/// replayed once, after the one renewal, with the same bytes.
#[tokio::test]
async fn a_request_that_waited_for_validation_is_replayed_once_after_a_190() {
    let (fake, stack, cell) = start(fake_config(None), |l| l).await;
    // A current-thread runtime: the token task has not run yet, so the
    // first request cannot find the token ready.
    assert_eq!(cell.stats().validations, 0);
    fake.push_fault(Fault::GraphError {
        status: 401,
        code: 190,
        subcode: Some(463),
    });
    let body = text_message("15551234567", "waited, then refused");
    let res = send_one(&stack, &fake, &body).await.unwrap();
    assert_eq!(res.status(), 200);
    let graph = fake.counters();
    assert_eq!(graph.exchanges, 1, "{graph:?}");
    assert_eq!(graph.message_requests, 2, "sent, refused, replayed once");
    assert_eq!(graph.messages_accepted, 1, "{graph:?}");
    assert_eq!(fake.bodies(), vec![body.clone(), body]);
    assert!(cell.stats().validations >= 1);
    assert_eq!(cell.stats().generation, 1);
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
