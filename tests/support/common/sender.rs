//! The client stack the tests build over the fake: one hyper-util client,
//! `WhatsAppAuthLayer`, a per-attempt timeout and, optionally, the pace of
//! a number's sends and tower's `RetryLayer` with `GraphRetry` outside.

use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
#[cfg(all(feature = "throughput", feature = "retry"))]
use tower::retry::RetryLayer;
use tower::timeout::{Timeout, TimeoutLayer};
use tower::util::BoxCloneSyncService;
use tower::{BoxError, ServiceBuilder, ServiceExt};
use tower_whatsapp_auth::{
    classify::GraphBody, ReplayBody, TokenCell, WhatsAppAuth, WhatsAppAuthLayer,
    DEFAULT_GRAPH_VERSION,
};
#[cfg(all(feature = "throughput", feature = "retry"))]
use tower_whatsapp_auth::{retry::GraphRetry, throughput::ThroughputLayer};

use super::fake_graph::FakeGraph;

#[allow(unused_imports)]
pub use super::batch::{send_batch, Summary};

/// The HTTP client under the stack: HTTPS for graph.facebook.com, plain HTTP
/// for a fake on 127.0.0.1.
pub type HttpsClient = Client<HttpsConnector<HttpConnector>, ReplayBody>;

/// What callers of the stack see. `Sync`, so it can live in axum state.
pub type Stack = BoxCloneSyncService<Request<Full<Bytes>>, Response<GraphBody<Incoming>>, BoxError>;

pub fn https_client() -> HttpsClient {
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1()
        .build();
    Client::builder(TokioExecutor::new()).build(connector)
}

/// hyper-util client + `auth` + a per-request timeout; returns the stack and
/// its token cell. Auth alone: no component besides the layer.
pub fn build_stack(auth: WhatsAppAuthLayer, timeout: Duration) -> (Stack, TokenCell) {
    let (service, cell) = authed(auth, timeout);
    (Stack::new(service), cell)
}

/// The per-attempt timeout over `auth` over the client, and this stack's
/// own cell (a layer whose first stack is built already gives each later
/// one a cell of its own).
fn authed(
    auth: WhatsAppAuthLayer,
    timeout: Duration,
) -> (Timeout<WhatsAppAuth<HttpsClient>>, TokenCell) {
    let service = ServiceBuilder::new()
        .layer(TimeoutLayer::new(timeout))
        .layer(auth)
        .service(https_client());
    let cell = service.get_ref().token_cell().clone();
    (service, cell)
}

/// [`build_stack`] with up to `retries` retries of what Graph refused as
/// temporary, and message sends paced at `mps` messages a second per
/// phone number (0: not paced): `RetryLayer(GraphRetry)` →
/// `ThroughputLayer` → per-attempt timeout → auth → client.
#[cfg(all(feature = "throughput", feature = "retry"))]
pub fn build_stack_paced(
    auth: WhatsAppAuthLayer,
    timeout: Duration,
    retries: u32,
    mps: u32,
) -> (Stack, TokenCell) {
    let pace = (mps > 0).then(|| ThroughputLayer::new(mps));
    build_stack_shaped(auth, timeout, retries, pace)
}

/// [`build_stack_paced`] with a shaper of your own (e.g. shared by several
/// replicas), or none.
#[cfg(all(feature = "throughput", feature = "retry"))]
pub fn build_stack_shaped(
    auth: WhatsAppAuthLayer,
    timeout: Duration,
    retries: u32,
    pace: Option<ThroughputLayer>,
) -> (Stack, TokenCell) {
    let (service, cell) = authed(auth, timeout);
    let retry = (retries > 0).then(|| RetryLayer::new(GraphRetry::new().max_retries(retries)));
    let stack = ServiceBuilder::new()
        .option_layer(retry)
        .option_layer(pace)
        .service(service);
    (Stack::new(stack), cell)
}

/// The Cloud API text message body.
pub fn text_message(to: &str, text: &str) -> Bytes {
    let body = serde_json::json!({
        "messaging_product": "whatsapp",
        "to": to,
        "type": "text",
        "text": { "body": text },
    });
    Bytes::from(body.to_string())
}

/// A text message to the fake's messages endpoint, as the tests send it.
pub fn message(fake: &FakeGraph) -> Request<Full<Bytes>> {
    Request::post(fake.messages_url(DEFAULT_GRAPH_VERSION))
        .body(Full::new(text_message("1555", "a test message")))
        .unwrap()
}

/// Sends [`message`] through `stack`; the status Graph answered with.
pub async fn status(stack: &Stack, fake: &FakeGraph) -> Result<u16, BoxError> {
    Ok(stack
        .clone()
        .oneshot(message(fake))
        .await?
        .status()
        .as_u16())
}
