//! The client stack shared by the examples (and the tests): one hyper-util
//! client, `WhatsAppAuthLayer`, a per-attempt timeout and, optionally,
//! tower's `RetryLayer` with the crate's `GraphRetry` policy outside it.

use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tower::retry::RetryLayer;
use tower::timeout::{Timeout, TimeoutLayer};
use tower::util::BoxCloneSyncService;
use tower::{BoxError, ServiceBuilder, ServiceExt};
use tower_whatsapp_auth::media::Media;
use tower_whatsapp_auth::throughput::ThroughputLayer;
use tower_whatsapp_auth::{
    classify::GraphBody, graph::GraphError, retry::GraphRetry, Error, RefreshError, ReplayBody,
    TokenCell, WhatsAppAuth, WhatsAppAuthLayer, DEFAULT_GRAPH_VERSION,
};

use super::fake_graph::FakeGraph;

#[allow(unused_imports)]
pub use super::batch::{send_batch, send_messages, Summary};

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
/// its token cell (for the examples' statistics).
pub fn build_stack(auth: WhatsAppAuthLayer, timeout: Duration) -> (Stack, TokenCell) {
    build_stack_with_retries(auth, timeout, 0)
}

/// [`build_stack`] with up to `retries` retries of what Graph refused as
/// temporary: `RetryLayer(GraphRetry)` → per-attempt timeout → auth → client.
pub fn build_stack_with_retries(
    auth: WhatsAppAuthLayer,
    timeout: Duration,
    retries: u32,
) -> (Stack, TokenCell) {
    build_stack_paced(auth, timeout, retries, 0)
}

/// [`build_stack_with_retries`] with message sends paced at `mps` messages
/// a second per phone number (0: not paced), in the README's order:
/// `RetryLayer(GraphRetry)` → `ThroughputLayer` → per-attempt timeout →
/// auth → client. A message refused for throughput is retried through the
/// pace it just lowered.
pub fn build_stack_paced(
    auth: WhatsAppAuthLayer,
    timeout: Duration,
    retries: u32,
    mps: u32,
) -> (Stack, TokenCell) {
    build_stack_shaped(
        auth,
        timeout,
        retries,
        (mps > 0).then(|| ThroughputLayer::new(mps)),
    )
}

/// [`build_stack_paced`] with a shaper of your own (e.g. shared by several
/// replicas), or none.
pub fn build_stack_shaped(
    auth: WhatsAppAuthLayer,
    timeout: Duration,
    retries: u32,
    pace: Option<ThroughputLayer>,
) -> (Stack, TokenCell) {
    let (stack, _, cell) = build_stack_and_media(auth, timeout, retries, pace);
    (stack, cell)
}

/// Media calls through the stack's per-attempt timeout and auth (so with
/// the same token cell), for the bot's downloads.
pub type MediaClient = Media<Timeout<WhatsAppAuth<HttpsClient>>>;

/// [`build_stack_shaped`], and a media client over the same auth stack
/// (its clones share the token).
pub fn build_stack_and_media(
    auth: WhatsAppAuthLayer,
    timeout: Duration,
    retries: u32,
    pace: Option<ThroughputLayer>,
) -> (Stack, MediaClient, TokenCell) {
    let service = ServiceBuilder::new()
        .layer(TimeoutLayer::new(timeout))
        .layer(auth)
        .service(https_client());
    let cell = service.get_ref().token_cell().clone();
    let retry = (retries > 0).then(|| RetryLayer::new(GraphRetry::new().max_retries(retries)));
    let stack = ServiceBuilder::new()
        .option_layer(retry)
        .option_layer(pace)
        .service(service.clone());
    (Stack::new(stack), Media::new(service), cell)
}

/// The Cloud API text message body.
pub fn text_message(to: &str, text: &str) -> Bytes {
    tracked_text_message(to, text, None)
}

/// A text message with `biz_opaque_callback_data` set to `tracking`, which
/// Graph hands back in the message's status webhooks: it names each message
/// of a batch.
pub fn tracked_text_message(to: &str, text: &str, tracking: Option<&str>) -> Bytes {
    let mut body = serde_json::json!({
        "messaging_product": "whatsapp",
        "to": to,
        "type": "text",
        "text": { "body": text },
    });
    if let Some(tracking) = tracking {
        body["biz_opaque_callback_data"] = tracking.into();
    }
    Bytes::from(body.to_string())
}

/// Whether `err` will fail every later request too, until an operator acts.
pub fn is_permanent(err: &Error) -> bool {
    matches!(
        err,
        Error::Misconfigured { .. }
            | Error::TokenDead { .. }
            | Error::PermissionMissing { .. }
            | Error::Config(_)
    )
}

pub(super) fn graph_reason(err: &GraphError) -> (String, String) {
    let code = match err.subcode() {
        Some(sub) => format!("{}/{sub}", err.code()),
        None => err.code().to_string(),
    };
    (
        format!(
            "{} (Graph code {code}, HTTP {})",
            err.kind(),
            err.status().as_u16()
        ),
        err.hint().to_owned(),
    )
}

/// A short, groupable reason and a remediation hint for a failed request.
pub fn describe(err: &BoxError) -> (String, String) {
    if err.is::<tower::timeout::error::Elapsed>() {
        return (
            "timed out".into(),
            "Graph did not answer in time; retry later".into(),
        );
    }
    if let Some(Error::Throttled(throttled)) = err.downcast_ref::<Error>() {
        return (
            "not sent, its turn would come past the maximum wait (throughput)".into(),
            format!(
                "nothing reached Graph: send it again later (in {:.0?} or more), or lower --concurrency or --mps",
                throttled.retry_after()
            ),
        );
    }
    let Some(err) = err.downcast_ref::<Error>() else {
        return (
            format!("transport error: {err}"),
            "check network access to the Graph API base URL".into(),
        );
    };
    match err {
        Error::Graph(g) => graph_reason(g),
        Error::TokenDead { cause } => {
            let (reason, hint) = graph_reason(cause);
            (format!("not sent, token dead: {reason}"), hint)
        }
        Error::NotReplayed { source, .. } => {
            let (reason, hint) = graph_reason(source);
            (format!("not replayed (body too large): {reason}"), hint)
        }
        Error::Misconfigured { what, cause } => {
            let (reason, hint) = graph_reason(cause);
            (format!("not sent, {}: {reason}", what.describe()), hint)
        }
        Error::Refresh(RefreshError::BackingOff { last, .. }) => (
            format!("not sent, refresh backing off after: {last}"),
            last.graph_error()
                .map_or_else(String::new, |g| g.hint().to_owned()),
        ),
        Error::Refresh(r) => (format!("not sent, refresh failed: {r}"), String::new()),
        other => (other.to_string(), String::new()),
    }
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
