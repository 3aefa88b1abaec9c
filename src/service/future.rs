//! [`ResponseFuture`]: buffer (streaming bodies only), send, and replay once
//! after a renewal, as tower's `Retry` future does: one state enum, each
//! state with its own data. What only buffering and replays need is boxed,
//! so the future of a plain send stays small.

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use http::{Request, Response};
use pin_project_lite::pin_project;
use tower::retry::Policy;
use tower::BoxError;
use tower_service::Service;

use crate::body::BufferRequest;
use crate::body::{BytesBody, ReplayBody};
use crate::refresh::RefreshFuture;
use crate::refresh::RefreshOn190;

pin_project! {
    /// Response future of [`WhatsAppAuth`](super::WhatsAppAuth).
    pub struct ResponseFuture<B, S: Service<Request<ReplayBody>>> {
        #[pin]
        state: State<B, S::Future>,
        // `None` on the hot path: nothing to replay, nothing to wait for.
        replay: Option<Box<Replay<S>>>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<B, F> {
        Buffering { buffer: Pin<Box<BufferRequest<B>>> },
        Ready,
        Called { #[pin] future: F },
        Waiting { wait: RefreshFuture },
    }
}

/// What a send after a wait (buffering, a renewal) and a replay need.
pub(super) struct Replay<S> {
    /// Polled ready before such a send.
    service: S,
    /// Present when the stack can renew the token.
    policy: Option<RefreshOn190>,
    /// The copy kept for a replay.
    copy: Option<Request<ReplayBody>>,
    /// The request to send once `service` is ready.
    pending: Option<Request<ReplayBody>>,
}

impl<S> Replay<S> {
    /// What a replay of `req` with `service` needs, the copy written in
    /// place (the request head is large: each move of it costs).
    pub(super) fn keeping(
        req: &Request<ReplayBody>,
        service: S,
        policy: RefreshOn190,
    ) -> Box<Self> {
        let mut replay = Box::new(Replay {
            service,
            policy: Some(policy),
            copy: None,
            pending: None,
        });
        replay.keep_copy(req);
        replay
    }

    /// Keeps a copy of `req` for a replay, if the policy wants one.
    fn keep_copy(&mut self, req: &Request<ReplayBody>) {
        match &self.policy {
            Some(policy) => policy.copy_into(req, &mut self.copy),
            None => self.copy = None,
        }
    }
}

impl<B, S: Service<Request<ReplayBody>>> ResponseFuture<B, S> {
    #[inline]
    pub(super) fn called(future: S::Future) -> Self {
        ResponseFuture {
            state: State::Called { future },
            replay: None,
        }
    }

    /// `future` sends a request that `replay` may send again.
    #[inline]
    pub(super) fn replayable(future: S::Future, replay: Box<Replay<S>>) -> Self {
        ResponseFuture {
            state: State::Called { future },
            replay: Some(replay),
        }
    }

    pub(super) fn buffering(
        buffer: BufferRequest<B>,
        service: S,
        policy: Option<RefreshOn190>,
    ) -> Self {
        ResponseFuture {
            state: State::Buffering {
                buffer: Box::pin(buffer),
            },
            replay: Some(Box::new(Replay {
                service,
                policy,
                copy: None,
                pending: None,
            })),
        }
    }
}

impl<B, S, ResB> Future for ResponseFuture<B, S>
where
    B: BytesBody,
    S: Service<Request<ReplayBody>, Response = Response<ResB>, Error = BoxError>,
{
    type Output = Result<Response<ResB>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Buffering { buffer } => {
                    let req = ready!(buffer.as_mut().poll(cx))?;
                    let replay = this.replay.as_mut().expect("buffering keeps a service");
                    replay.keep_copy(&req);
                    replay.pending = Some(req);
                    this.state.set(State::Ready);
                }
                StateProj::Ready => {
                    let replay = this.replay.as_mut().expect("a service to send with");
                    ready!(replay.service.poll_ready(cx))?;
                    let req = replay.pending.take().expect("a request to send");
                    let future = replay.service.call(req);
                    this.state.set(State::Called { future });
                }
                StateProj::Called { future } => {
                    let mut result = ready!(future.poll(cx));
                    let Some(Replay {
                        policy: Some(policy),
                        copy: Some(copy),
                        ..
                    }) = this.replay.as_deref_mut()
                    else {
                        return Poll::Ready(result);
                    };
                    match policy.retry(copy, &mut result) {
                        Some(wait) => this.state.set(State::Waiting { wait }),
                        None => return Poll::Ready(result),
                    }
                }
                StateProj::Waiting { wait } => {
                    ready!(Pin::new(wait).poll(cx));
                    let replay = this.replay.as_mut().expect("waiting keeps a service");
                    let req = replay.copy.take().expect("a replay has its copy");
                    replay.keep_copy(&req);
                    replay.pending = Some(req);
                    this.state.set(State::Ready);
                }
            }
        }
    }
}
