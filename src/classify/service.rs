//! [`Classify`].

use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use tower::BoxError;
use tower_service::Service;

use super::{ClassifyFuture, GraphBody, Settings};

/// Middleware that parses Graph error bodies into a [`GraphError`](crate::graph::GraphError) response
/// extension. See the [module docs](mod@crate::classify).
#[derive(Debug, Clone)]
pub struct Classify<S> {
    inner: S,
    settings: Settings,
}

impl<S> Classify<S> {
    pub(crate) fn new(inner: S, settings: Settings) -> Classify<S> {
        Classify { inner, settings }
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
}

impl<S, ReqB, ResB> Service<Request<ReqB>> for Classify<S>
where
    S: Service<Request<ReqB>, Response = Response<ResB>>,
    S::Error: Into<BoxError>,
    ResB: Body<Data = Bytes>,
    ResB::Error: Into<BoxError>,
{
    type Response = Response<GraphBody<ResB>>;
    type Error = BoxError;
    type Future = ClassifyFuture<S::Future, ResB>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    #[inline]
    fn call(&mut self, req: Request<ReqB>) -> Self::Future {
        ClassifyFuture::new(self.inner.call(req), self.settings)
    }
}
