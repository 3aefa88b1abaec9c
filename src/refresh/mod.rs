//! [`RefreshOn190`]: a retry policy that replays a request once after
//! Graph refused its token as expired, with the renewed token.
//!
//! It is a tower [`Policy`](https://docs.rs/tower/0.5/tower/retry/trait.Policy.html). [`ValidateIfNeeded`](crate::validate::ValidateIfNeeded) below it reports the
//! refusal to the cell, whose task starts the renewal at once (one exchange,
//! however many requests were refused). The policy's wait joins that
//! renewal; then the buffered copy is replayed, and `ValidateIfNeeded`
//! stamps it with the token current at that moment. A renewal that fails
//! leaves the cell dead or backing off, so the replay fails locally with a
//! typed error instead of reaching Graph. Each request is replayed at most
//! once, and only complete bodies ([`ReplayBody`]) are copied; without a
//! renewable source nothing is copied at all.
//!
//! [`WhatsAppAuthLayer`](crate::WhatsAppAuthLayer)'s response future keeps
//! copies and replays by this policy's rules (the same functions decide).
//! Assembled by hand, the same parts give the same outcomes:
//!
//! ```
//! use tower::retry::RetryLayer;
//! use tower::ServiceBuilder;
//! use tower_whatsapp_auth::body::BufferBodyLayer;
//! use tower_whatsapp_auth::classify::ClassifyLayer;
//! use tower_whatsapp_auth::refresh::RefreshOn190;
//! use tower_whatsapp_auth::validate::ValidateIfNeededLayer;
//! use tower_whatsapp_auth::WhatsAppAuthLayer;
//! # let client = tower::service_fn(|_req: http::Request<tower_whatsapp_auth::ReplayBody>| async {
//! #     Ok::<_, tower::BoxError>(http::Response::new(http_body_util::Empty::<bytes::Bytes>::new()))
//! # });
//! let cell = WhatsAppAuthLayer::new("EAAG-token")
//!     .app_credentials("1234", "app-secret")
//!     .token_cell(client.clone());
//! let stack = ServiceBuilder::new()
//!     .layer(BufferBodyLayer::new())
//!     .layer(RetryLayer::new(RefreshOn190::new(cell.clone())))
//!     .layer(ValidateIfNeededLayer::new(cell))
//!     .layer(ClassifyLayer::new())
//!     .service(client);
//! # let _ = stack;
//! ```

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower::retry::Policy;

use crate::body::ReplayBody;
use crate::body::{copy_request_into, KeptRequest};
use crate::bounds::BoxFuture;
use crate::graph::GraphError;
use crate::refusal::Refusal;
use crate::telemetry::Stopwatch;
use crate::token::TokenCell;
use crate::validate::{Replayed, TokenGeneration};

/// Retry policy: after an expired-token answer, wait for the renewal, then
/// replay the request once. See the [module docs](crate::refresh).
#[derive(Debug, Clone)]
pub struct RefreshOn190 {
    cell: TokenCell,
    replayed: bool,
}

impl RefreshOn190 {
    /// A policy for the token held by `cell`.
    pub fn new(cell: TokenCell) -> RefreshOn190 {
        RefreshOn190 {
            cell,
            replayed: false,
        }
    }

    /// Whether requests may need a copy for a replay at all.
    pub(crate) fn may_replay(&self) -> bool {
        self.cell.can_refresh()
    }

    /// The copy kept of `req` for a replay, when one may come.
    pub(crate) fn copy(&self, req: &Request<ReplayBody>) -> Option<Request<ReplayBody>> {
        let mut slot = None;
        self.copy_into(req, &mut slot);
        slot
    }

    /// [`copy`](Self::copy), written into `slot` (no move of the copy).
    pub(crate) fn copy_into(
        &self,
        req: &Request<ReplayBody>,
        slot: &mut Option<Request<ReplayBody>>,
    ) {
        // The stack's own rule, before the one replay.
        if self.replayed || !keeps(&self.cell, req.body()) {
            *slot = None;
            return;
        }
        copy_request_into(req, slot);
    }

    /// Whether `result` is a refusal this policy replays after (once): the
    /// wait for the renewal, then. [`Policy::retry`] without the request.
    pub(crate) fn grant<ResB, E>(
        &mut self,
        result: &Result<Response<ResB>, E>,
    ) -> Option<RefreshFuture> {
        if self.replayed {
            return None;
        }
        let wait = replay_after(&self.cell, result)?;
        self.replayed = true;
        Some(wait)
    }
}

/// What the stack's own response future keeps of `req`, sent with `cell`'s
/// token, for a replay, when one may come (its body can be sent again, and
/// the cell renews): the same as [`RefreshOn190`]'s `clone_request`, made
/// cheaper.
#[inline]
pub(crate) fn keep(cell: &TokenCell, req: &Request<ReplayBody>) -> Option<KeptRequest> {
    keeps(cell, req.body()).then(|| KeptRequest::of_replayable(req))
}

/// Whether a copy of a request with `body`, sent with `cell`'s token, is
/// kept for a replay: its body can be sent again, and the cell renews. The
/// rule of [`RefreshOn190`]'s `clone_request` before its one replay.
#[inline]
pub(crate) fn keeps(cell: &TokenCell, body: &ReplayBody) -> bool {
    body.is_replayable() && cell.can_refresh()
}

/// Whether `result`, the answer to a request sent with `cell`'s token, is a
/// refusal that is replayed after: the wait for the renewal, then. The
/// decision of [`RefreshOn190`], for a caller that keeps the once-only
/// flag itself (the stack's own response future, which holds the cell in
/// its service and so keeps no policy).
#[inline]
pub(crate) fn replay_after<ResB, E>(
    cell: &TokenCell,
    result: &Result<Response<ResB>, E>,
) -> Option<RefreshFuture> {
    let res = result.as_ref().ok()?;
    // Nearly every answer carries no Graph error: decided here, inline.
    let err = res.extensions().get::<GraphError>()?;
    replay_after_error(cell, err, res.extensions())
}

/// [`replay_after`] for an answer carrying `err`.
#[inline(never)]
fn replay_after_error(
    cell: &TokenCell,
    err: &GraphError,
    extensions: &http::Extensions,
) -> Option<RefreshFuture> {
    // Replayed only what the cell renews for (the layer below reported
    // the refusal, with the generation it refused).
    if Refusal::of(err, cell.can_refresh()) != Refusal::Renew {
        return None;
    }
    extensions.get::<TokenGeneration>()?;
    cell.graph().metrics().replayed();
    let cell = cell.clone();
    Some(RefreshFuture(Box::pin(async move {
        // Whatever the renewal ends in, the replay finds out (and fails
        // fast if the cell is dead or backing off).
        let since = Stopwatch::start();
        let _ = cell.clone().settled().await;
        cell.graph().metrics().token_wait(since);
    })))
}

/// The wait before a replay: until the cell's task has renewed the token
/// (or failed to). It never runs the renewal itself.
pub struct RefreshFuture(BoxFuture<'static, ()>);

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
        req: &mut Request<ReplayBody>,
        result: &mut Result<Response<ResB>, E>,
    ) -> Option<RefreshFuture> {
        let wait = self.grant(result)?;
        req.extensions_mut().insert(Replayed);
        Some(wait)
    }

    fn clone_request(&mut self, req: &Request<ReplayBody>) -> Option<Request<ReplayBody>> {
        self.copy(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http::StatusCode;
    use http_body_util::Empty;

    type Result190 = Result<Response<Empty<Bytes>>, tower::BoxError>;

    fn cell(renewable: bool) -> TokenCell {
        let graph = tower::service_fn(|_: Request<ReplayBody>| async {
            Ok::<_, tower::BoxError>(Response::new(Empty::<Bytes>::new()))
        });
        let layer = crate::layer::WhatsAppAuthLayer::new("EAAG-token").without_validation();
        let layer = if renewable {
            layer.app_credentials("1234", "app-secret")
        } else {
            layer
        };
        layer.token_cell(graph)
    }

    /// Graph's answer to an expired token (as in `graph::error`'s docs),
    /// with the generation `ValidateIfNeeded` puts on it.
    fn expired() -> Result190 {
        let body = br#"{"error":{"message":"Error validating access token: Session has expired on Friday, 02-Jan-26 10:00:00 PST.","type":"OAuthException","code":190,"error_subcode":463,"fbtrace_id":"AbC"}}"#;
        let mut res = Response::new(Empty::new());
        *res.status_mut() = StatusCode::UNAUTHORIZED;
        let err = GraphError::parse(StatusCode::UNAUTHORIZED, body).unwrap();
        res.extensions_mut().insert(err);
        res.extensions_mut().insert(TokenGeneration(0));
        Ok(res)
    }

    fn request() -> Request<ReplayBody> {
        Request::post("/v25.0/1/messages")
            .body(ReplayBody::from(Bytes::from_static(b"{}")))
            .unwrap()
    }

    /// A copy is kept only while a replay may still come: with a source
    /// that can renew, and until the one replay is granted.
    #[tokio::test]
    async fn copies_are_kept_until_the_one_replay() {
        let mut policy = RefreshOn190::new(cell(true));
        let mut req = request();
        let copy =
            Policy::<_, Response<Empty<Bytes>>, tower::BoxError>::clone_request(&mut policy, &req);
        assert_eq!(copy.unwrap().uri(), req.uri());
        let mut slot = Some(request());
        policy.copy_into(&req, &mut slot);
        assert!(slot.is_some());
        assert!(policy.retry(&mut req, &mut expired()).is_some());
        assert!(req.extensions().get::<Replayed>().is_some());
        // Replayed once: no copy, and no second replay.
        let copy =
            Policy::<_, Response<Empty<Bytes>>, tower::BoxError>::clone_request(&mut policy, &req);
        assert!(copy.is_none());
        policy.copy_into(&req, &mut slot);
        assert!(slot.is_none());
        assert!(policy.retry(&mut req, &mut expired()).is_none());
    }

    /// A source that cannot renew never needs a copy.
    #[tokio::test]
    async fn a_source_that_cannot_renew_keeps_no_copy() {
        let mut policy = RefreshOn190::new(cell(false));
        let req = request();
        let copy =
            Policy::<_, Response<Empty<Bytes>>, tower::BoxError>::clone_request(&mut policy, &req);
        assert!(copy.is_none());
        let mut slot = Some(request());
        policy.copy_into(&req, &mut slot);
        assert!(slot.is_none());
    }
}
