//! [`VerifySignature`].

use std::marker::PhantomData;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use tower_service::Service;

use super::future::VerifySignatureFuture;
use crate::secret::Secret;
use crate::telemetry::Deliveries;

/// Middleware that lets through only webhook deliveries Meta signed: it
/// reads the body (up to a limit: 413 past it, without reading further),
/// checks `X-Hub-Signature-256` against the exact bytes in constant time,
/// and calls the inner service with those same bytes; a missing, malformed
/// or wrong signature is a 401 with a short plain-text reason, and the
/// inner service is never called. See the [module docs](super).
pub struct VerifySignature<S, Out> {
    inner: S,
    secrets: Arc<[Secret]>,
    limit: usize,
    deliveries: Deliveries,
    _out: PhantomData<fn() -> Out>,
}

impl<S, Out> VerifySignature<S, Out> {
    pub(super) fn new(
        inner: S,
        secrets: Arc<[Secret]>,
        limit: usize,
        deliveries: Deliveries,
    ) -> Self {
        VerifySignature {
            inner,
            secrets,
            limit,
            deliveries,
            _out: PhantomData,
        }
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

impl<S: Clone, Out> Clone for VerifySignature<S, Out> {
    fn clone(&self) -> Self {
        VerifySignature::new(
            self.inner.clone(),
            self.secrets.clone(),
            self.limit,
            self.deliveries.clone(),
        )
    }
}

impl<S: std::fmt::Debug, Out> std::fmt::Debug for VerifySignature<S, Out> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifySignature")
            .field("inner", &self.inner)
            .field("secrets", &self.secrets.len())
            .field("limit", &self.limit)
            .finish()
    }
}

impl<S, ReqB, Out, ResB> Service<Request<ReqB>> for VerifySignature<S, Out>
where
    S: Service<Request<Out>, Response = Response<ResB>> + Clone,
    ReqB: Body<Data = Bytes>,
    Out: From<Bytes>,
    ResB: From<Bytes>,
{
    type Response = Response<ResB>;
    type Error = S::Error;
    type Future = VerifySignatureFuture<S, ReqB, Out>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqB>) -> Self::Future {
        // The ready service goes with the future; a fresh clone stays.
        let clone = self.inner.clone();
        let ready = std::mem::replace(&mut self.inner, clone);
        VerifySignatureFuture::new(
            req,
            ready,
            self.secrets.clone(),
            self.limit,
            self.deliveries.clone(),
        )
    }
}
