//! `GraphRetry` under tower's `RetryLayer`: the back-off schedule and its
//! bounds, waits Graph asks for, the caps, the budget, what is never
//! retried, and bodies replayed without a copy (under paused time); and the
//! `send` example against a Graph that throttles or fails behind a proxy,
//! over real sockets.
#![cfg(all(feature = "retry", feature = "throughput"))]

#[path = "support/common/mod.rs"]
mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use common::fake_graph::{FakeConfig, FakeGraph};
use common::run::{env_for, printed, run_example};
use http::{Method, Request, Response, StatusCode};
use tokio::time::Instant;
use tower::retry::budget::TpsBudget;
use tower::retry::RetryLayer;
use tower::{service_fn, BoxError, ServiceBuilder, ServiceExt};
use tower_whatsapp_auth::{
    graph::GraphError,
    retry::{GraphRetry, RetryIfUnknown},
    ReplayBody,
};

/// An answer the fake service gives: status, Graph error code, headers.
#[derive(Clone)]
struct Answer {
    status: u16,
    code: Option<i64>,
    headers: Vec<(&'static str, String)>,
}

fn graph(status: u16, code: i64) -> Answer {
    Answer {
        status,
        code: Some(code),
        headers: Vec::new(),
    }
}

fn plain(status: u16) -> Answer {
    Answer {
        status,
        code: None,
        headers: Vec::new(),
    }
}

/// What the service saw: when each attempt came, and its body's address.
#[derive(Default)]
struct Seen {
    at: Vec<Instant>,
    bodies: Vec<(usize, Bytes)>,
}

/// Sends one request through `RetryLayer(policy)` over a service that
/// answers the n-th attempt with `answers[n]` (the last one after that),
/// as the auth layer would (the Graph error in the extensions). Returns
/// the final status and what the service saw.
async fn run(
    policy: GraphRetry,
    req: Request<ReplayBody>,
    answers: Vec<Answer>,
) -> (Result<u16, BoxError>, Seen) {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let log = seen.clone();
    let svc = service_fn(move |req: Request<ReplayBody>| {
        let mut log = log.lock().unwrap();
        let n = log.at.len();
        log.at.push(Instant::now());
        let data = req.body().as_bytes().cloned().unwrap_or_default();
        log.bodies.push((data.as_ptr() as usize, data));
        let answer = answers[n.min(answers.len() - 1)].clone();
        async move {
            let status = StatusCode::from_u16(answer.status).unwrap();
            let mut res = Response::new(());
            *res.status_mut() = status;
            for (k, v) in answer.headers {
                res.headers_mut().insert(k, v.parse().unwrap());
            }
            if let Some(code) = answer.code {
                res.extensions_mut()
                    .insert(GraphError::new(status, code, None, "m"));
            }
            Ok::<_, BoxError>(res)
        }
    });
    let stack = ServiceBuilder::new()
        .layer(RetryLayer::new(policy))
        .service(svc);
    let result = stack.oneshot(req).await.map(|r| r.status().as_u16());
    let seen = Arc::try_unwrap(seen).ok().unwrap().into_inner().unwrap();
    (result, seen)
}

fn post() -> Request<ReplayBody> {
    Request::post("/v25.0/1/messages")
        .body(ReplayBody::from(Bytes::from_static(b"{\"to\":\"1\"}")))
        .unwrap()
}

fn gaps(at: &[Instant]) -> Vec<Duration> {
    at.windows(2).map(|w| w[1] - w[0]).collect()
}

#[tokio::test(start_paused = true)]
async fn waits_double_with_full_jitter_within_their_bounds() {
    let policy = GraphRetry::new()
        .max_retries(5)
        .backoff(Duration::from_secs(1), Duration::from_secs(6))
        .max_total_delay(Duration::from_secs(600));
    let (result, seen) = run(policy, post(), vec![graph(429, 130429)]).await;
    assert_eq!(result.unwrap(), 429, "given up after the last retry");
    assert_eq!(seen.at.len(), 6, "1 + 5 retries");
    let bounds = [1, 2, 4, 6, 6];
    for (gap, bound) in gaps(&seen.at).into_iter().zip(bounds) {
        assert!(gap <= Duration::from_secs(bound), "{gap:?} > {bound} s");
    }
    // Full jitter: the waits are not all at their bounds.
    let total: Duration = gaps(&seen.at).iter().sum();
    assert!(total < Duration::from_secs(19), "{total:?}");
}

#[tokio::test(start_paused = true)]
async fn the_pair_limit_waits_four_to_the_n_seconds() {
    let policy = GraphRetry::new().max_total_delay(Duration::from_secs(600));
    let (result, seen) = run(policy, post(), vec![graph(400, 131056)]).await;
    assert_eq!(result.unwrap(), 400);
    for (gap, at_least) in gaps(&seen.at).into_iter().zip([1, 4, 16]) {
        let least = Duration::from_secs(at_least);
        assert!(
            gap >= least && gap <= least.mul_f64(1.25),
            "{gap:?} vs {least:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn retry_after_and_the_regain_time_are_honoured() {
    let mut asked = graph(429, 130429);
    asked.headers.push(("retry-after", "7".into()));
    let (result, seen) = run(GraphRetry::new(), post(), vec![asked, plain(200)]).await;
    assert_eq!(result.unwrap(), 200);
    assert!(gaps(&seen.at)[0] >= Duration::from_secs(7));

    let mut regain = graph(400, 80007);
    regain.headers.push((
        "x-business-use-case-usage",
        r#"{"1":[{"type":"whatsapp","call_count":100,"estimated_time_to_regain_access":1}]}"#
            .into(),
    ));
    let (result, seen) = run(GraphRetry::new(), post(), vec![regain.clone(), plain(200)]).await;
    assert_eq!(result.unwrap(), 200);
    assert!(gaps(&seen.at)[0] >= Duration::from_secs(60), "one minute");

    // A wait past the total allowed is not waited: the answer goes back.
    let policy = GraphRetry::new().max_total_delay(Duration::from_secs(30));
    let (result, seen) = run(policy, post(), vec![regain, plain(200)]).await;
    assert_eq!(result.unwrap(), 400);
    assert_eq!(seen.at.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn attempts_and_total_delay_are_capped() {
    let (_, seen) = run(
        GraphRetry::new().max_retries(2),
        post(),
        vec![graph(503, 2)],
    )
    .await;
    assert_eq!(seen.at.len(), 3);
    let (_, seen) = run(
        GraphRetry::new().max_retries(0),
        post(),
        vec![graph(503, 2)],
    )
    .await;
    assert_eq!(seen.at.len(), 1, "0 turns retries off");
    let policy = GraphRetry::new()
        .max_retries(50)
        .backoff(Duration::from_secs(4), Duration::from_secs(4))
        .max_total_delay(Duration::from_secs(10));
    let started = Instant::now();
    let (_, seen) = run(policy, post(), vec![graph(429, 130429)]).await;
    assert!(started.elapsed() <= Duration::from_secs(10));
    assert!(seen.at.len() < 50);
}

#[tokio::test(start_paused = true)]
async fn a_spent_budget_stops_retries_across_clones() {
    // At least one retry a second and no share of traffic: over ten
    // seconds' window, about ten retries in all, however many requests.
    let policy = GraphRetry::new().budget(TpsBudget::new(Duration::from_secs(10), 1, 0.0));
    let mut attempts = 0;
    for _ in 0..40 {
        let (_, seen) = run(policy.clone(), post(), vec![graph(429, 130429)]).await;
        attempts += seen.at.len();
    }
    let retries = attempts - 40;
    assert!(retries <= 12, "{retries} retries for 40 throttled requests");
    assert!(retries >= 5, "the budget allowed some: {retries}");
}

#[tokio::test(start_paused = true)]
async fn unknown_outcomes_spam_limits_and_auth_errors_are_not_retried() {
    let cases = [
        ("502 HTML", plain(502)),
        ("500", plain(500)),
        ("spam limit", graph(400, 131048)),
        ("expired token", graph(401, 190)),
        ("permission", graph(403, 10)),
        ("invalid parameter", graph(400, 100)),
    ];
    for (name, answer) in cases {
        let (_, seen) = run(GraphRetry::new(), post(), vec![answer, plain(200)]).await;
        assert_eq!(seen.at.len(), 1, "{name}");
    }
    // Unless the caller opts in: per request, or for idempotent methods.
    let mut opted = post();
    opted.extensions_mut().insert(RetryIfUnknown);
    let (result, seen) = run(GraphRetry::new(), opted, vec![plain(502), plain(200)]).await;
    assert_eq!((result.unwrap(), seen.at.len()), (200, 2));
    let get = || Request::get("/v25.0/1").body(ReplayBody::empty()).unwrap();
    let (_, seen) = run(GraphRetry::new(), get(), vec![plain(502), plain(200)]).await;
    assert_eq!(seen.at.len(), 1, "GET is not retried by default");
    let policy = GraphRetry::new().retry_idempotent(true);
    let (_, seen) = run(policy, get(), vec![plain(502), plain(200)]).await;
    assert_eq!(seen.at.len(), 2);
    assert_eq!(Method::GET, get().method());
}

#[tokio::test(start_paused = true)]
async fn bodies_are_replayed_byte_identical_without_a_copy() {
    let (result, seen) = run(
        GraphRetry::new(),
        post(),
        vec![graph(429, 130429), graph(503, 2), plain(200)],
    )
    .await;
    assert_eq!(result.unwrap(), 200);
    assert_eq!(seen.bodies.len(), 3);
    let (first_ptr, first) = &seen.bodies[0];
    for (ptr, bytes) in &seen.bodies {
        assert_eq!(bytes, first);
        assert_eq!(ptr, first_ptr, "the same bytes, not a copy");
    }
}

fn send_args() -> [&'static str; 8] {
    [
        "--to",
        "15551234567",
        "--text",
        "hi",
        "--count",
        "200",
        "--concurrency",
        "16",
    ]
}

/// `send_args` without the shaper: the fake's throttle refuses every fifth
/// message whatever the pace, a fault pattern for the retry policy, which
/// the shaper would read as a limit of 80% of any pace and slow down for.
fn unpaced_send_args() -> Vec<&'static str> {
    let mut args = send_args().to_vec();
    args.extend(["--mps", "0"]);
    args
}

/// A Graph that refuses every fifth message with 130429 (HTTP 429): with
/// the default three retries, every message is delivered exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_retries_throttled_messages_and_delivers_each_once() {
    let config = FakeConfig {
        throttle_every: Some(5),
        ..FakeConfig::default()
    };
    let fake = FakeGraph::start(config.clone()).await;
    let out = run_example("send", &env_for(&fake, &config), &unpaced_send_args()).await;
    let shown = printed(&out);
    assert_eq!(out.status.code(), Some(0), "{shown}");
    let graph = fake.counters();
    assert_eq!(graph.messages_accepted, 200, "{graph:?}");
    assert_eq!(graph.duplicates, 0, "{graph:?}");
    assert_eq!(
        graph.message_requests, 240,
        "40 throttled, each retried once: {graph:?}"
    );
    // With retries off, the throttled ones fail.
    let fake = FakeGraph::start(config.clone()).await;
    let mut args = unpaced_send_args();
    args.extend(["--max-retries", "0"]);
    let out = run_example("send", &env_for(&fake, &config), &args).await;
    assert_eq!(out.status.code(), Some(1), "{}", printed(&out));
    assert_eq!(fake.counters().messages_accepted, 160);
}

/// A proxy that delivers every seventh message and answers a 502 HTML
/// page: those are not retried (they may have been delivered), and send
/// exits 1 naming them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_never_retries_a_message_whose_outcome_is_unknown() {
    let config = FakeConfig {
        bad_gateway_every: Some(7),
        ..FakeConfig::default()
    };
    let fake = FakeGraph::start(config.clone()).await;
    let out = run_example("send", &env_for(&fake, &config), &send_args()).await;
    let shown = printed(&out);
    assert_eq!(out.status.code(), Some(1), "{shown}");
    let graph = fake.counters();
    assert_eq!(graph.message_requests, 200, "nothing sent twice: {graph:?}");
    assert_eq!(graph.duplicates, 0);
    let unknown: Vec<String> = (1..=28).map(|k| format!("#{}", 7 * k)).collect();
    assert!(
        shown.contains("outcome unknown, not retried") && shown.contains(&unknown.join(", ")),
        "{shown}"
    );
}
