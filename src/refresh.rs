//! [`RefreshOn190`]: a [`tower::retry::Policy`] that renews an expired token
//! and replays the request once.
//!
//! When a response carries a [`GraphError`] of kind
//! [`TokenExpired`](crate::ErrorKind::TokenExpired) (code 190, subcode 463)
//! and the cell can refresh, the policy's retry future joins the cell's
//! single-flight refresh: the first rejected request runs the
//! `fb_exchange_token` exchange, every other one waits for it, and a request
//! that was rejected with a token already replaced does not refresh at all.
//! Then `Retry` replays the buffered copy, which
//! [`Authorize`](crate::Authorize) stamps with the new token. A refresh that
//! fails leaves the cell dead or backing off, so the replay fails locally
//! with a typed error instead of reaching Graph. Each request is replayed at
//! most once, and only requests whose body is buffered ([`ReplayBody`]) are
//! copied; without app credentials nothing is copied at all.
//!
//! ```
//! use tower::retry::RetryLayer;
//! use tower::ServiceBuilder;
//! use tower_whatsapp_auth::{AuthorizeLayer, ClassifyLayer, RefreshOn190, WhatsAppAuthLayer};
//! # let client = tower::service_fn(|_req: http::Request<tower_whatsapp_auth::ReplayBody>| async {
//! #     Ok::<_, tower::BoxError>(http::Response::new(http_body_util::Empty::<bytes::Bytes>::new()))
//! # });
//! let cell = WhatsAppAuthLayer::new("EAAG-token")
//!     .app_credentials("1234", "app-secret")
//!     .token_cell(client.clone());
//! let stack = ServiceBuilder::new()
//!     .layer(RetryLayer::new(RefreshOn190::new(cell.clone())))
//!     .layer(AuthorizeLayer::new(cell))
//!     .layer(ClassifyLayer::new())
//!     .service(client);
//! # let _ = stack;
//! ```

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower::retry::Policy;

use crate::body::copy_request;
use crate::{ErrorKind, FetchReason, GraphError, ReplayBody, TokenCell, TokenGeneration};

/// Retry policy: refresh the token on an expired-token answer, then replay
/// the request once. See the [module docs](crate::refresh).
#[derive(Debug, Clone)]
pub struct RefreshOn190 {
    cell: TokenCell,
    replayed: bool,
}

impl RefreshOn190 {
    /// A policy refreshing the token held by `cell`.
    pub fn new(cell: TokenCell) -> RefreshOn190 {
        RefreshOn190 {
            cell,
            replayed: false,
        }
    }
}

/// The wait before a replay: the cell's refresh, shared by every request
/// that saw the same token refused.
pub struct RefreshFuture(Pin<Box<dyn Future<Output = ()> + Send>>);

impl Future for RefreshFuture {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.0.as_mut().poll(cx)
    }
}

impl std::fmt::Debug for RefreshFuture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RefreshFuture")
    }
}

impl<ResB, E> Policy<Request<ReplayBody>, Response<ResB>, E> for RefreshOn190 {
    type Future = RefreshFuture;

    fn retry(
        &mut self,
        _req: &mut Request<ReplayBody>,
        result: &mut Result<Response<ResB>, E>,
    ) -> Option<RefreshFuture> {
        if self.replayed {
            return None;
        }
        let res = result.as_ref().ok()?;
        let err = res.extensions().get::<GraphError>()?;
        if err.kind() != ErrorKind::TokenExpired || !self.cell.can_refresh() {
            return None;
        }
        let TokenGeneration(seen) = *res.extensions().get::<TokenGeneration>()?;
        self.replayed = true;
        let (cell, cause) = (self.cell.clone(), err.clone());
        Some(RefreshFuture(Box::pin(async move {
            cell.renew(seen, FetchReason::Rejected, Some(cause)).await
        })))
    }

    fn clone_request(&mut self, req: &Request<ReplayBody>) -> Option<Request<ReplayBody>> {
        if self.replayed || !self.cell.can_refresh() {
            return None;
        }
        copy_request(req)
    }
}
