//! The request path, composed with real tower layers over real sockets:
//! capacity limits inside the auth layer, token work that never stalls a
//! request while the token is usable, token work that callers cannot
//! cancel, and the same outcomes from `WhatsAppAuthLayer` and from the
//! parts assembled by hand.

#[path = "../examples/common/mod.rs"]
mod common;

use common::bodies::Streamed;

use std::time::Duration;

use bytes::Bytes;
use common::fake_graph::{ExchangeMode, FakeConfig, FakeGraph, Fault};
use common::sender::{https_client, message, send_batch, status, text_message, Stack};
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use tokio::time::Instant;
use tower::buffer::BufferLayer;
use tower::limit::ConcurrencyLimitLayer;
use tower::retry::RetryLayer;
use tower::timeout::TimeoutLayer;
use tower::util::BoxCloneSyncService;
use tower::{BoxError, Layer, ServiceBuilder, ServiceExt};
use tower_whatsapp_auth::{
    BufferBodyLayer, BytesBody, ClassifyLayer, Error, GraphBody, GraphError, RefreshError,
    RefreshOn190, ReplayBody, TokenCell, ValidateIfNeededLayer, WhatsAppAuthLayer,
    DEFAULT_GRAPH_VERSION,
};

const SECRET: &str = "fake-app-secret";
const HOUR: Duration = Duration::from_secs(3600);

fn config() -> FakeConfig {
    FakeConfig {
        app_secret: Some(SECRET.into()),
        ..FakeConfig::default()
    }
}

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

/// How a stack is put together.
#[derive(Debug, Clone, Copy)]
enum Assembly {
    Layer,
    Parts,
}

type Assembled<B> = BoxCloneSyncService<Request<B>, Response<GraphBody<Incoming>>, BoxError>;

fn assemble<B: BytesBody>(
    assembly: Assembly,
    layer: WhatsAppAuthLayer,
) -> (Assembled<B>, TokenCell) {
    let client = https_client();
    match assembly {
        Assembly::Layer => {
            let service = layer.layer(client);
            let cell = service.token_cell().clone();
            (BoxCloneSyncService::new(service), cell)
        }
        Assembly::Parts => {
            let cell = layer.token_cell(client.clone());
            let service = ServiceBuilder::new()
                .layer(BufferBodyLayer::new().limit(1024))
                .layer(RetryLayer::new(RefreshOn190::new(cell.clone())))
                .layer(ValidateIfNeededLayer::new(cell.clone()))
                .layer(ClassifyLayer::new())
                .service(client);
            (BoxCloneSyncService::new(service), cell)
        }
    }
}

/// What a caller got, in a form two assemblies can be compared by.
fn outcome(result: &Result<Response<GraphBody<Incoming>>, BoxError>) -> String {
    match result {
        Ok(res) => match res.extensions().get::<GraphError>() {
            Some(g) => format!("{} with {:?}", res.status().as_u16(), g.kind()),
            None => res.status().as_u16().to_string(),
        },
        Err(err) => match err.downcast_ref::<Error>() {
            Some(Error::Graph(g)) => format!("Graph({:?})", g.kind()),
            Some(Error::TokenDead { cause }) => format!("TokenDead({:?})", cause.kind()),
            Some(Error::NotReplayed { limit, source }) => {
                format!("NotReplayed({limit}, {:?})", source.kind())
            }
            Some(Error::Misconfigured { what, .. }) => format!("Misconfigured({what:?})"),
            Some(Error::Refresh(RefreshError::BackingOff { last, .. })) => {
                format!("BackingOff({:?})", last.kind())
            }
            Some(other) => format!("{other:?}"),
            None => format!("transport: {err}"),
        },
    }
}

/// A streaming body (no declared size) of a `len`-character message, in
/// 256-byte chunks.
fn streamed(len: usize) -> Streamed {
    Streamed::chunked(&text_message("1555", &"s".repeat(len)), 256)
}

/// One scenario through `assembly`: the outcomes callers saw, the
/// exchanges and the message requests Graph saw.
async fn run(assembly: Assembly, scenario: &str) -> (Vec<String>, u64, u64) {
    let mut config = config();
    match scenario {
        "expiry mid-run" => config.token_uses = Some(3),
        "expired without app credentials" => {
            config.app_secret = None;
            config.token_uses = Some(1);
        }
        "renewed token refused"
        | "streamed body refused"
        | "wrong app id"
        | "renewal failed (5xx)" => config.token_uses = Some(0),
        "renewal refused" => {
            config.token_uses = Some(0);
            config.exchange_accepts_expired = false;
        }
        _ => {}
    }
    let fake = FakeGraph::start(config.clone()).await;
    match scenario {
        "revoked" => fake.push_fault(Fault::Revoke { subcode: 460 }),
        "rate limited" => fake.push_fault(Fault::GraphError {
            status: 400,
            code: 130429,
            subcode: None,
        }),
        "transient 5xx" => fake.push_fault(Fault::GraphError {
            status: 503,
            code: 2,
            subcode: None,
        }),
        "HTML 502" => fake.push_fault(Fault::BadGatewayHtml),
        "missing permission" => fake.push_fault(Fault::GraphError {
            status: 403,
            code: 10,
            subcode: None,
        }),
        "renewed token refused" => fake.set_exchanged_rejected(true),
        "renewal failed (5xx)" => fake.set_exchange_mode(ExchangeMode::ServerError),
        _ => {}
    }
    let layer = match scenario {
        "wrong app secret" => fake.layer(&config).app_secret("not-the-app-secret"),
        "wrong app id" => fake.layer(&config).app_id("1000000000000"),
        // The app requires a proof; this stack has no secret to make one.
        "no app secret" => WhatsAppAuthLayer::new(config.token.as_str())
            .phone_number_id(config.phone_number_id.as_str())
            .graph_base(fake.base_url()),
        _ => fake.layer(&config),
    };
    let layer = layer.without_validation().body_limit(1024);
    let mut outcomes = Vec::new();
    let cell = if scenario == "streamed body refused" {
        let (stack, cell) = assemble::<Streamed>(assembly, layer);
        for len in [4096, 10] {
            let req = Request::post(fake.messages_url(DEFAULT_GRAPH_VERSION))
                .body(streamed(len))
                .unwrap();
            outcomes.push(outcome(&stack.clone().oneshot(req).await));
        }
        cell
    } else {
        let (stack, cell) = assemble::<Full<Bytes>>(assembly, layer);
        let sends = if scenario == "expiry mid-run" { 6 } else { 3 };
        for _ in 0..sends {
            outcomes.push(outcome(&stack.clone().oneshot(message(&fake)).await));
        }
        cell
    };
    // A refusal may have started a renewal for the next request: let it end.
    let _ = cell.ready().await;
    let graph = fake.counters();
    (outcomes, graph.exchanges, graph.message_requests)
}

#[tokio::test]
async fn the_layer_and_the_parts_assembled_by_hand_give_the_same_outcomes() {
    let expected: [(&str, &[&str], u64, u64); 14] = [
        ("expiry mid-run", &["200"; 6], 1, 7),
        (
            "revoked",
            &[
                "Graph(TokenRevoked)",
                "TokenDead(TokenRevoked)",
                "TokenDead(TokenRevoked)",
            ],
            0,
            1,
        ),
        (
            "rate limited",
            &["400 with RateLimited", "200", "200"],
            0,
            3,
        ),
        (
            "expired without app credentials",
            &["200", "Graph(TokenExpired)", "TokenDead(TokenExpired)"],
            0,
            2,
        ),
        (
            "renewed token refused",
            &[
                "Graph(TokenExpired)",
                "Graph(TokenExpired)",
                "Graph(TokenExpired)",
            ],
            6,
            6,
        ),
        (
            "streamed body refused",
            &["NotReplayed(1024, TokenExpired)", "200"],
            1,
            2,
        ),
        ("transient 5xx", &["503 with Transient", "200", "200"], 0, 3),
        ("HTML 502", &["502", "200", "200"], 0, 3),
        (
            "missing permission",
            &["Graph(PermissionMissing)", "200", "200"],
            0,
            3,
        ),
        ("wrong app secret", &["Misconfigured(AppSecret)"; 3], 0, 1),
        (
            "no app secret",
            &["Misconfigured(AppSecretMissing)"; 3],
            0,
            1,
        ),
        ("wrong app id", &["Misconfigured(AppId)"; 3], 1, 1),
        ("renewal refused", &["TokenDead(TokenExpired)"; 3], 1, 1),
        ("renewal failed (5xx)", &["BackingOff(Transient)"; 3], 1, 1),
    ];
    for (scenario, outcomes, exchanges, sent) in expected {
        for assembly in [Assembly::Layer, Assembly::Parts] {
            let (got, got_exchanges, got_sent) = run(assembly, scenario).await;
            assert_eq!(got, outcomes, "{scenario} through {assembly:?}");
            assert_eq!(
                (got_exchanges, got_sent),
                (exchanges, sent),
                "{scenario} through {assembly:?}: (exchanges, message requests)"
            );
        }
    }
}

#[test]
fn nonsense_configuration_is_a_check_error() {
    let base = || WhatsAppAuthLayer::new("EAAG-token");
    let cases: Vec<(&str, WhatsAppAuthLayer)> = vec![
        (
            "NaN fraction",
            base().refresh_window(Duration::from_secs(300), f64::NAN),
        ),
        (
            "negative fraction",
            base().refresh_window(Duration::from_secs(300), -0.5),
        ),
        (
            "fraction over 1",
            base().refresh_window(Duration::from_secs(300), 2.0),
        ),
        ("NaN jitter", base().refresh_jitter(f64::NAN)),
        ("negative jitter", base().refresh_jitter(-1.0)),
        (
            "endless interval",
            base().validation_interval(Duration::MAX),
        ),
        ("endless window", base().refresh_window(Duration::MAX, 0.1)),
        ("endless timeout", base().refresh_timeout(Duration::MAX)),
        (
            "endless back-off",
            base().refresh_backoff(Duration::MAX, Duration::MAX),
        ),
        ("endless recheck", base().dead_recheck(Duration::MAX)),
        ("zero timeout", base().validation_timeout(Duration::ZERO)),
    ];
    for (name, layer) in cases {
        assert!(matches!(layer.check(), Err(Error::Config(_))), "{name}");
    }
    assert!(base().check().is_ok());
}

/// The same nonsense values at run time: clamped, never a panic.
#[tokio::test(start_paused = true)]
async fn nonsense_configuration_never_panics_at_run_time() {
    let config = FakeConfig {
        token_lifetime: Some(HOUR),
        token_uses: Some(3),
        ..config()
    };
    let fake = FakeGraph::start(config.clone()).await;
    let layer = fake
        .layer(&config)
        .refresh_window(Duration::MAX, f64::NAN)
        .refresh_jitter(-1.0)
        .validation_interval(Duration::MAX)
        .dead_recheck(Duration::MAX)
        .refresh_backoff(Duration::MAX, Duration::MAX)
        .validation_retry(Duration::MAX);
    let (stack, cell) = common::sender::build_stack(layer, Duration::from_secs(30));
    for _ in 0..6 {
        let res = stack.clone().oneshot(message(&fake)).await.unwrap();
        assert_eq!(res.status(), 200);
    }
    tokio::time::advance(2 * HOUR).await;
    let _ = stack.clone().oneshot(message(&fake)).await;
    assert!(cell.stats().generation >= 1);
}
