//! 1. Hot path, in memory: the `WhatsAppAuthLayer` stack over a service that
//!    answers at once, without and with an app secret (`appsecret_proof`),
//!    and with app credentials (renewal possible, so a copy is kept for a
//!    replay), against tower-http's `SetRequestHeader` with a static bearer
//!    value (the baseline), the same with a value built at run time, and the
//!    bare service; and against what a user writes by hand to get a replay
//!    after a refused token: `SetRequestHeader` (a run-time value) under
//!    tower's `Retry`, with a policy that keeps a copy of every request
//!    (method, URI, version, headers, body) and sends it again once after
//!    a 401. The service checks every request: the
//!    bearer, the proof where one is due, and the body (the caller's bytes,
//!    not a copy). Ratios from this run are printed at the end.
//!
//! ```text
//! cargo bench --bench hot_path
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
use http::{HeaderValue, Request, Response};
use http_body::Body;
use http_body_util::{Empty, Full};
use tokio::runtime::Runtime;
use tower::retry::{Policy, RetryLayer};
use tower::{Service, ServiceBuilder, ServiceExt};
use tower_http::set_header::SetRequestHeaderLayer;
use tower_whatsapp_auth::WhatsAppAuthLayer;

// A `static`, not a `const`: the address check below needs one address.
static BODY: &[u8] =
    br#"{"messaging_product":"whatsapp","to":"15551234567","type":"text","text":{"body":"hi"}}"#;
const URL: &str = "https://graph.facebook.com/v24.0/106540352242922/messages";
const TOKEN: &str = "EAAGbenchmarktoken0000000000000000";
const BEARER: &str = "Bearer EAAGbenchmarktoken0000000000000000";

/// Answers every request at once with an empty 200, after checking it:
/// the bearer is set, the proof is there when `proof` says so, and the
/// body is the caller's bytes (same address). A layer that skipped any of
/// it would fail the bench, not look faster.
#[derive(Clone, Copy)]
struct Checked {
    proof: bool,
}

/// The data of a body that holds its bytes whole (both body types here do).
fn data<B: Body<Data = Bytes> + Unpin>(mut body: B) -> Bytes {
    let mut cx = Context::from_waker(Waker::noop());
    match Pin::new(&mut body).poll_frame(&mut cx) {
        Poll::Ready(Some(Ok(frame))) => frame.into_data().unwrap_or_default(),
        _ => Bytes::new(),
    }
}

impl<B: Body<Data = Bytes> + Unpin> Service<Request<B>> for Checked {
    type Response = Response<Empty<Bytes>>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }
    fn call(&mut self, req: Request<B>) -> Self::Future {
        let (parts, body) = req.into_parts();
        assert_eq!(parts.headers[AUTHORIZATION], BEARER);
        let query = parts.uri.query().unwrap_or("");
        assert_eq!(query.starts_with("appsecret_proof="), self.proof, "{query}");
        assert_eq!(data(body).as_ptr(), BODY.as_ptr(), "the body was copied");
        ready(Ok(Response::new(Empty::new())))
    }
}

/// What the bare arm stands for: a client that sets the header itself.
#[derive(Clone, Copy)]
struct Bare;

impl Service<Request<Full<Bytes>>> for Bare {
    type Response = Response<Empty<Bytes>>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }
    fn call(&mut self, mut req: Request<Full<Bytes>>) -> Self::Future {
        req.headers_mut()
            .insert(AUTHORIZATION, HeaderValue::from_static(BEARER));
        Checked { proof: false }.call(req)
    }
}

/// The replay a user writes by hand: tower's `Retry` keeping a copy of
/// every request, sent again once after a 401.
#[derive(Clone, Copy)]
struct RetryOn401 {
    retried: bool,
}

impl<B: Clone, ResB, E> Policy<Request<B>, Response<ResB>, E> for RetryOn401 {
    type Future = Ready<()>;

    fn retry(
        &mut self,
        _: &mut Request<B>,
        result: &mut Result<Response<ResB>, E>,
    ) -> Option<Ready<()>> {
        let refused = matches!(result, Ok(res) if res.status() == http::StatusCode::UNAUTHORIZED);
        (refused && !std::mem::replace(&mut self.retried, true)).then(|| ready(()))
    }

    fn clone_request(&mut self, req: &Request<B>) -> Option<Request<B>> {
        let mut copy = Request::new(req.body().clone());
        *copy.method_mut() = req.method().clone();
        *copy.uri_mut() = req.uri().clone();
        *copy.version_mut() = req.version();
        *copy.headers_mut() = req.headers().clone();
        Some(copy)
    }
}

fn request() -> Request<Full<Bytes>> {
    Request::post(URL)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(BODY)))
        .unwrap()
}

const IDS: [&str; 7] = [
    "bare",
    "set_request_header",
    "set_request_header_run_time_value",
    "set_request_header_under_retry",
    "whatsapp_auth",
    "whatsapp_auth_with_app_secret",
    "whatsapp_auth_with_app_credentials",
];

fn hot_path(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("hot_path");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));

    // Every call is unwrapped: a layer that failed a request without sending
    // it would panic here, not look faster.
    group.bench_function(IDS[0], |b| {
        b.to_async(&rt)
            .iter(|| async { Bare.oneshot(request()).await.unwrap() })
    });

    let set_header = ServiceBuilder::new()
        .layer(SetRequestHeaderLayer::overriding(
            AUTHORIZATION,
            HeaderValue::from_static(BEARER),
        ))
        .service(Checked { proof: false });
    group.bench_function(IDS[1], |b| {
        b.to_async(&rt)
            .iter(|| async { set_header.clone().oneshot(request()).await.unwrap() })
    });

    // The same, with the value built at run time, as from a token read from
    // the environment: it is shared, not static, so each clone counts.
    let mut value = HeaderValue::from_str(&format!("Bearer {TOKEN}")).unwrap();
    value.set_sensitive(true);
    let set_run_time = ServiceBuilder::new()
        .layer(SetRequestHeaderLayer::overriding(
            AUTHORIZATION,
            value.clone(),
        ))
        .service(Checked { proof: false });
    group.bench_function(IDS[2], |b| {
        b.to_async(&rt)
            .iter(|| async { set_run_time.clone().oneshot(request()).await.unwrap() })
    });

    // The hand-written alternative to the layer with app credentials.
    let by_hand = ServiceBuilder::new()
        .layer(RetryLayer::new(RetryOn401 { retried: false }))
        .layer(SetRequestHeaderLayer::overriding(AUTHORIZATION, value))
        .service(Checked { proof: false });
    group.bench_function(IDS[3], |b| {
        b.to_async(&rt)
            .iter(|| async { by_hand.clone().oneshot(request()).await.unwrap() })
    });

    // Validation is off: the checking service would refuse its call, and
    // between validations the path is the same.
    let layer = || WhatsAppAuthLayer::new(TOKEN).without_validation();
    let layers = [
        (layer(), false),
        (layer().app_secret("app-secret"), true),
        (layer().app_credentials("1234", "app-secret"), true),
    ];
    let mut stacks = Vec::new();
    for (id, (layer, proof)) in IDS[4..].iter().zip(layers) {
        let stack = ServiceBuilder::new()
            .layer(layer)
            .service(Checked { proof });
        // The token state is ready before measuring, as in a running client.
        rt.block_on(stack.token_cell().ready()).unwrap();
        group.bench_function(*id, |b| {
            b.to_async(&rt)
                .iter(|| async { stack.clone().oneshot(request()).await.unwrap() })
        });
        stacks.push(stack);
    }
    group.finish();

    // The same calls again, paired round by round (see `support`).
    let mut variants: Vec<support::Timed> = vec![
        (IDS[1], timed(&rt, set_header)),
        (IDS[0], timed(&rt, Bare)),
        (IDS[2], timed(&rt, set_run_time)),
        (IDS[3], timed(&rt, by_hand)),
    ];
    for (id, stack) in IDS[4..].iter().zip(stacks) {
        variants.push((*id, timed(&rt, stack)));
    }
    // `HOT_PATH_CALLS=<id>:<n>`: only `n` calls of one variant, for an
    // instruction count (see benches/README.md).
    if let Ok(only) = std::env::var("HOT_PATH_CALLS") {
        let (id, n) = only.split_once(':').expect("HOT_PATH_CALLS=<id>:<calls>");
        let n = n.parse().expect("a number of calls");
        let (_, run) = variants
            .iter_mut()
            .find(|(v, _)| *v == id)
            .expect("a variant's id");
        run(n);
        return;
    }
    // With app credentials against the hand-written replay (variant 3).
    let (by_hand, credentials) = (3, variants.len() - 1);
    support::print_paired_with(
        "hot_path",
        variants,
        41,
        20_000,
        "calls",
        &[(credentials, by_hand)],
    );
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
    hot_path(&mut c);
    c.final_summary();
    support::print_ratios(started, "hot_path", "set_request_header", &IDS);
}
