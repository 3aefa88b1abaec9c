//! 1. Hot path, in memory: the `WhatsAppAuthLayer` stack over a service that
//!    answers at once, without and with an app secret (`appsecret_proof`),
//!    and with app credentials (refresh on, so a copy is kept for replay),
//!    against tower-http's `SetRequestHeader` with a static bearer value and
//!    the bare service. Ratios are printed at the end of the run.
//!
//! ```text
//! cargo bench --bench hot_path
//! ```

mod support;

use std::convert::Infallible;
use std::future::{ready, Ready};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use criterion::Criterion;
use http::header::AUTHORIZATION;
use http::{HeaderValue, Request, Response};
use http_body_util::{Empty, Full};
use tower::{Service, ServiceBuilder, ServiceExt};
use tower_http::set_header::SetRequestHeaderLayer;
use tower_whatsapp_auth::WhatsAppAuthLayer;

/// Answers every request at once with an empty 200.
#[derive(Clone, Copy)]
struct Instant200;

impl<B> Service<Request<B>> for Instant200 {
    type Response = Response<Empty<Bytes>>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }
    fn call(&mut self, req: Request<B>) -> Self::Future {
        drop(req);
        ready(Ok(Response::new(Empty::new())))
    }
}

const BODY: &[u8] =
    br#"{"messaging_product":"whatsapp","to":"15551234567","type":"text","text":{"body":"hi"}}"#;
const URL: &str = "https://graph.facebook.com/v24.0/106540352242922/messages";
const TOKEN: &str = "EAAGbenchmarktoken0000000000000000";

fn request() -> Request<Full<Bytes>> {
    Request::post(URL)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(BODY)))
        .unwrap()
}

const IDS: [&str; 5] = [
    "bare",
    "set_request_header",
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

    group.bench_function(IDS[0], |b| {
        b.to_async(&rt).iter(|| Instant200.oneshot(request()))
    });

    let set_header = ServiceBuilder::new()
        .layer(SetRequestHeaderLayer::overriding(
            AUTHORIZATION,
            HeaderValue::from_static("Bearer EAAGbenchmarktoken0000000000000000"),
        ))
        .service(Instant200);
    group.bench_function(IDS[1], |b| {
        b.to_async(&rt)
            .iter(|| set_header.clone().oneshot(request()))
    });

    let layers = [
        WhatsAppAuthLayer::new(TOKEN),
        WhatsAppAuthLayer::new(TOKEN).app_secret("app-secret"),
        WhatsAppAuthLayer::new(TOKEN).app_credentials("1234", "app-secret"),
    ];
    for (id, layer) in IDS[2..].iter().zip(layers) {
        let stack = ServiceBuilder::new().layer(layer).service(Instant200);
        // Validated once before measuring, as a long-running client would be.
        rt.block_on(stack.clone().oneshot(request())).unwrap();
        group.bench_function(*id, |b| {
            b.to_async(&rt).iter(|| stack.clone().oneshot(request()))
        });
    }
    group.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    hot_path(&mut c);
    c.final_summary();
    support::print_ratios("hot_path", "set_request_header", &IDS);
}
