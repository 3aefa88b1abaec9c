//! [`ResponseFuture`]: buffer (streaming bodies only), send, and replay once
//! after a renewal, as tower's `Retry` future does: one state enum, each
//! state carrying its own data. What only buffering and replays need is
//! boxed, so the future of a plain send stays small.

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use http::{Request, Response};
use pin_project_lite::pin_project;
use tower::BoxError;
use tower_service::Service;

use crate::body::{BufferRequest, BytesBody, KeptRequest, ReplayBody};
use crate::refresh::{RefreshFuture, RefreshOn190};
use crate::validate::Replayed;

pin_project! {
    /// Response future of [`WhatsAppAuth`](super::WhatsAppAuth).
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
        /// with the service (and the policy, when the stack can renew).
        Buffering {
            buffer: Pin<Box<BufferRequest<B>>>,
            next: Box<(S, Option<RefreshOn190>)>,
        },
        /// Waiting for the service to be ready to send a request.
        Sending { pending: Box<Pending<S>> },
        /// Sent; what a replay needs, when one may come.
        Called {
            #[pin]
            future: S::Future,
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
    service: S,
    policy: Option<RefreshOn190>,
}

/// What a replay needs: the service, the policy that decides it, and the
/// copy of the request sent.
pub(super) struct Replay<S> {
    service: S,
    policy: RefreshOn190,
    copy: KeptRequest,
}

impl<S> Replay<S> {
    /// What a replay of `req` with `service` needs, when the policy keeps a
    /// copy of it.
    pub(super) fn keeping(
        req: &Request<ReplayBody>,
        service: impl FnOnce() -> S,
        policy: &RefreshOn190,
    ) -> Option<Box<Self>> {
        if !policy.keeps(req) {
            return None;
        }
        // Built in the box: the copy is large to move.
        Some(Box::new(Replay {
            service: service(),
            policy: policy.clone(),
            copy: KeptRequest::of_replayable(req),
        }))
    }
}

impl<B, S: Service<Request<ReplayBody>>> ResponseFuture<B, S> {
    /// `future` sends a request that `replay` may send again.
    #[inline]
    pub(super) fn called(future: S::Future, replay: Option<Box<Replay<S>>>) -> Self {
        ResponseFuture {
            state: State::Called { future, replay },
        }
    }

    /// `req` to send with `service` once it is ready (it is not yet):
    /// its body read first when it streams.
    pub(crate) fn when_ready(
        req: Request<B>,
        service: S,
        policy: Option<RefreshOn190>,
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
                            policy,
                        }),
                    },
                }
            }
            Err(body) => {
                let buffer = BufferRequest::new(Request::from_parts(parts, body), body_limit);
                ResponseFuture::buffering(buffer, service, policy)
            }
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
                next: Box::new((service, policy)),
            },
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
            let next = match this.state.as_mut().project() {
                StateProj::Buffering { buffer, .. } => {
                    let req = ready!(buffer.as_mut().poll(cx))?;
                    let StateOwned::Buffering { next, .. } =
                        this.state.as_mut().project_replace(State::Done)
                    else {
                        unreachable!("in the buffering state")
                    };
                    let (service, policy) = *next;
                    State::Sending {
                        pending: Box::new(Pending {
                            req,
                            service,
                            policy,
                        }),
                    }
                }
                StateProj::Sending { pending } => {
                    ready!(pending.service.poll_ready(cx))?;
                    let StateOwned::Sending { pending } =
                        this.state.as_mut().project_replace(State::Done)
                    else {
                        unreachable!("in the sending state")
                    };
                    send(*pending)
                }
                StateProj::Called { future, replay } => {
                    let result = ready!(future.poll(cx));
                    let wait = replay.as_mut().and_then(|r| r.policy.grant(&result));
                    let Some(wait) = wait else {
                        this.state.set(State::Done);
                        return Poll::Ready(result);
                    };
                    let StateOwned::Called {
                        replay: Some(replay),
                        ..
                    } = this.state.as_mut().project_replace(State::Done)
                    else {
                        unreachable!("a replay was granted")
                    };
                    let Replay {
                        service,
                        policy,
                        copy,
                    } = *replay;
                    let mut req = copy.into_request();
                    req.extensions_mut().insert(Replayed);
                    State::Renewing {
                        wait,
                        pending: Box::new(Pending {
                            req,
                            service,
                            policy: Some(policy),
                        }),
                    }
                }
                StateProj::Renewing { wait, .. } => {
                    ready!(Pin::new(wait).poll(cx));
                    let StateOwned::Renewing { pending, .. } =
                        this.state.as_mut().project_replace(State::Done)
                    else {
                        unreachable!("in the renewing state")
                    };
                    State::Sending { pending }
                }
                StateProj::Done => panic!("ResponseFuture polled after completion"),
            };
            this.state.set(next);
        }
    }
}

/// Sends `pending` with its (ready) service, keeping a copy when its
/// policy may replay it.
fn send<B, S: Service<Request<ReplayBody>>>(pending: Pending<S>) -> State<B, S> {
    let Pending {
        req,
        mut service,
        policy,
    } = pending;
    let copy = policy.as_ref().and_then(|p| p.keep(&req));
    let future = service.call(req);
    let replay = match (policy, copy) {
        (Some(policy), Some(copy)) => Some(Box::new(Replay {
            service,
            policy,
            copy,
        })),
        _ => None,
    };
    State::Called { future, replay }
}
