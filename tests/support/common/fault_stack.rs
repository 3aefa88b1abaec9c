//! The stack the fault matrix (`faults.rs`, `validation_faults.rs`) runs:
//! the embedded Graph fake with short, known timeouts (the caller's, the
//! renewal's and the validation's) and a 1 s back-off, and one message sent
//! and read whole.

use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use tower::{BoxError, ServiceExt};
use tower_whatsapp_auth::{Error, TokenCell, WhatsAppAuthLayer, DEFAULT_GRAPH_VERSION};

use super::fake_graph::{FakeConfig, FakeGraph};
use super::sender::{build_stack, text_message, Stack};

/// The fake's app secret, and the fake with it and every other setting its
/// default (the request-path tests call that one `config`).
#[allow(unused_imports)]
pub use super::full_stack::{config as with_secret, SECRET};

/// The caller's own `TimeoutLayer`, per request.
pub const USER_TIMEOUT: Duration = Duration::from_secs(5);
/// The layer's `refresh_timeout`.
pub const REFRESH_TIMEOUT: Duration = Duration::from_secs(2);
/// The layer's `validation_timeout`.
pub const VALIDATION_TIMEOUT: Duration = Duration::from_secs(1);
/// The size of the huge bodies the fake is told to send.
pub const TEN_MB: usize = 10 * 1024 * 1024;

/// The layer pointed at `fake`, with the timeouts above and a 1 s back-off.
pub fn layer(fake: &FakeGraph, config: &FakeConfig) -> WhatsAppAuthLayer {
    fake.layer(config)
        .refresh_timeout(REFRESH_TIMEOUT)
        .validation_timeout(VALIDATION_TIMEOUT)
        .refresh_backoff(Duration::from_secs(1), Duration::from_secs(1))
}

/// Starts the fake and the stack over it ([`USER_TIMEOUT`] per request), the
/// layer first passed through `adjust`.
pub async fn start(
    config: FakeConfig,
    adjust: impl FnOnce(WhatsAppAuthLayer) -> WhatsAppAuthLayer,
) -> (FakeGraph, Stack, TokenCell) {
    let fake = FakeGraph::start(config.clone()).await;
    let (stack, cell) = build_stack(adjust(layer(&fake, &config)), USER_TIMEOUT);
    (fake, stack, cell)
}

/// Sends one message and reads the whole answer.
pub async fn send(stack: &Stack, fake: &FakeGraph) -> Result<http::Response<Bytes>, BoxError> {
    let req = Request::post(fake.messages_url(DEFAULT_GRAPH_VERSION))
        .body(Full::new(text_message("1555", "faults")))
        .unwrap();
    let res = stack.clone().oneshot(req).await?;
    let (parts, body) = res.into_parts();
    Ok(http::Response::from_parts(
        parts,
        body.collect().await?.to_bytes(),
    ))
}

/// A failure of the client under the stack, as the stack reports it.
pub fn is_transport(err: &BoxError) -> bool {
    matches!(err.downcast_ref::<Error>(), Some(Error::Transport(_)))
}
