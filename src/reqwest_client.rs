//! [`ReqwestClient`] (cargo feature `reqwest`): a `reqwest::Client` as the
//! service under [`WhatsAppAuthLayer`](crate::WhatsAppAuthLayer).
//!
//! Complete bodies go to reqwest as the same `Bytes` (no copy), streaming
//! ones as a stream; answers come back as `http::Response<reqwest::Body>`,
//! whose body is an `http_body::Body<Data = Bytes>`. TLS is whatever the
//! application's reqwest is built with.
//!
//! ```no_run
//! use tower::{ServiceBuilder, ServiceExt};
//! use tower_whatsapp_auth::{ReqwestClient, WhatsAppAuthLayer};
//!
//! # async fn run() -> Result<(), tower::BoxError> {
//! let whatsapp = ServiceBuilder::new()
//!     .layer(WhatsAppAuthLayer::new(std::env::var("WHATSAPP_TOKEN")?).phone_number_id("1234567890"))
//!     .service(ReqwestClient::new(reqwest::Client::new()));
//! let req = http::Request::post("/1234567890/messages") // base URL and version from the layer
//!     .body(http_body_util::Full::new(bytes::Bytes::from_static(b"{}")))?;
//! let res = whatsapp.oneshot(req).await?;
//! # let _ = res; Ok(()) }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_service::Service;

use crate::body::ReplayBody;

/// A `Service<http::Request<ReplayBody>>` over a `reqwest::Client`. See the
/// [module docs](self).
#[derive(Debug, Clone, Default)]
pub struct ReqwestClient {
    client: reqwest::Client,
}

impl ReqwestClient {
    /// Sends through `client` (its pool, TLS, proxies and timeouts).
    pub fn new(client: reqwest::Client) -> ReqwestClient {
        ReqwestClient { client }
    }

    /// The client.
    pub fn get_ref(&self) -> &reqwest::Client {
        &self.client
    }

    /// Unwraps the client.
    pub fn into_inner(self) -> reqwest::Client {
        self.client
    }
}

/// Response future of [`ReqwestClient`].
pub type ReqwestFuture =
    Pin<Box<dyn Future<Output = Result<Response<reqwest::Body>, reqwest::Error>> + Send>>;

impl Service<Request<ReplayBody>> for ReqwestClient {
    type Response = Response<reqwest::Body>;
    type Error = reqwest::Error;
    type Future = ReqwestFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), reqwest::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<ReplayBody>) -> ReqwestFuture {
        let (parts, body) = req.into_parts();
        let body = match body.into_bytes() {
            Ok(bytes) => reqwest::Body::from(bytes),
            Err(streaming) => reqwest::Body::wrap(streaming),
        };
        let client = self.client.clone();
        let req = reqwest::Request::try_from(Request::from_parts(parts, body));
        Box::pin(async move {
            let res = client.execute(req?).await?;
            Ok(Response::from(res))
        })
    }
}
