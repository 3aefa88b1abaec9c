//! [`WhatsAppAuth`]: the service [`WhatsAppAuthLayer`](crate::WhatsAppAuthLayer)
//! builds, in the shape of tower-http's `FollowRedirect`: it owns the ready
//! inner service (`ValidateIfNeeded<Classify<S>>`), and its response future
//! keeps the copy and replays it as tower's `Retry` would drive a
//! [`RefreshOn190`]: with the policy's own rules (which requests keep a
//! copy, which answers are replayed, once), decided with the token cell the
//! inner service holds, without a per-request clone of a `Retry` service or
//! of the policy.

mod future;
mod route;

pub(crate) use route::Route;

pub use future::WhatsAppAuthFuture;

use future::Replay;

use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use tower::util::BoxCloneSyncService;
use tower::BoxError;
use tower_service::Service;

use crate::body::{complete_body, within_limit, BufferRequest};
use crate::body::{BytesBody, ReplayBody};
use crate::classify::{Classify, GraphBody};
use crate::refresh::RefreshOn190;
use crate::token::TokenCell;
use crate::validate::ValidateIfNeeded;

/// A whole stack boxed, as an axum state or a struct field holds it: `Clone`
/// and `Sync`, taking requests with bodies of type `ReqB` (`Full<Bytes>`
/// unless said otherwise) and answering with the client's bodies of type
/// `ResB` behind [`GraphBody`]: `BoxedWhatsApp<hyper::body::Incoming>` over
/// hyper-util's client, `ReqwestWhatsApp` over reqwest (feature
/// `reqwest`).
///
/// ```
/// use std::time::Duration;
/// use tower::timeout::TimeoutLayer;
/// use tower::ServiceBuilder;
/// use tower_whatsapp_auth::{BoxedWhatsApp, ReplayBody, WhatsAppAuthLayer};
/// # let client = tower::service_fn(|_req: http::Request<ReplayBody>| async {
/// #     Ok::<_, tower::BoxError>(http::Response::new(http_body_util::Empty::<bytes::Bytes>::new()))
/// # });
/// #[derive(Clone)]
/// struct AppState {
///     whatsapp: BoxedWhatsApp<http_body_util::Empty<bytes::Bytes>>,
/// }
/// let state = AppState {
///     whatsapp: BoxedWhatsApp::new(
///         ServiceBuilder::new()
///             .layer(TimeoutLayer::new(Duration::from_secs(30)))
///             .layer(WhatsAppAuthLayer::new("EAAG-token"))
///             .service(client),
///     ),
/// };
/// # let _ = state;
/// ```
pub type BoxedWhatsApp<ResB, ReqB = Full<Bytes>> =
    BoxCloneSyncService<Request<ReqB>, Response<GraphBody<ResB>>, BoxError>;

/// The whole stack over [`ReqwestClient`](crate::ReqwestClient), boxed, as
/// an axum state or a struct field holds it; see [`BoxedWhatsApp`].
///
/// ```
/// use tower::ServiceBuilder;
/// use tower_whatsapp_auth::{ReqwestClient, ReqwestWhatsApp, WhatsAppAuthLayer};
/// let whatsapp: ReqwestWhatsApp = ReqwestWhatsApp::new(
///     ServiceBuilder::new()
///         .layer(WhatsAppAuthLayer::new("EAAG-token").graph_base("http://127.0.0.1:8080"))
///         .service(ReqwestClient::new(reqwest::Client::new())),
/// );
/// # let _ = whatsapp;
/// ```
#[cfg(feature = "reqwest")]
pub type ReqwestWhatsApp<ReqB = http_body_util::Full<bytes::Bytes>> =
    BoxedWhatsApp<reqwest::Body, ReqB>;

/// The service built by [`WhatsAppAuthLayer`](crate::WhatsAppAuthLayer).
///
/// It is `BufferBody → Retry<RefreshOn190> → ValidateIfNeeded → Classify`
/// over your client, fused: complete bodies (`Full<Bytes>`, `ReplayBody`,
/// …) skip buffering, and only requests that may need a replay keep a copy
/// (a shared reference to the body, never its bytes). The outcomes are the
/// table in [`crate::validate`], plus the replay.
#[derive(Clone, Debug)]
pub struct WhatsAppAuth<S> {
    inner: ValidateIfNeeded<Classify<S>>,
    /// Whether requests keep a copy for a replay: [`RefreshOn190`]'s rule,
    /// decided with the cell `inner` holds (so a clone of the stack, one
    /// per request with `oneshot`, counts one reference to it, not two).
    replays: bool,
    body_limit: usize,
}

impl<S> WhatsAppAuth<S> {
    pub(crate) fn new(
        inner: ValidateIfNeeded<Classify<S>>,
        policy: RefreshOn190,
        body_limit: usize,
    ) -> WhatsAppAuth<S> {
        WhatsAppAuth {
            inner,
            replays: policy.may_replay(),
            body_limit,
        }
    }

    /// The token state this stack shares among its clones.
    pub fn token_cell(&self) -> &TokenCell {
        self.inner.token_cell()
    }

    /// The wrapped client.
    pub fn get_ref(&self) -> &S {
        self.inner.get_ref().get_ref()
    }

    /// The wrapped client, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        self.inner.get_mut().get_mut()
    }

    /// Unwraps the client.
    pub fn into_inner(self) -> S {
        self.inner.into_inner().into_inner()
    }
}

impl<S, B, ResB> Service<Request<B>> for WhatsAppAuth<S>
where
    S: Service<Request<ReplayBody>, Response = Response<ResB>> + Clone,
    S::Error: Into<BoxError>,
    ResB: http_body::Body<Data = bytes::Bytes>,
    ResB::Error: Into<BoxError>,
    B: BytesBody,
{
    type Response = Response<GraphBody<ResB>>;
    type Error = BoxError;
    type Future = WhatsAppAuthFuture<B, Classify<S>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    #[inline]
    fn call(&mut self, req: Request<B>) -> Self::Future {
        let (inner, cell) = self.inner.parts_mut();
        respond(Route::new(inner, cell), self.replays, self.body_limit, req)
    }
}

/// Sends `req` through `route` (ready), keeping a copy when it may be
/// replayed (`replays`, and the cell renews): the request path of
/// [`WhatsAppAuth`], and of the tenant-aware stack once it knows the
/// tenant's cell.
#[inline]
pub(crate) fn respond<B, S, ResB>(
    route: Route<'_, S>,
    replays: bool,
    body_limit: usize,
    req: Request<B>,
) -> WhatsAppAuthFuture<B, S>
where
    S: Service<Request<ReplayBody>, Response = Response<ResB>> + Clone,
    S::Error: Into<BoxError>,
    B: BytesBody,
{
    // The body is converted alone, so the request head moves only into
    // the request sent.
    let (mut parts, body) = req.into_parts();
    let body = match complete_body(body) {
        Ok(body) => within_limit(body, &mut parts.extensions, body_limit),
        Err(body) => {
            // A streaming body is read first, with no capacity held.
            let req = Request::from_parts(parts, body);
            let service = route.release();
            let buffer = BufferRequest::new(req, body_limit);
            return WhatsAppAuthFuture::buffering(buffer, service, replays);
        }
    };
    // The copy is taken before the request moves on (none when nothing is
    // ever replayed: the source cannot renew), but for its URI: the stamp
    // gives it the one it replaced, so the copy takes it without a clone
    // (a clone where it replaced none, or the token was not ready). The
    // head and body join only where the request is sent. One send below,
    // so the code that moves the request is there once.
    let mut replay = match replays {
        true => Replay::keeping(&parts, &body, route.cell(), || route.spare()),
        false => None,
    };
    let copy = replay.as_deref_mut().map(Replay::copy_mut);
    let stamped = route.stamp(&mut parts, &body, copy);
    let dispatched = route.send(Request::from_parts(parts, body), stamped);
    WhatsAppAuthFuture::dispatched(dispatched, replay)
}
