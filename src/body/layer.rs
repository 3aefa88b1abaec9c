//! [`BufferBody`]: the standalone middleware that hands the inner service a
//! [`ReplayBody`], for assembling the parts by hand.

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use http::Request;
use pin_project_lite::pin_project;
use tower::BoxError;
use tower_layer::Layer;
use tower_service::Service;

use super::{complete, BufferRequest, Prepared, ReplayBody, DEFAULT_BODY_LIMIT};
use crate::body::BytesBody;
use crate::capacity::give_back_for_later;

/// Request extension on a request whose streaming body was larger than the
/// buffer limit, so it is sent once and cannot be replayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotReplayable {
    /// The buffer limit the body exceeded.
    pub limit: usize,
}

/// Layer that applies [`BufferBody`].
#[derive(Debug, Clone, Copy)]
pub struct BufferBodyLayer {
    limit: usize,
}

impl BufferBodyLayer {
    /// A layer buffering up to [`DEFAULT_BODY_LIMIT`] bytes.
    pub fn new() -> BufferBodyLayer {
        BufferBodyLayer {
            limit: DEFAULT_BODY_LIMIT,
        }
    }

    /// Sets the largest body kept for replay.
    pub fn limit(mut self, bytes: usize) -> BufferBodyLayer {
        self.limit = bytes;
        self
    }
}

impl Default for BufferBodyLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl<S> Layer<S> for BufferBodyLayer {
    type Service = BufferBody<S>;
    fn layer(&self, inner: S) -> BufferBody<S> {
        BufferBody {
            inner,
            limit: self.limit,
        }
    }
}

/// Middleware that hands `inner` a [`ReplayBody`]: complete bodies at once,
/// streaming ones buffered up to the limit (and, past it, sent as they
/// stream, with a [`NotReplayable`] request extension). A request whose body
/// is being buffered holds no capacity of `inner`: it polls `inner` ready
/// once its body is read.
#[derive(Debug, Clone)]
pub struct BufferBody<S> {
    inner: S,
    limit: usize,
}

impl<S> BufferBody<S> {
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
}

impl<S, B> Service<Request<B>> for BufferBody<S>
where
    S: Service<Request<ReplayBody>> + Clone,
    S::Error: Into<BoxError>,
    B: BytesBody,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = BufferBodyFuture<B, S>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let state = match complete(req, self.limit) {
            Prepared::Complete(req) => BufferState::Calling {
                future: self.inner.call(req),
            },
            Prepared::Streaming(req) => {
                // Give the reserved capacity back while the body is read.
                BufferState::Buffering {
                    buffer: BufferRequest::new(req, self.limit),
                    service: Some(give_back_for_later(&mut self.inner)),
                    req: None,
                }
            }
        };
        BufferBodyFuture { state }
    }
}

pin_project! {
    /// Response future of [`BufferBody`].
    pub struct BufferBodyFuture<B, S: Service<Request<ReplayBody>>> {
        #[pin]
        state: BufferState<B, S>,
    }
}

pin_project! {
    #[project = BufferStateProj]
    enum BufferState<B, S: Service<Request<ReplayBody>>> {
        Buffering {
            #[pin] buffer: BufferRequest<B>,
            service: Option<S>,
            req: Option<Request<ReplayBody>>,
        },
        Calling { #[pin] future: S::Future },
    }
}

impl<B, S> Future for BufferBodyFuture<B, S>
where
    S: Service<Request<ReplayBody>>,
    S::Error: Into<BoxError>,
    B: BytesBody,
{
    type Output = Result<S::Response, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                BufferStateProj::Buffering {
                    mut buffer,
                    service,
                    req,
                } => {
                    if req.is_none() {
                        *req = Some(ready!(buffer.as_mut().poll(cx))?);
                    }
                    let svc = service.as_mut().expect("polled after completion");
                    ready!(svc.poll_ready(cx)).map_err(Into::into)?;
                    let req = req.take().expect("read above");
                    let future = svc.call(req);
                    this.state.set(BufferState::Calling { future });
                }
                BufferStateProj::Calling { future } => {
                    return future.poll(cx).map_err(Into::into);
                }
            }
        }
    }
}
