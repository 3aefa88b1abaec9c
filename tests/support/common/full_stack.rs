//! The full stack over real hyper sockets, as the stack tests (`stack.rs`,
//! `refusals.rs`, `exchange_failures.rs`) and the request-path tests
//! (`request_path.rs`, `layer_and_parts.rs`, `configuration.rs`) build it:
//! the embedded Graph fake with an app secret, the layer pointed at it, and
//! one message sent and read whole.

use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use tower::{BoxError, ServiceExt};
use tower_whatsapp_auth::{Error, TokenCell, WhatsAppAuthLayer, DEFAULT_GRAPH_VERSION};

use super::fake_graph::{FakeConfig, FakeGraph};
use super::sender::{build_stack, Stack};

/// The fake's app secret; the stacks are given the same one.
pub const SECRET: &str = "fake-app-secret";

/// The fake with an app secret, its first token expiring after `token_uses`
/// accepted messages.
pub fn fake_config(token_uses: Option<u64>) -> FakeConfig {
    FakeConfig {
        app_secret: Some(SECRET.into()),
        token_uses,
        ..FakeConfig::default()
    }
}

/// The layer pointed at `fake`, with a 2 s refresh timeout.
pub fn layer(fake: &FakeGraph, config: &FakeConfig) -> WhatsAppAuthLayer {
    fake.layer(config).refresh_timeout(Duration::from_secs(2))
}

/// Starts the fake and the stack over it (a 30 s timeout per request), the
/// layer first passed through `adjust`.
pub async fn start(
    config: FakeConfig,
    adjust: impl FnOnce(WhatsAppAuthLayer) -> WhatsAppAuthLayer,
) -> (FakeGraph, Stack, TokenCell) {
    let fake = FakeGraph::start(config.clone()).await;
    let (stack, cell) = build_stack(adjust(layer(&fake, &config)), Duration::from_secs(30));
    (fake, stack, cell)
}

/// A POST of `body` to the fake's messages endpoint.
pub fn message(fake: &FakeGraph, body: &Bytes) -> Request<Full<Bytes>> {
    Request::post(fake.messages_url(DEFAULT_GRAPH_VERSION))
        .header("content-type", "application/json")
        .body(Full::new(body.clone()))
        .unwrap()
}

/// Sends `body` through `stack` and reads the whole answer.
pub async fn send_one(
    stack: &Stack,
    fake: &FakeGraph,
    body: &Bytes,
) -> Result<http::Response<Bytes>, BoxError> {
    let res = stack.clone().oneshot(message(fake, body)).await?;
    let (parts, body) = res.into_parts();
    let body = body.collect().await?.to_bytes();
    Ok(http::Response::from_parts(parts, body))
}

/// The crate's [`Error`] in `err`; panics on any other error.
pub fn crate_error(err: &BoxError) -> &Error {
    err.downcast_ref::<Error>()
        .unwrap_or_else(|| panic!("not a crate error: {err}"))
}

/// An hour: the lifetime of the request-path tests' first token.
pub const HOUR: Duration = Duration::from_secs(3600);

/// The fake with an app secret, every other setting its default: where the
/// request-path tests start.
pub fn config() -> FakeConfig {
    FakeConfig {
        app_secret: Some(SECRET.into()),
        ..FakeConfig::default()
    }
}
