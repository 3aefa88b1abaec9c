//! [`ResponseFuture`]: buffer (streaming bodies only), send, and replay once
//! after a renewal, as tower's `Retry` future does: one state enum, each
//! state carrying its own data. What only buffering and replays need is
//! boxed, so the future of a plain send stays small. The decision to replay
//! is [`RefreshOn190`](crate::RefreshOn190)'s, made with the token cell the
//! service already holds: a request keeps no policy of its own.

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use http::{Request, Response};
use pin_project_lite::pin_project;
use tower::BoxError;
use tower_service::Service;

use crate::body::{BufferRequest, BytesBody, KeptRequest, ReplayBody};
use crate::refresh::{keep, keeps, replay_after, RefreshFuture};
use crate::token::TokenCell;
use crate::validate::{Replayed, ValidateFuture, ValidateIfNeeded};

pin_project! {
    /// Response future of [`WhatsAppAuth`](super::WhatsAppAuth): `S` is the
    /// service below [`ValidateIfNeeded`].
    pub struct ResponseFuture<B, S: Service<Request<ReplayBody>>> {
        #[pin]
        state: State<B, S>,
    }
}

pin_project! {
    #[project = StateProj]
    #[project_replace = StateOwned]
    enum State<B, S: Service<Request<ReplayBody>>> {
        /// Reading a streaming body, holding no capacity; then sending it
        /// with the service (replayable when the stack can renew).
        Buffering {
            buffer: Pin<Box<BufferRequest<B>>>,
            next: Box<(ValidateIfNeeded<S>, bool)>,
        },
        /// Waiting for the service to be ready to send a request.
        Sending { pending: Box<Pending<S>> },
        /// Sent; what a replay needs, when one may come.
        Called {
            #[pin]
            future: ValidateFuture<S>,
            replay: Option<Box<Replay<S>>>,
        },
        /// Graph refused the token: waiting for the renewal, then the copy
        /// is sent.
        Renewing {
            wait: RefreshFuture,
            pending: Box<Pending<S>>,
        },
        /// Answered.
        Done,
    }
}

/// A request to send once the service is ready.
pub(super) struct Pending<S> {
    req: Request<ReplayBody>,
    service: ValidateIfNeeded<S>,
    /// Whether a copy is kept for a replay (none after the replay).
    replays: bool,
}

/// What a replay needs: the service (whose cell decides it) and the copy
/// of the request sent.
pub(super) struct Replay<S> {
    service: ValidateIfNeeded<S>,
    copy: KeptRequest,
}

impl<S> Replay<S> {
    /// What a replay of `req`, sent with `cell`'s token, needs: a copy of
    /// it and a service, when a replay may come.
    pub(super) fn keeping(
        req: &Request<ReplayBody>,
        cell: &TokenCell,
        service: impl FnOnce() -> ValidateIfNeeded<S>,
    ) -> Option<Box<Self>> {
        if !keeps(cell, req) {
            return None;
        }
        // Built in the box: the copy is large to move.
        Some(Box::new(Replay {
            service: service(),
            copy: KeptRequest::of_replayable(req),
        }))
    }
}

impl<B, S: Service<Request<ReplayBody>>> ResponseFuture<B, S> {
    /// `future` sends a request that `replay` may send again.
    #[inline]
    pub(super) fn called(future: ValidateFuture<S>, replay: Option<Box<Replay<S>>>) -> Self {
        ResponseFuture {
            state: State::Called { future, replay },
        }
    }

    /// `req` to send with `service` once it is ready (it is not yet):
    /// its body read first when it streams.
    pub(crate) fn when_ready(
        req: Request<B>,
        service: ValidateIfNeeded<S>,
        replays: bool,
        body_limit: usize,
    ) -> Self
    where
        B: BytesBody,
    {
        let (mut parts, body) = req.into_parts();
        match crate::body::complete_body(body) {
            Ok(body) => {
                let body = crate::body::within_limit(body, &mut parts.extensions, body_limit);
                ResponseFuture {
                    state: State::Sending {
                        pending: Box::new(Pending {
                            req: Request::from_parts(parts, body),
                            service,
                            replays,
                        }),
                    },
                }
            }
            Err(body) => {
                let buffer = BufferRequest::new(Request::from_parts(parts, body), body_limit);
                ResponseFuture::buffering(buffer, service, replays)
            }
        }
    }

    pub(super) fn buffering(
        buffer: BufferRequest<B>,
        service: ValidateIfNeeded<S>,
        replays: bool,
    ) -> Self {
        ResponseFuture {
            state: State::Buffering {
                buffer: Box::pin(buffer),
                next: Box::new((service, replays)),
            },
        }
    }
}

impl<B, S, ResB> Future for ResponseFuture<B, S>
where
    B: BytesBody,
    S: Service<Request<ReplayBody>, Response = Response<ResB>> + Clone,
    S::Error: Into<BoxError>,
{
    type Output = Result<Response<ResB>, BoxError>;

    // The answer to a request sent once is the path nearly every request
    // takes: it is all this function holds, and the rare states are
    // handled out of line, so the hot path's code stays small.
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            let next = match this.state.as_mut().project() {
                StateProj::Called { future, replay } => {
                    let result = ready!(future.poll(cx));
                    let wait = replay
                        .as_ref()
                        .and_then(|r| replay_after(r.service.token_cell(), &result));
                    let Some(wait) = wait else {
                        this.state.set(State::Done);
                        return Poll::Ready(result);
                    };
                    replaying(this.state.as_mut(), wait)
                }
                _ => ready!(advance(this.state.as_mut(), cx))?,
            };
            this.state.set(next);
        }
    }
}

/// Graph refused the token of the request `state` sent: the state that
/// waits for the renewal and then sends the copy.
#[inline(never)]
fn replaying<B, S>(state: Pin<&mut State<B, S>>, wait: RefreshFuture) -> State<B, S>
where
    S: Service<Request<ReplayBody>>,
{
    let StateOwned::Called {
        replay: Some(replay),
        ..
    } = state.project_replace(State::Done)
    else {
        unreachable!("a replay was granted")
    };
    let Replay { service, copy } = *replay;
    let mut req = copy.into_request();
    req.extensions_mut().insert(Replayed);
    // Replayed once: the replay keeps no copy.
    State::Renewing {
        wait,
        pending: Box::new(Pending {
            req,
            service,
            replays: false,
        }),
    }
}

/// The states before a send: the next state once `state` is done.
#[inline(never)]
fn advance<B, S, ResB>(
    mut state: Pin<&mut State<B, S>>,
    cx: &mut Context<'_>,
) -> Poll<Result<State<B, S>, BoxError>>
where
    B: BytesBody,
    S: Service<Request<ReplayBody>, Response = Response<ResB>> + Clone,
    S::Error: Into<BoxError>,
{
    let next = match state.as_mut().project() {
        StateProj::Buffering { buffer, .. } => {
            let req = ready!(buffer.as_mut().poll(cx))?;
            let StateOwned::Buffering { next, .. } = state.project_replace(State::Done) else {
                unreachable!("in the buffering state")
            };
            let (service, replays) = *next;
            State::Sending {
                pending: Box::new(Pending {
                    req,
                    service,
                    replays,
                }),
            }
        }
        StateProj::Sending { pending } => {
            ready!(pending.service.poll_ready(cx))?;
            let StateOwned::Sending { pending } = state.project_replace(State::Done) else {
                unreachable!("in the sending state")
            };
            send(*pending)
        }
        StateProj::Renewing { wait, .. } => {
            ready!(Pin::new(wait).poll(cx));
            let StateOwned::Renewing { pending, .. } = state.project_replace(State::Done) else {
                unreachable!("in the renewing state")
            };
            State::Sending { pending }
        }
        StateProj::Called { .. } => unreachable!("answered in `poll`"),
        StateProj::Done => panic!("ResponseFuture polled after completion"),
    };
    Poll::Ready(Ok(next))
}

/// Sends `pending` with its (ready) service, keeping a copy when it may be
/// replayed.
fn send<B, S, ResB>(pending: Pending<S>) -> State<B, S>
where
    S: Service<Request<ReplayBody>, Response = Response<ResB>> + Clone,
    S::Error: Into<BoxError>,
{
    let Pending {
        req,
        mut service,
        replays,
    } = pending;
    let copy = replays.then(|| keep(service.token_cell(), &req)).flatten();
    let future = service.call(req);
    let replay = copy.map(|copy| Box::new(Replay { service, copy }));
    State::Called { future, replay }
}
