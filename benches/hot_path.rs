//! Hot path, in memory: the full `WhatsAppAuthLayer` stack (without and with
//! an app secret) over a service that answers at once, against tower-http's
//! `SetRequestHeader` with a static bearer value, and against the bare
//! service. Compare the figures within one run:
//!
//! ```text
//! cargo bench --bench hot_path
//! ```

use std::convert::Infallible;
use std::future::{ready, Ready};
use std::task::{Context, Poll};

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion};
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

fn request() -> Request<Full<Bytes>> {
    Request::post(URL)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(BODY)))
        .unwrap()
}

fn hot_path(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("hot_path");

    let bare = Instant200;
    group.bench_function("bare", |b| b.to_async(&rt).iter(|| bare.oneshot(request())));

    let bearer = HeaderValue::from_static("Bearer EAAGbenchmarktoken0000000000000000");
    let set_header = ServiceBuilder::new()
        .layer(SetRequestHeaderLayer::overriding(AUTHORIZATION, bearer))
        .service(Instant200);
    group.bench_function("set_request_header", |b| {
        b.to_async(&rt)
            .iter(|| set_header.clone().oneshot(request()))
    });

    let plain = ServiceBuilder::new()
        .layer(WhatsAppAuthLayer::new("EAAGbenchmarktoken0000000000000000"))
        .service(Instant200);
    group.bench_function("whatsapp_auth", |b| {
        b.to_async(&rt).iter(|| plain.clone().oneshot(request()))
    });

    let with_proof = ServiceBuilder::new()
        .layer(
            WhatsAppAuthLayer::new("EAAGbenchmarktoken0000000000000000")
                .app_credentials("1234", "app-secret"),
        )
        .service(Instant200);
    group.bench_function("whatsapp_auth_with_app_secret", |b| {
        b.to_async(&rt)
            .iter(|| with_proof.clone().oneshot(request()))
    });
    group.finish();
}

criterion_group!(benches, hot_path);
criterion_main!(benches);
