//! [`ResponseFuture`]: buffer (streaming bodies only), send, and replay once
//! after a renewal, as tower's `Retry` future does: one state enum, each
//! state with its own data.

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use http::{Request, Response};
use pin_project_lite::pin_project;
use tower::retry::Policy;
use tower::BoxError;
use tower_service::Service;

use crate::body::BufferRequest;
use crate::refresh::RefreshFuture;
use crate::{BytesBody, RefreshOn190, ReplayBody};

pin_project! {
    /// Response future of [`WhatsAppAuth`](super::WhatsAppAuth).
    pub struct ResponseFuture<B, S: Service<Request<ReplayBody>>> {
        #[pin]
        state: State<B, S::Future>,
        // A service to poll ready before a send that follows a wait
        // (buffering, a renewal); `None` on the hot path.
        service: Option<S>,
        // The policy and the copy kept for a replay, when one is possible.
        policy: Option<RefreshOn190>,
        copy: Option<Request<ReplayBody>>,
        // The request to send once `service` is ready.
        pending: Option<Request<ReplayBody>>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<B, F> {
        Buffering { #[pin] buffer: BufferRequest<B> },
        Ready,
        Called { #[pin] future: F },
        Waiting { wait: RefreshFuture },
    }
}

impl<B, S: Service<Request<ReplayBody>>> ResponseFuture<B, S> {
    pub(super) fn called(future: S::Future) -> Self {
        ResponseFuture {
            state: State::Called { future },
            service: None,
            policy: None,
            copy: None,
            pending: None,
        }
    }

    pub(super) fn replayable(service: S, policy: Option<RefreshOn190>) -> Self {
        ResponseFuture {
            state: State::Ready,
            service: Some(service),
            policy,
            copy: None,
            pending: None,
        }
    }

    pub(super) fn buffering(
        buffer: BufferRequest<B>,
        service: S,
        policy: Option<RefreshOn190>,
    ) -> Self {
        ResponseFuture {
            state: State::Buffering { buffer },
            ..Self::replayable(service, policy)
        }
    }

    /// Keeps a copy of `req` for a replay, if the policy wants one.
    pub(super) fn keep_copy(&mut self, req: &Request<ReplayBody>) {
        self.copy = self
            .policy
            .as_mut()
            .and_then(|policy| Policy::<_, Response<()>, BoxError>::clone_request(policy, req));
    }

    pub(super) fn with_call(mut self, future: S::Future) -> Self {
        self.state = State::Called { future };
        self
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
                    let req = ready!(buffer.poll(cx))?;
                    *this.copy = this.policy.as_mut().and_then(|policy| {
                        Policy::<_, Response<ResB>, BoxError>::clone_request(policy, &req)
                    });
                    *this.pending = Some(req);
                    this.state.set(State::Ready);
                }
                StateProj::Ready => {
                    let service = this.service.as_mut().expect("a service to send with");
                    ready!(service.poll_ready(cx))?;
                    let req = this.pending.take().expect("a request to send");
                    let future = service.call(req);
                    this.state.set(State::Called { future });
                }
                StateProj::Called { future } => {
                    let mut result = ready!(future.poll(cx));
                    let (Some(policy), Some(copy)) = (this.policy.as_mut(), this.copy.as_mut())
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
                    let replay = this.copy.take().expect("a replay has its copy");
                    *this.copy = this.policy.as_mut().and_then(|policy| {
                        Policy::<_, Response<ResB>, BoxError>::clone_request(policy, &replay)
                    });
                    *this.pending = Some(replay);
                    this.state.set(State::Ready);
                }
            }
        }
    }
}
