//! [`WhatsAppTenants`]: the request path of the tenant-aware stack.

use std::task::{Context, Poll};

use http::{Request, Response};
use tower::BoxError;
use tower_service::Service;

use super::future::TenantFuture;
use super::handle::Tenants;
use super::tenant_of;
use crate::body::{BytesBody, ReplayBody};
use crate::capacity::{give_back, give_back_for_later};
use crate::classify::{Classify, GraphBody};
use crate::refresh::RefreshOn190;
use crate::service::{respond, ResponseFuture};
use crate::token::TokenCell;
use crate::validate::ValidateIfNeeded;

/// The service built by [`WhatsAppTenantsLayer`](super::WhatsAppTenantsLayer):
/// each request goes out with the token of the tenant it names, through
/// that tenant's cell and the same request path as
/// [`WhatsAppAuth`](crate::WhatsAppAuth) (validation, proof, renewal and
/// replay, classification).
#[derive(Clone, Debug)]
pub struct WhatsAppTenants<S> {
    inner: Classify<S>,
    tenants: Tenants,
    body_limit: usize,
}

impl<S> WhatsAppTenants<S> {
    pub(crate) fn new(inner: Classify<S>, tenants: Tenants, body_limit: usize) -> Self {
        WhatsAppTenants {
            inner,
            tenants,
            body_limit,
        }
    }

    /// The tenants this stack serves.
    pub fn tenants(&self) -> &Tenants {
        &self.tenants
    }

    /// The wrapped client.
    pub fn get_ref(&self) -> &S {
        self.inner.get_ref()
    }

    /// The wrapped client, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        self.inner.get_mut()
    }

    /// Unwraps the client.
    pub fn into_inner(self) -> S {
        self.inner.into_inner()
    }
}

/// Sends `req` with `cell`'s token through the ready `inner` (which goes
/// with the request; an unready clone stays).
#[inline]
pub(super) fn send_for<S, B, ResB>(
    inner: &mut S,
    cell: TokenCell,
    req: Request<B>,
    body_limit: usize,
) -> ResponseFuture<B, ValidateIfNeeded<S>>
where
    S: Service<Request<ReplayBody>, Response = Response<ResB>> + Clone,
    S::Error: Into<BoxError>,
    B: BytesBody,
{
    let unready = inner.clone();
    let ready = std::mem::replace(inner, unready);
    let policy = RefreshOn190::new(cell.clone());
    let policy = policy.may_replay().then_some(policy);
    let mut validate = ValidateIfNeeded::new(ready, cell);
    respond(&mut validate, policy.as_ref(), body_limit, req)
}

impl<S, B, ResB> Service<Request<B>> for WhatsAppTenants<S>
where
    S: Service<Request<ReplayBody>, Response = Response<ResB>> + Clone + Send + 'static,
    S::Error: Into<BoxError>,
    ResB: http_body::Body<Data = bytes::Bytes>,
    ResB::Error: Into<BoxError>,
    B: BytesBody,
{
    type Response = Response<GraphBody<ResB>>;
    type Error = BoxError;
    type Future = TenantFuture<B, ValidateIfNeeded<Classify<S>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    #[inline]
    fn call(&mut self, req: Request<B>) -> Self::Future {
        let id = match tenant_of(&req) {
            Ok(id) => id,
            Err(error) => {
                give_back(&mut self.inner);
                return TenantFuture::failed(error);
            }
        };
        let registry = &self.tenants.registry;
        let found = match registry.resident(id) {
            Some(cell) => Ok(cell),
            None => {
                self.tenants.start_sweeping();
                registry.resolve(id)
            }
        };
        match found {
            Ok(cell) => {
                TenantFuture::sending(send_for(&mut self.inner, cell, req, self.body_limit))
            }
            Err(lookup) => {
                let id = id.to_owned();
                let inner = give_back_for_later(&mut self.inner);
                let body_limit = self.body_limit;
                // Once the tenant is known: its request path, with a service
                // polled ready only then.
                let then = Box::new(move |cell: TokenCell| {
                    let policy = RefreshOn190::new(cell.clone());
                    let policy = policy.may_replay().then_some(policy);
                    let validate = ValidateIfNeeded::new(inner, cell);
                    ResponseFuture::when_ready(req, validate, policy, body_limit)
                });
                TenantFuture::resolving(id, lookup, then)
            }
        }
    }
}
