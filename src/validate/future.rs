//! [`ValidateFuture`]: send, or wait for the token and then send; then read
//! what Graph said about the token.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use http::{Request, Response};
use pin_project_lite::pin_project;
use tower::BoxError;
use tower_service::Service;

use super::{outcome, Repair, TokenGeneration};
use crate::body::ReplayBody;
use crate::bounds::BoxFuture;
use crate::capacity::give_back;
use crate::error::Error;
use crate::graph::GraphError;
use crate::telemetry::Stopwatch;
use crate::token::Credential;
use crate::token::TokenCell;

pin_project! {
    /// Response future of [`ValidateIfNeeded`](super::ValidateIfNeeded).
    pub struct ValidateFuture<S: Service<Request<ReplayBody>>> {
        #[pin]
        state: State<S>,
        sent: SentWith,
    }
}

/// What a request was sent with, for reading the answer: the cell whose
/// token it carried, that token's generation, and what a refusal of it
/// could be repaired with.
pub(crate) struct SentWith {
    pub(crate) cell: TokenCell,
    pub(crate) generation: u64,
    pub(crate) repair: Repair,
    /// Sent to Graph's own host (not a media host): a refusal from
    /// anywhere else never marks the token dead.
    pub(crate) to_graph: bool,
}

pin_project! {
    #[project = StateProj]
    enum State<S: Service<Request<ReplayBody>>> {
        Calling { #[pin] future: S::Future },
        // Rare: boxed, so the hot path's future stays small.
        Waiting { waiting: Box<Waiting<S>> },
        // Failed unsent (its host may not get the token).
        Refused { error: Option<Box<Error>> },
    }
}

/// A request waiting for the token, and the service it will be sent with.
struct Waiting<S> {
    settle: Option<BoxFuture<'static, Result<Arc<Credential>, Error>>>,
    req: Option<Request<ReplayBody>>,
    service: S,
    /// When the current wait began (read only with the `opentelemetry`
    /// feature).
    since: Stopwatch,
}

impl<S: Service<Request<ReplayBody>>> ValidateFuture<S> {
    #[inline]
    pub(super) fn calling(future: S::Future, sent: SentWith) -> Self {
        ValidateFuture {
            state: State::Calling { future },
            sent,
        }
    }

    pub(super) fn waiting(
        cell: TokenCell,
        req: Request<ReplayBody>,
        service: S,
        repair: Repair,
    ) -> Self {
        let to_graph = cell.config().hosts.is_graph(req.uri());
        ValidateFuture {
            state: State::Waiting {
                waiting: Box::new(Waiting {
                    settle: Some(Box::pin(cell.clone().settled())),
                    req: Some(req),
                    service,
                    since: Stopwatch::start(),
                }),
            },
            sent: SentWith {
                cell,
                generation: 0,
                repair,
                to_graph,
            },
        }
    }

    /// A request that fails unsent with `error`.
    pub(super) fn refused(cell: TokenCell, error: Error, repair: Repair) -> Self {
        ValidateFuture {
            state: State::Refused {
                error: Some(Box::new(error)),
            },
            sent: SentWith {
                cell,
                generation: 0,
                repair,
                to_graph: false,
            },
        }
    }

    /// The token state the request is (to be) sent with.
    pub(crate) fn token_cell(&self) -> &TokenCell {
        &self.sent.cell
    }
}

impl<S, ResB> Future for ValidateFuture<S>
where
    S: Service<Request<ReplayBody>, Response = Response<ResB>> + Clone,
    S::Error: Into<BoxError>,
{
    type Output = Result<Response<ResB>, BoxError>;

    // A send whose answer carries no Graph error is the path nearly every
    // request takes: it is all this function holds, and the rest is out
    // of line, so the hot path's code stays small.
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Calling { future } => {
                    return Poll::Ready(answered(ready!(future.poll(cx)), this.sent));
                }
                StateProj::Waiting { waiting } => {
                    let (generation, future) = ready!(poll_waiting(waiting, &this.sent.cell, cx))?;
                    this.sent.generation = generation;
                    this.state.set(State::Calling { future });
                }
                StateProj::Refused { error } => {
                    let error = error.take().expect("polled after completion");
                    return Poll::Ready(Err(Box::new(*error)));
                }
            }
        }
    }
}

/// What goes up for `result`, the answer to a request `sent` as it says:
/// a failure of the client, typed; an answer carrying a Graph error,
/// noted in the cell, and the response or error that follows; any other
/// answer, untouched.
#[inline]
pub(crate) fn answered<ResB, E: Into<BoxError>>(
    result: Result<Response<ResB>, E>,
    sent: &SentWith,
) -> Result<Response<ResB>, BoxError> {
    let res = match result {
        Ok(res) => res,
        Err(e) => return Err(sent.cell.transport_error(e.into())),
    };
    // Nearly every answer carries no Graph error: decided here, inline.
    if res.extensions().get::<GraphError>().is_none() {
        return Ok(res);
    }
    answered_with_error(res, sent)
}

/// What `res`, carrying a Graph error, says about the token `sent` with
/// it: noted in the cell, and the answer or error that goes up.
#[inline(never)]
fn answered_with_error<ResB>(
    mut res: Response<ResB>,
    sent: &SentWith,
) -> Result<Response<ResB>, BoxError> {
    let Some(err) = res.extensions().get::<GraphError>().cloned() else {
        return Ok(res);
    };
    let SentWith {
        cell,
        generation,
        repair,
        to_graph,
    } = sent;
    res.extensions_mut().insert(TokenGeneration(*generation));
    cell.graph().metrics().graph_error(err.kind());
    cell.observe(*generation, &err, *to_graph);
    let err = cell.advise(&err);
    match outcome(&err, *repair) {
        Ok(()) => Ok(res),
        Err(error) => Err(error.into()),
    }
}

/// A request waiting for the token: once it is usable and the service
/// ready, the request stamped and sent, with the generation it carries.
#[inline(never)]
fn poll_waiting<S>(
    waiting: &mut Waiting<S>,
    cell: &TokenCell,
    cx: &mut Context<'_>,
) -> Poll<Result<(u64, S::Future), BoxError>>
where
    S: Service<Request<ReplayBody>> + Clone,
    S::Error: Into<BoxError>,
{
    loop {
        if let Some(settle) = waiting.settle.as_mut() {
            let settled = ready!(settle.as_mut().poll(cx));
            waiting.settle = None;
            cell.graph().metrics().token_wait(waiting.since);
            settled?;
        }
        ready!(waiting.service.poll_ready(cx)).map_err(|e| cell.transport_error(e.into()))?;
        let mut req = waiting.req.take().expect("polled after completion");
        // The latest token, which may be newer than the one waited for.
        let stamped = cell.with_sendable(|generation, stamp| {
            stamp.apply(&mut req, cell.config());
            generation
        });
        let Some(generation) = stamped else {
            // It changed again while we got ready: give the capacity back
            // and wait once more.
            waiting.req = Some(req);
            waiting.settle = Some(Box::pin(cell.clone().settled()));
            waiting.since = Stopwatch::start();
            give_back(&mut waiting.service);
            continue;
        };
        return Poll::Ready(Ok((generation, waiting.service.call(req))));
    }
}
