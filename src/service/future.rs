//! [`WhatsAppAuthFuture`]: buffer (streaming bodies only), send, and replay once
//! after a renewal, as tower's `Retry` future does: one state enum, each
//! state carrying its own data. What only buffering and replays need is
//! boxed, so the future of a plain send stays small. A request sent with a
//! ready token is one future deep: the client's (classified) future is
//! polled here, and its answer read as [`ValidateFuture`] reads it (the
//! same function). The decision to replay is
//! [`RefreshOn190`](crate::refresh::RefreshOn190)'s, made with the cell the request
//! was sent with: a request keeps no policy of its own.

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use http::request::Parts;
use http::{Request, Response};
use pin_project_lite::pin_project;
use tower::BoxError;
use tower_service::Service;

use crate::body::{BufferRequest, BytesBody, KeptRequest, ReplayBody};
use crate::graph::GraphError;
use crate::refresh::{keep, keeps, replay_after, RefreshFuture};
use crate::token::TokenCell;
use crate::validate::{answered, send_with, Dispatch, Replayed, SentWith};
use crate::validate::{ValidateFuture, ValidateIfNeeded};

pin_project! {
    /// Response future of [`WhatsAppAuth`](super::WhatsAppAuth): `S` is the
    /// service below [`ValidateIfNeeded`].
    pub struct WhatsAppAuthFuture<B, S: Service<Request<ReplayBody>>> {
        #[pin]
        state: State<B, S>,
    }
}

pin_project! {
    #[project = StateProj]
    #[project_replace = StateOwned]
    pub(super) enum State<B, S: Service<Request<ReplayBody>>> {
        /// Reading a streaming body, holding no capacity; then sending it
        /// with the service (replayable when the stack can renew).
        Buffering {
            buffer: Pin<Box<BufferRequest<B>>>,
            next: Box<(ValidateIfNeeded<S>, bool)>,
        },
        /// Waiting for the service to be ready to send a request.
        Sending { pending: Box<Pending<S>> },
        /// Sent with a ready token (nearly every request): the future of
        /// the service below `ValidateIfNeeded`, polled here directly, and
        /// what a replay needs, when one may come.
        Called {
            #[pin]
            future: S::Future,
            sent: SentWith,
            replay: Option<Box<Replay<S>>>,
        },
        /// Waiting for the token, then sent, in `ValidateIfNeeded`'s
        /// future.
        Validating {
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

/// What a poll of a state leads to.
enum Step<B, S: Service<Request<ReplayBody>>, R> {
    Next(State<B, S>),
    Answer(Result<R, BoxError>),
}

/// A request to send once the service is ready.
pub(super) struct Pending<S> {
    req: Request<ReplayBody>,
    service: ValidateIfNeeded<S>,
    /// Whether a copy is kept for a replay (none after the replay).
    replays: bool,
}

/// What a replay needs besides the cell the request was sent with: the
/// service below `ValidateIfNeeded`, and the copy of the request.
pub(super) struct Replay<S> {
    inner: S,
    copy: KeptRequest,
}

impl<S> Replay<S> {
    /// What a replay of a request (`head` and `body`), sent with `cell`'s
    /// token, needs: a copy of it (but for its URI, which the stamp sets:
    /// see [`stamp_head`](crate::validate::stamp_head)) and a service, when
    /// a replay may come.
    pub(super) fn keeping(
        head: &Parts,
        body: &ReplayBody,
        cell: &TokenCell,
        inner: impl FnOnce() -> S,
    ) -> Option<Box<Self>> {
        if !keeps(cell, body) {
            return None;
        }
        // Allocated first, then written: the copy is built where it is
        // kept, not built aside and then moved into the box.
        let boxed = Box::new_uninit();
        Some(Box::write(
            boxed,
            Replay {
                inner: inner(),
                copy: KeptRequest::of_replayable_head(head, body),
            },
        ))
    }
}

impl<S> Replay<S> {
    /// The copy, for the send to give it the request's URI.
    #[inline]
    pub(super) fn copy_mut(&mut self) -> &mut KeptRequest {
        &mut self.copy
    }
}

impl<B, S: Service<Request<ReplayBody>>> Dispatch<S> for State<B, S> {
    #[inline]
    fn sent(future: S::Future, sent: SentWith) -> Self {
        State::Called {
            future,
            sent,
            replay: None,
        }
    }

    #[inline]
    fn waiting(future: ValidateFuture<S>) -> Self {
        State::Validating {
            future,
            replay: None,
        }
    }
}

impl<B, S: Service<Request<ReplayBody>>> State<B, S> {
    /// This state (dispatched: sent, or waiting for the token), with
    /// `replay` to send its request again: the one field set after the
    /// state is built, rather than the state built again around it.
    #[inline]
    fn replaying(mut self, replay: Option<Box<Replay<S>>>) -> Self {
        if let State::Called { replay: slot, .. } | State::Validating { replay: slot, .. } =
            &mut self
        {
            *slot = replay;
        }
        self
    }
}

impl<B, S: Service<Request<ReplayBody>>> WhatsAppAuthFuture<B, S> {
    /// A request dispatched into `state` (sent, or waiting for the token),
    /// which `replay` may send again.
    #[inline]
    pub(super) fn dispatched(state: State<B, S>, replay: Option<Box<Replay<S>>>) -> Self {
        WhatsAppAuthFuture {
            state: state.replaying(replay),
        }
    }

    /// `req` to send with `service` once it is ready (it is not yet):
    /// its body read first when it streams.
    #[cfg_attr(not(feature = "tenants"), allow(dead_code))]
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
                WhatsAppAuthFuture {
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
                WhatsAppAuthFuture::buffering(buffer, service, replays)
            }
        }
    }

    pub(super) fn buffering(
        buffer: BufferRequest<B>,
        service: ValidateIfNeeded<S>,
        replays: bool,
    ) -> Self {
        WhatsAppAuthFuture {
            state: State::Buffering {
                buffer: Box::pin(buffer),
                next: Box::new((service, replays)),
            },
        }
    }
}

impl<B, S, ResB> Future for WhatsAppAuthFuture<B, S>
where
    B: BytesBody,
    S: Service<Request<ReplayBody>, Response = Response<ResB>> + Clone,
    S::Error: Into<BoxError>,
{
    type Output = Result<Response<ResB>, BoxError>;

    // An answer without a Graph error to a request sent once is the path
    // nearly every request takes: it is all this function holds, and the
    // rest is handled out of line, so the hot path's code stays small.
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            let step = match this.state.as_mut().project() {
                StateProj::Called { future, .. } => match ready!(future.poll(cx)) {
                    Ok(res) if res.extensions().get::<GraphError>().is_none() => {
                        this.state.set(State::Done);
                        return Poll::Ready(Ok(res));
                    }
                    result => after_answer(this.state.as_mut(), result),
                },
                _ => ready!(advance(this.state.as_mut(), cx)),
            };
            match step {
                Step::Next(next) => this.state.set(next),
                Step::Answer(answer) => {
                    this.state.set(State::Done);
                    return Poll::Ready(answer);
                }
            }
        }
    }
}

/// The request `state` sent was answered with a Graph error, or its client
/// failed: what goes up, or the replay.
#[inline(never)]
fn after_answer<B, S, ResB, E>(
    state: Pin<&mut State<B, S>>,
    result: Result<Response<ResB>, E>,
) -> Step<B, S, Response<ResB>>
where
    S: Service<Request<ReplayBody>>,
    E: Into<BoxError>,
{
    let StateOwned::Called { sent, replay, .. } = state.project_replace(State::Done) else {
        unreachable!("answered in the called state")
    };
    let result = answered(result, &sent);
    replay_or_answer(result, replay.map(|replay| (replay, sent.cell)))
}

/// `result` goes up, unless it is a refusal of the token that `replay`
/// (with the cell the request was sent with) sends again after the
/// renewal.
fn replay_or_answer<B, S, ResB>(
    result: Result<Response<ResB>, BoxError>,
    replay: Option<(Box<Replay<S>>, TokenCell)>,
) -> Step<B, S, Response<ResB>>
where
    S: Service<Request<ReplayBody>>,
{
    let Some((replay, cell)) = replay else {
        return Step::Answer(result);
    };
    let Some(wait) = replay_after(&cell, &result) else {
        return Step::Answer(result);
    };
    let Replay { inner, copy } = *replay;
    let mut req = copy.into_request();
    req.extensions_mut().insert(Replayed);
    // Replayed once: the replay keeps no copy.
    Step::Next(State::Renewing {
        wait,
        pending: Box::new(Pending {
            req,
            service: ValidateIfNeeded::new(inner, cell),
            replays: false,
        }),
    })
}

/// The states other than a send with a ready token: what polling `state`
/// leads to.
#[inline(never)]
fn advance<B, S, ResB>(
    mut state: Pin<&mut State<B, S>>,
    cx: &mut Context<'_>,
) -> Poll<Step<B, S, Response<ResB>>>
where
    B: BytesBody,
    S: Service<Request<ReplayBody>, Response = Response<ResB>> + Clone,
    S::Error: Into<BoxError>,
{
    let next = match state.as_mut().project() {
        StateProj::Buffering { buffer, .. } => {
            let req = match ready!(buffer.as_mut().poll(cx)) {
                Ok(req) => req,
                Err(error) => return Poll::Ready(Step::Answer(Err(error.into()))),
            };
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
            if let Err(error) = ready!(pending.service.poll_ready(cx)) {
                return Poll::Ready(Step::Answer(Err(error)));
            }
            let StateOwned::Sending { pending } = state.project_replace(State::Done) else {
                unreachable!("in the sending state")
            };
            send(*pending)
        }
        StateProj::Validating { mut future, replay } => {
            let result = ready!(future.as_mut().poll(cx));
            // The cell is read before the future goes.
            let replay = replay.take().map(|r| (r, future.token_cell().clone()));
            return Poll::Ready(replay_or_answer(result, replay));
        }
        StateProj::Renewing { wait, .. } => {
            ready!(Pin::new(wait).poll(cx));
            let StateOwned::Renewing { pending, .. } = state.project_replace(State::Done) else {
                unreachable!("in the renewing state")
            };
            State::Sending { pending }
        }
        StateProj::Called { .. } => unreachable!("answered in `poll`"),
        StateProj::Done => panic!("WhatsAppAuthFuture polled after completion"),
    };
    Poll::Ready(Step::Next(next))
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
    let (inner, cell) = service.parts_mut();
    let state: State<B, S> = send_with(inner, cell, req);
    let replay = copy.map(|copy| {
        Box::new(Replay {
            inner: service.into_inner(),
            copy,
        })
    });
    state.replaying(replay)
}
