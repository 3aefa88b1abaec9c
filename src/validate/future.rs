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
        cell: TokenCell,
        generation: u64,
        repair: Repair,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S: Service<Request<ReplayBody>>> {
        Calling { #[pin] future: S::Future },
        // Rare: boxed, so the hot path's future stays small.
        Waiting { waiting: Box<Waiting<S>> },
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
    pub(super) fn calling(
        future: S::Future,
        cell: TokenCell,
        generation: u64,
        repair: Repair,
    ) -> Self {
        ValidateFuture {
            state: State::Calling { future },
            cell,
            generation,
            repair,
        }
    }

    pub(super) fn waiting(
        cell: TokenCell,
        req: Request<ReplayBody>,
        service: S,
        repair: Repair,
    ) -> Self {
        ValidateFuture {
            state: State::Waiting {
                waiting: Box::new(Waiting {
                    settle: Some(Box::pin(cell.clone().settled())),
                    req: Some(req),
                    service,
                    since: Stopwatch::start(),
                }),
            },
            cell,
            generation: 0,
            repair,
        }
    }
}

impl<S, ResB> Future for ValidateFuture<S>
where
    S: Service<Request<ReplayBody>, Response = Response<ResB>> + Clone,
    S::Error: Into<BoxError>,
{
    type Output = Result<Response<ResB>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Calling { future } => {
                    let cell = &*this.cell;
                    let mut res =
                        ready!(future.poll(cx)).map_err(|e| cell.transport_error(e.into()))?;
                    let Some(err) = res.extensions().get::<GraphError>().cloned() else {
                        return Poll::Ready(Ok(res));
                    };
                    res.extensions_mut()
                        .insert(TokenGeneration(*this.generation));
                    this.cell.graph().metrics().graph_error(err.kind());
                    this.cell.observe(*this.generation, &err);
                    let err = this.cell.advise(&err);
                    return Poll::Ready(match outcome(&err, *this.repair) {
                        Ok(()) => Ok(res),
                        Err(error) => Err(error.into()),
                    });
                }
                StateProj::Waiting { waiting } => {
                    if let Some(settle) = waiting.settle.as_mut() {
                        let settled = ready!(settle.as_mut().poll(cx));
                        waiting.settle = None;
                        this.cell.graph().metrics().token_wait(waiting.since);
                        settled?;
                    }
                    ready!(waiting.service.poll_ready(cx))
                        .map_err(|e| this.cell.transport_error(e.into()))?;
                    let mut req = waiting.req.take().expect("polled after completion");
                    // The latest token, which may be newer than the one waited for.
                    let stamped = this.cell.with_sendable(|generation, stamp| {
                        stamp.apply(&mut req, this.cell.config());
                        generation
                    });
                    let Some(generation) = stamped else {
                        // It changed again while we got ready: give the
                        // capacity back and wait once more.
                        waiting.req = Some(req);
                        waiting.settle = Some(Box::pin(this.cell.clone().settled()));
                        waiting.since = Stopwatch::start();
                        give_back(&mut waiting.service);
                        continue;
                    };
                    *this.generation = generation;
                    let future = waiting.service.call(req);
                    this.state.set(State::Calling { future });
                }
            }
        }
    }
}
