//! The shaper's cost per request under the limit: the client stack with
//! `ThroughputLayer` against the same stack without it, over an in-memory
//! service that answers at once (and checks the bearer and that the body
//! is the caller's bytes). Two stacks: `WhatsAppAuthLayer` alone, and the
//! composition guide's order (`RetryLayer(GraphRetry)` → shaper →
//! `Timeout` → auth).
//! The pace is set far above what one thread can send, so no request
//! waits: what is measured is the admission (a path parse, a map read, a
//! lock, a clock read) and the answer's verdict. A third pair does the same
//! over a hyper client and server on 127.0.0.1, where a request costs what
//! a real one does at least. Paired ratios are printed at the end (see
//! `support`).
//!
//! ```text
//! cargo bench --bench throughput
//! ```

mod support;

use std::convert::Infallible;
use std::future::{ready, Ready};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use criterion::Criterion;
use http::header::AUTHORIZATION;
use http::{Request, Response};
use http_body::Body;
use http_body_util::{BodyExt, Empty, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::runtime::Runtime;
use tower::retry::RetryLayer;
use tower::timeout::TimeoutLayer;
use tower::{Service, ServiceBuilder, ServiceExt};
use tower_whatsapp_auth::retry::GraphRetry;
use tower_whatsapp_auth::throughput::ThroughputLayer;
use tower_whatsapp_auth::WhatsAppAuthLayer;

static BODY: &[u8] =
    br#"{"messaging_product":"whatsapp","to":"15551234567","type":"text","text":{"body":"hi"}}"#;
const NUMBER: &str = "106540352242922";
const URL: &str = "https://graph.facebook.com/v25.0/106540352242922/messages";
const TOKEN: &str = "EAAGbenchmarktoken0000000000000000";
const BEARER: &str = "Bearer EAAGbenchmarktoken0000000000000000";

/// Answers every request at once with an empty 200, after checking the
/// bearer and that the body is the caller's bytes (same address).
#[derive(Clone, Copy)]
struct Checked;

impl<B: Body<Data = Bytes> + Unpin> Service<Request<B>> for Checked {
    type Response = Response<Empty<Bytes>>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }
    fn call(&mut self, req: Request<B>) -> Self::Future {
        let (parts, mut body) = req.into_parts();
        assert_eq!(parts.headers[AUTHORIZATION], BEARER);
        let mut cx = Context::from_waker(Waker::noop());
        let data = match Pin::new(&mut body).poll_frame(&mut cx) {
            Poll::Ready(Some(Ok(frame))) => frame.into_data().unwrap_or_default(),
            _ => Bytes::new(),
        };
        assert_eq!(data.as_ptr(), BODY.as_ptr(), "the body was copied");
        ready(Ok(Response::new(Empty::new())))
    }
}

fn request() -> Request<Full<Bytes>> {
    Request::post(URL)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(BODY)))
        .unwrap()
}

const IDS: [&str; 6] = [
    "auth",
    "auth_shaped",
    "stack",
    "stack_shaped",
    "loopback",
    "loopback_shaped",
];

const SENT: &[u8] = br#"{"messaging_product":"whatsapp","contacts":[{"input":"15551234567","wa_id":"15551234567"}],"messages":[{"id":"wamid.BENCH"}]}"#;

/// A server on 127.0.0.1 that answers a message as Graph does, 401 without
/// the bearer. Returns its base URL.
async fn server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let svc =
                    hyper::service::service_fn(|req: Request<hyper::body::Incoming>| async move {
                        let ok = req
                            .headers()
                            .get(AUTHORIZATION)
                            .is_some_and(|v| v == BEARER);
                        let _ = req.into_body().collect().await;
                        let mut res = Response::new(Full::new(Bytes::from_static(SENT)));
                        *res.status_mut() = if ok {
                            http::StatusCode::OK
                        } else {
                            http::StatusCode::UNAUTHORIZED
                        };
                        Ok::<_, Infallible>(res)
                    });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    format!("http://{addr}")
}

fn auth() -> WhatsAppAuthLayer {
    WhatsAppAuthLayer::new(TOKEN).without_validation()
}

/// A pace no single thread reaches: the shaper never makes one wait.
fn shaper() -> ThroughputLayer {
    ThroughputLayer::new(u32::MAX)
}

fn throughput(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let timeout = || TimeoutLayer::new(Duration::from_secs(30));
    let retry = || RetryLayer::new(GraphRetry::new());
    let pace = shaper();

    let bare = ServiceBuilder::new().layer(auth()).service(Checked);
    let shaped = ServiceBuilder::new()
        .layer(pace.clone())
        .layer(auth())
        .service(Checked);
    let stack = ServiceBuilder::new()
        .layer(retry())
        .layer(timeout())
        .layer(auth())
        .service(Checked);
    let stack_shaped = ServiceBuilder::new()
        .layer(retry())
        .layer(pace.clone())
        .layer(timeout())
        .layer(auth())
        .service(Checked);
    rt.block_on(bare.token_cell().ready()).unwrap();
    // One message each first: every stack is ready, and the shaper knows
    // the number.
    rt.block_on(async {
        shaped.clone().oneshot(request()).await.unwrap();
        stack_shaped.clone().oneshot(request()).await.unwrap();
    });

    let mut group = c.benchmark_group("throughput");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    // Every call is unwrapped: a request failed or delayed would panic or
    // show, not look faster.
    macro_rules! bench {
        ($id:expr, $svc:expr) => {
            group.bench_function($id, |b| {
                b.to_async(&rt)
                    .iter(|| async { $svc.clone().oneshot(request()).await.unwrap() })
            });
        };
    }
    bench!(IDS[0], bare);
    bench!(IDS[1], shaped);
    bench!(IDS[2], stack);
    bench!(IDS[3], stack_shaped);
    group.finish();

    loopback(c, &pace);
    support::print_paired(
        "throughput, WhatsAppAuthLayer alone",
        vec![(IDS[0], timed(&rt, bare)), (IDS[1], timed(&rt, shaped))],
        41,
        20_000,
        "calls",
    );
    support::print_paired(
        "throughput, RetryLayer(GraphRetry) → [shaper] → Timeout → auth",
        vec![
            (IDS[2], timed(&rt, stack)),
            (IDS[3], timed(&rt, stack_shaped)),
        ],
        41,
        20_000,
        "calls",
    );
    // Under the limit: the pace never dropped.
    assert_eq!(pace.current_rate(NUMBER), Some(f64::from(u32::MAX)));
}

/// The shaper over a real client: `WhatsAppAuthLayer` → hyper-util client
/// → hyper server on 127.0.0.1, one request at a time.
fn loopback(c: &mut Criterion, pace: &ThroughputLayer) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let base = rt.block_on(server());
    let url = format!("{base}/v25.0/{NUMBER}/messages");
    // The loopback server is the stacks' Graph: the token goes nowhere else.
    let auth = || auth().graph_base(base.as_str());
    let client = Client::builder(TokioExecutor::new()).build_http();
    let bare = ServiceBuilder::new().layer(auth()).service(client);
    let shaped = ServiceBuilder::new()
        .layer(pace.clone())
        .layer(auth())
        .service(bare.get_ref().clone());
    let mut group = c.benchmark_group("throughput");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    group.bench_function(IDS[4], |b| {
        b.to_async(&rt).iter(|| send(bare.clone(), url.clone()))
    });
    group.bench_function(IDS[5], |b| {
        b.to_async(&rt).iter(|| send(shaped.clone(), url.clone()))
    });
    group.finish();
    let variants: Vec<support::Timed> = vec![
        (
            IDS[4],
            support::timed(&rt, || send(bare.clone(), url.clone())),
        ),
        (
            IDS[5],
            support::timed(&rt, || send(shaped.clone(), url.clone())),
        ),
    ];
    support::print_paired("throughput, loopback", variants, 31, 500, "requests");
}

/// One message through `svc` to `url`, its answer read whole.
async fn send<S, B>(svc: S, url: String)
where
    S: Service<Request<Full<Bytes>>, Response = Response<B>>,
    S::Error: std::fmt::Debug,
    B: Body,
    B::Error: std::fmt::Debug,
{
    let req = Request::post(url)
        .body(Full::new(Bytes::from_static(BODY)))
        .unwrap();
    let res = svc.oneshot(req).await.unwrap();
    assert_eq!(res.status(), 200);
    res.into_body().collect().await.unwrap();
}

/// `n` calls of a clone of `svc` with `oneshot`, as in the criterion runs.
fn timed<'a, S>(rt: &'a Runtime, svc: S) -> Box<dyn FnMut(u64) -> Duration + 'a>
where
    S: Service<Request<Full<Bytes>>> + Clone + 'a,
    S::Error: std::fmt::Debug,
{
    support::timed_oneshot(rt, svc, request)
}

fn main() {
    let started = std::time::SystemTime::now();
    let mut c = Criterion::default().configure_from_args();
    throughput(&mut c);
    c.final_summary();
    support::print_ratios(started, "throughput", "auth", &IDS[..2]);
    support::print_ratios(started, "throughput", "stack", &IDS[2..4]);
    support::print_ratios(started, "throughput", "loopback", &IDS[4..]);
}
