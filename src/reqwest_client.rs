//! [`ReqwestClient`]: a `reqwest::Client` under the layer.

use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_service::Service;

use crate::body::ReplayBody;

/// A `Service<http::Request<ReplayBody>>` over a `reqwest::Client` (cargo
/// feature `reqwest`): the service under
/// [`WhatsAppAuthLayer`](crate::WhatsAppAuthLayer).
///
/// Complete bodies go to reqwest as the same `Bytes` (no copy), streaming
/// ones as a stream; answers come back as `http::Response<reqwest::Body>`,
/// whose body is an `http_body::Body<Data = Bytes>`. TLS is whatever the
/// application's reqwest is built with: without one of its TLS features
/// (`rustls`, `native-tls`), it cannot reach `https://graph.facebook.com`,
/// and [`WhatsAppAuthLayer::check`](crate::layer::WhatsAppAuthLayer::check)
/// says so. Its errors leave without the URL (which carries
/// `appsecret_proof`).
///
/// ```no_run
/// use tower::{ServiceBuilder, ServiceExt};
/// use tower_whatsapp_auth::{ReqwestClient, WhatsAppAuthLayer};
///
/// # async fn run() -> Result<(), tower::BoxError> {
/// let whatsapp = ServiceBuilder::new()
///     .layer(WhatsAppAuthLayer::new(std::env::var("WHATSAPP_TOKEN")?).phone_number_id("1234567890"))
///     .service(ReqwestClient::new(reqwest::Client::new()));
/// let req = http::Request::post("/1234567890/messages") // base URL and version from the layer
///     .body(http_body_util::Full::new(bytes::Bytes::from_static(b"{}")))?;
/// let res = whatsapp.oneshot(req).await?;
/// # let _ = res; Ok(()) }
/// ```
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
            // reqwest's errors quote the URL, query and all: the stack's
            // URLs carry appsecret_proof, so the URL goes.
            let res = client
                .execute(req.map_err(reqwest::Error::without_url)?)
                .await
                .map_err(reqwest::Error::without_url)?;
            Ok(Response::from(res))
        })
    }
}

/// Whether reqwest, as built in this program, cannot send to https: built
/// without a TLS feature, it refuses an https URL before any I/O ("scheme
/// is not http"); with one, a request to port 0 is refused at once. The
/// features are the same for every reqwest client in a program (Cargo
/// builds one reqwest), so one probe, with a default client, answers for
/// all; it runs once, on a thread of its own.
pub(crate) fn lacks_tls() -> bool {
    static LACKS: OnceLock<bool> = OnceLock::new();
    *LACKS.get_or_init(|| {
        std::thread::spawn(|| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            let client = reqwest::Client::builder().no_proxy().build().ok()?;
            let probe = client.get("https://127.0.0.1:0/").send();
            let Err(error) = runtime.block_on(probe) else {
                return Some(false);
            };
            let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&error);
            while let Some(e) = cause {
                if e.to_string().contains("scheme is not http") {
                    return Some(true);
                }
                cause = e.source();
            }
            Some(false)
        })
        .join()
        .ok()
        .flatten()
        .unwrap_or(false)
    })
}
