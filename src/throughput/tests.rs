//! The shaper as a service, under paused time: turns, the maximum wait,
//! capacity, adaptation, the pair rate and what passes straight through.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use tokio::time::Instant;
use tower::limit::ConcurrencyLimitLayer;
use tower::{service_fn, BoxError, Layer, ServiceBuilder, ServiceExt};

use super::*;
use crate::body::tests::Chunks;
use crate::body::ReplayBody;
use crate::graph::GraphError;

const A: &str = "106540352242922";
const B: &str = "106540352242933";

/// What the stand-in Graph saw: when, which path, to whom.
type Log = Arc<Mutex<Vec<(Instant, String, Option<String>)>>>;

/// A stand-in for the stack under the shaper: answers each message with
/// `answer(to)` (status, Graph error code), recording it.
fn graph(
    answer: impl Fn(&str) -> (u16, Option<i64>) + Clone + Send + 'static,
) -> (
    impl tower::Service<
            Request<ReplayBody>,
            Response = Response<()>,
            Error = BoxError,
            Future = impl Send,
        > + Clone,
    Log,
) {
    let log: Log = Arc::default();
    let seen = log.clone();
    let svc = service_fn(move |req: Request<ReplayBody>| {
        let to = req
            .body()
            .as_bytes()
            .and_then(|b| path::recipient(b))
            .map(String::from);
        seen.lock()
            .unwrap()
            .push((Instant::now(), req.uri().path().to_owned(), to.clone()));
        let (status, code) = answer(to.as_deref().unwrap_or(""));
        async move {
            let status = StatusCode::from_u16(status).unwrap();
            let mut res = Response::new(());
            *res.status_mut() = status;
            if let Some(code) = code {
                res.extensions_mut()
                    .insert(GraphError::new(status, code, None, "m"));
            }
            Ok::<_, BoxError>(res)
        }
    });
    (svc, log)
}

fn ok(_: &str) -> (u16, Option<i64>) {
    (200, None)
}

fn message(number: &str, to: &str) -> Request<ReplayBody> {
    let body = format!(
        r#"{{"messaging_product":"whatsapp","to":"{to}","type":"text","text":{{"body":"hi"}}}}"#
    );
    Request::post(format!(
        "https://graph.facebook.com/v25.0/{number}/messages"
    ))
    .body(ReplayBody::from(body))
    .unwrap()
}

fn throttled(err: &BoxError) -> &Throttled {
    match err.downcast_ref::<crate::error::Error>() {
        Some(crate::error::Error::Throttled(throttled)) => throttled,
        _ => panic!("not Throttled: {err}"),
    }
}

#[tokio::test(start_paused = true)]
async fn messages_are_spaced_at_their_numbers_pace_and_others_pass_straight_through() {
    let (svc, log) = graph(ok);
    let layer = ThroughputLayer::new(10).burst(Duration::ZERO);
    let shaped = layer.layer(svc);
    let t0 = Instant::now();
    let sends = (0..4)
        .map(|_| shaped.clone().oneshot(message(A, "1555")))
        .collect();
    let sends = futures_join(sends);
    tokio::task::yield_now().await;
    // While A's messages wait, a read of the number and B's message go.
    let read = Request::get(format!("/v25.0/{A}"))
        .body(ReplayBody::empty())
        .unwrap();
    shaped.clone().oneshot(read).await.unwrap();
    shaped.clone().oneshot(message(B, "1555")).await.unwrap();
    assert_eq!(t0.elapsed(), Duration::ZERO);
    assert_eq!(log.lock().unwrap().len(), 3, "A's first, the read, B's");
    for send in sends.await {
        send.unwrap();
    }
    let at: Vec<Duration> = log
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, path, _)| path.contains(A) && path.ends_with("/messages"))
        .map(|(at, _, _)| *at - t0)
        .collect();
    let ms = Duration::from_millis;
    assert_eq!(at, [ms(0), ms(100), ms(200), ms(300)]);
}

/// Spawns each future at once; the returned future joins them in order.
fn futures_join<F>(futures: Vec<F>) -> impl std::future::Future<Output = Vec<F::Output>>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    async move {
        let mut out = Vec::new();
        for handle in handles {
            out.push(handle.await.unwrap());
        }
        out
    }
}

#[tokio::test(start_paused = true)]
async fn a_waiting_message_holds_none_of_the_inner_capacity() {
    let (svc, log) = graph(ok);
    // One request at a time below the shaper.
    let shaped = ServiceBuilder::new()
        .layer(ThroughputLayer::new(1).burst(Duration::ZERO))
        .layer(ConcurrencyLimitLayer::new(1))
        .service(svc);
    let t0 = Instant::now();
    shaped.clone().oneshot(message(A, "1555")).await.unwrap();
    // A's second message waits a second for its turn...
    let waiting = tokio::spawn(shaped.clone().oneshot(message(A, "1555")));
    tokio::task::yield_now().await;
    // ...and holds no permit: B's message goes at once.
    shaped.clone().oneshot(message(B, "1555")).await.unwrap();
    assert_eq!(t0.elapsed(), Duration::ZERO);
    waiting.await.unwrap().unwrap();
    assert_eq!(t0.elapsed(), Duration::from_secs(1));
    assert_eq!(log.lock().unwrap().len(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_turn_past_the_maximum_wait_fails_at_once_unsent() {
    let (svc, log) = graph(ok);
    let layer = ThroughputLayer::new(1)
        .burst(Duration::ZERO)
        .max_wait(Duration::from_secs(2));
    let shaped = layer.layer(svc);
    let t0 = Instant::now();
    let queued: Vec<_> = (0..3)
        .map(|_| shaped.clone().oneshot(message(A, "1555")))
        .collect();
    let queued = futures_join(queued);
    tokio::task::yield_now().await;
    let err = shaped
        .clone()
        .oneshot(message(A, "1555"))
        .await
        .unwrap_err();
    assert_eq!(t0.elapsed(), Duration::ZERO, "failed without waiting");
    let err = throttled(&err);
    assert_eq!(err.phone_number_id(), A);
    assert_eq!(err.reason(), ThrottleReason::Pace);
    assert_eq!(err.retry_after(), Duration::from_secs(3));
    assert!(err.is_safe_to_retry());
    for sent in queued.await {
        sent.unwrap();
    }
    assert_eq!(log.lock().unwrap().len(), 3, "the refused one never left");
}

#[tokio::test(start_paused = true)]
async fn a_turn_pushed_past_the_maximum_wait_by_a_refusal_fails_then() {
    // The first message is refused for throughput: the pace halves, and
    // the messages waiting behind it are stretched past a 1.5 s maximum.
    let first = Arc::new(Mutex::new(true));
    let (svc, log) = graph(move |_| {
        if std::mem::take(&mut *first.lock().unwrap()) {
            (400, Some(130_429))
        } else {
            (200, None)
        }
    });
    let layer = ThroughputLayer::new(2)
        .burst(Duration::ZERO)
        .max_wait(Duration::from_millis(1500));
    let shaped = layer.layer(svc);
    let t0 = Instant::now();
    let sends: Vec<_> = (0..4)
        .map(|_| shaped.clone().oneshot(message(A, "1555")))
        .collect();
    let results = futures_join(sends).await;
    assert_eq!(results[0].as_ref().unwrap().status(), 400);
    assert_eq!(layer.current_rate(A).map(|r| r.round()), Some(1.0));
    // 0.5 s → 1 s after the refusal; 1 s → 2 s and 1.5 s → 3 s: too late.
    assert!(results[1].is_ok());
    for late in &results[2..] {
        let err = throttled(late.as_ref().unwrap_err());
        assert_eq!(err.reason(), ThrottleReason::Pace);
    }
    assert_eq!(log.lock().unwrap().len(), 2);
    assert!(t0.elapsed() <= Duration::from_millis(1500));
}

#[tokio::test(start_paused = true)]
async fn refusals_lower_only_their_own_numbers_pace() {
    let (svc, _) = graph(|to| match to {
        "throttle" => (429, Some(130_429)),
        "proxy" => (429, None),
        "spam" => (400, Some(131_048)),
        _ => (200, None),
    });
    let layer = ThroughputLayer::new(80);
    let shaped = layer.layer(svc);
    shaped.clone().oneshot(message(B, "1555")).await.unwrap();
    shaped.clone().oneshot(message(A, "spam")).await.unwrap();
    assert_eq!(
        layer.current_rate(A),
        Some(80.0),
        "not a throughput refusal"
    );
    shaped
        .clone()
        .oneshot(message(A, "throttle"))
        .await
        .unwrap();
    assert_eq!(layer.current_rate(A), Some(40.0));
    assert_eq!(layer.current_rate(B), Some(80.0));
    // A 429 without a Graph error (a proxy's) counts too; it recovers.
    shaped.clone().oneshot(message(A, "proxy")).await.unwrap();
    let rate = layer.current_rate(A).unwrap();
    assert!(rate < 21.0, "{rate}");
    tokio::time::sleep(Duration::from_secs(8)).await;
    assert_eq!(layer.current_rate(A), Some(80.0));
    // With adaptation off, the pace stays.
    let layer = ThroughputLayer::new(80).adaptive(false);
    let (svc, _) = graph(|_| (429, Some(130_429)));
    layer.layer(svc).oneshot(message(A, "1555")).await.unwrap();
    assert_eq!(layer.current_rate(A).map(f64::round), Some(80.0));
}

#[tokio::test(start_paused = true)]
async fn after_a_pair_refusal_only_that_recipient_waits_four_to_the_n_seconds() {
    let strikes = Arc::new(Mutex::new(2));
    let (svc, log) = graph(move |to| {
        let mut left = strikes.lock().unwrap();
        if to == "1555" && *left > 0 {
            *left -= 1;
            (400, Some(131_056))
        } else {
            (200, None)
        }
    });
    let layer = ThroughputLayer::new(80).max_wait(Duration::from_secs(10));
    let shaped = layer.layer(svc);
    let t0 = Instant::now();
    let res = shaped.clone().oneshot(message(A, "1555")).await.unwrap();
    assert_eq!(res.status(), 400);
    // Another recipient goes at once; this one waits 1 s, is refused
    // again, then waits 4 s.
    shaped.clone().oneshot(message(A, "1666")).await.unwrap();
    assert_eq!(t0.elapsed(), Duration::ZERO);
    shaped.clone().oneshot(message(A, "1555")).await.unwrap();
    assert_eq!(t0.elapsed(), Duration::from_secs(1));
    shaped.clone().oneshot(message(A, "1555")).await.unwrap();
    assert_eq!(t0.elapsed(), Duration::from_secs(5));
    // Accepted: the count starts over, nothing waits.
    shaped.clone().oneshot(message(A, "1555")).await.unwrap();
    assert_eq!(t0.elapsed(), Duration::from_secs(5));
    assert_eq!(log.lock().unwrap().len(), 5);
    // A wait past the maximum fails at once.
    let (svc, _) = graph(|_| (400, Some(131_056)));
    let shaped = ThroughputLayer::new(80)
        .pair_wait(Duration::from_secs(20))
        .max_wait(Duration::from_secs(10))
        .layer(svc);
    shaped.clone().oneshot(message(A, "1777")).await.unwrap();
    let err = shaped
        .clone()
        .oneshot(message(A, "1777"))
        .await
        .unwrap_err();
    assert_eq!(throttled(&err).reason(), ThrottleReason::PairRate);
}

#[tokio::test(start_paused = true)]
async fn streaming_bodies_and_bare_paths_are_paced_too() {
    let (svc, log) = graph(ok);
    let shaped = ThroughputLayer::new(10).burst(Duration::ZERO).layer(svc);
    let t0 = Instant::now();
    let chunks = Chunks([Bytes::from_static(b"{\"to\":\"1555\"}")].into());
    let streaming = Request::post(format!("/{A}/messages"))
        .body(ReplayBody::streaming(chunks))
        .unwrap();
    shaped.clone().oneshot(streaming).await.unwrap();
    shaped.clone().oneshot(message(A, "1555")).await.unwrap();
    assert_eq!(t0.elapsed(), Duration::from_millis(100));
    assert_eq!(log.lock().unwrap().len(), 2);
}
