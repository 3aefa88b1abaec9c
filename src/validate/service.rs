//! [`ValidateIfNeeded`].

use std::task::{Context, Poll};

use http::request::Parts;
use http::{Request, Response, Uri};
use tower::BoxError;
use tower_service::Service;

use super::{Repair, SentWith, ValidateFuture};
use crate::body::{KeptRequest, ReplayBody};
use crate::capacity::{give_back, give_back_for_later};
use crate::token::TokenCell;

/// Middleware that makes the token ready and puts it on each request. See
/// the [module docs](crate::validate).
#[derive(Debug, Clone)]
pub struct ValidateIfNeeded<S> {
    inner: S,
    cell: TokenCell,
}

impl<S> ValidateIfNeeded<S> {
    pub(crate) fn new(inner: S, cell: TokenCell) -> ValidateIfNeeded<S> {
        ValidateIfNeeded { inner, cell }
    }

    /// The token state this middleware reads.
    pub fn token_cell(&self) -> &TokenCell {
        &self.cell
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the service.
    pub fn into_inner(self) -> S {
        self.inner
    }

    /// The wrapped service, mutably, and the cell.
    pub(crate) fn parts_mut(&mut self) -> (&mut S, &TokenCell) {
        (&mut self.inner, &self.cell)
    }
}

impl<S, ResB> Service<Request<ReplayBody>> for ValidateIfNeeded<S>
where
    S: Service<Request<ReplayBody>, Response = Response<ResB>> + Clone,
    S::Error: Into<BoxError>,
{
    type Response = Response<ResB>;
    type Error = BoxError;
    type Future = ValidateFuture<S>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner
            .poll_ready(cx)
            .map_err(|e| self.cell.transport_error(e.into()))
    }

    #[inline]
    fn call(&mut self, req: Request<ReplayBody>) -> Self::Future {
        send_with(&mut self.inner, &self.cell, req)
    }
}

/// What a request handed to [`send_with`] becomes: the future of one sent
/// with a ready token (the inner service's future, and what the answer is
/// read with), or of one waiting for the token in a [`ValidateFuture`].
/// Built by the caller's own type, so that no intermediate value is built
/// and then copied into it (where the compiler builds it is its choice;
/// an intermediate enum had cost a copy of the whole future).
pub(crate) trait Dispatch<S: Service<Request<ReplayBody>>> {
    /// Sent: `future`, whose answer is read with `sent`.
    fn sent(future: S::Future, sent: SentWith) -> Self;
    /// Waiting for the token.
    fn waiting(future: ValidateFuture<S>) -> Self;
}

impl<S: Service<Request<ReplayBody>>> Dispatch<S> for ValidateFuture<S> {
    #[inline]
    fn sent(future: S::Future, sent: SentWith) -> Self {
        ValidateFuture::calling(future, sent)
    }

    #[inline]
    fn waiting(future: ValidateFuture<S>) -> Self {
        future
    }
}

/// What [`ValidateIfNeeded`] does with a request (and the stack's replay,
/// with the cell the request was first sent with): stamps `req` with
/// `cell`'s token and sends it through `inner` (ready), or, when the token
/// needs work first, gives the reserved capacity back and waits. The
/// stack's own path calls its two halves apart ([`stamp_head`], then
/// [`dispatch`]).
#[inline]
pub(crate) fn send_with<S, ResB, D: Dispatch<S>>(
    inner: &mut S,
    cell: &TokenCell,
    req: Request<ReplayBody>,
) -> D
where
    S: Service<Request<ReplayBody>, Response = Response<ResB>> + Clone,
    S::Error: Into<BoxError>,
{
    let (mut head, body) = req.into_parts();
    let stamped = stamp_head(cell, &mut head, &body, None);
    dispatch(
        inner,
        cell.clone(),
        Request::from_parts(head, body),
        stamped,
    )
}

/// A request's head stamped with the token of a generation (none: the
/// token needs work first), and what its answer is read with.
pub(crate) struct Stamped {
    generation: Option<u64>,
    repair: Repair,
    /// The request goes to a host the token may not go to: not stamped,
    /// and failed unsent.
    refused: bool,
    /// The request goes to Graph's own host: only its refusals can mark
    /// the token dead.
    to_graph: bool,
}

/// [`send_with`]'s first half: stamps the `head` of a request with `body`,
/// where it lies (the request is then built once, where it is sent: moved
/// whole into a function, it was copied). A `copy` of the request for a
/// replay, made before and still without a URI, gets the request's URI as
/// it came: the one the stamp replaced, moved (a clone would take two
/// reference counts, and drop them again, on every request), or a clone
/// where it stays.
#[inline]
pub(crate) fn stamp_head(
    cell: &TokenCell,
    head: &mut Parts,
    body: &ReplayBody,
    mut copy: Option<&mut KeptRequest>,
) -> Stamped {
    let repair = Repair::of(&head.extensions, body, cell);
    if !cell.config().hosts.admits(&head.uri) {
        return Stamped {
            generation: None,
            repair,
            refused: true,
            to_graph: false,
        };
    }
    let generation = cell.with_sendable(|generation, stamp| {
        let replaced = stamp.apply_to_head(head, cell.config());
        if let Some(copy) = copy.as_deref_mut() {
            copy.set_uri(match replaced {
                Some(uri) => uri,
                None => cloned(&head.uri),
            });
        }
        generation
    });
    if let (None, Some(copy)) = (generation, copy) {
        copy.set_uri(cloned(&head.uri));
    }
    Stamped {
        generation,
        repair,
        refused: false,
        to_graph: cell.config().hosts.is_graph(&head.uri),
    }
}

/// A clone of `uri`, for a copy of a request whose URI the stamp did not
/// replace (no app secret and an absolute URI) or did not stamp yet (the
/// token was not ready): out of line, off the common path.
#[inline(never)]
fn cloned(uri: &Uri) -> Uri {
    uri.clone()
}

/// [`send_with`]'s second half: sends `req`, `stamped`, through `inner`
/// (ready), or waits for the token. The future keeps `cell` (owned: a
/// caller that owns one already hands it over, with no count taken).
#[inline]
pub(crate) fn dispatch<S, ResB, D: Dispatch<S>>(
    inner: &mut S,
    cell: TokenCell,
    req: Request<ReplayBody>,
    stamped: Stamped,
) -> D
where
    S: Service<Request<ReplayBody>, Response = Response<ResB>> + Clone,
    S::Error: Into<BoxError>,
{
    let Stamped {
        generation,
        repair,
        refused,
        to_graph,
    } = stamped;
    let Some(generation) = generation else {
        return D::waiting(unsent(inner, cell, req, repair, refused));
    };
    let future = inner.call(req);
    let sent = SentWith {
        cell,
        generation,
        repair,
        to_graph,
    };
    D::sent(future, sent)
}

/// A request not sent now: the token needs work first (the reserved
/// capacity is given back, the ready service dropped, and a clone polled
/// ready after the wait), or its host may not get the token (it fails
/// unsent, naming the host). Out of line: rare, and kept off the hot
/// path's code.
#[inline(never)]
fn unsent<S>(
    inner: &mut S,
    cell: TokenCell,
    req: Request<ReplayBody>,
    repair: Repair,
    refused: bool,
) -> ValidateFuture<S>
where
    S: Service<Request<ReplayBody>> + Clone,
{
    if refused {
        give_back(inner);
        // The same rule refused it; the fallback only keeps a panic out.
        let error = cell
            .config()
            .hosts
            .check(req.uri())
            .err()
            .unwrap_or_else(|| crate::error::Error::HostNotAllowed {
                host: req.uri().host().unwrap_or_default().to_owned(),
            });
        return ValidateFuture::refused(cell, error, repair);
    }
    let service = give_back_for_later(inner);
    ValidateFuture::waiting(cell, req, service, repair)
}
