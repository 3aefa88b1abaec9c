//! [`WhatsAppTenants`]: the request path of the tenant-aware stack.

use std::task::{Context, Poll};

use http::{Request, Response};
use tower::BoxError;
use tower_service::Service;

use super::future::TenantFuture;
use super::handle::TenantMap;
use super::tenant_of;
use crate::body::{BytesBody, ReplayBody};
use crate::capacity::{give_back, give_back_for_later};
use crate::classify::{Classify, GraphBody};
use crate::service::{respond, Route, WhatsAppAuthFuture};
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
    tenants: TenantMap,
    body_limit: usize,
}

impl<S> WhatsAppTenants<S> {
    pub(crate) fn new(inner: Classify<S>, tenants: TenantMap, body_limit: usize) -> Self {
        WhatsAppTenants {
            inner,
            tenants,
            body_limit,
        }
    }

    /// The tenants this stack serves.
    pub fn tenants(&self) -> &TenantMap {
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
    type Future = TenantFuture<B, Classify<S>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    #[inline]
    fn call(&mut self, req: Request<B>) -> Self::Future {
        // The host first: a request to a host no token may go to fails
        // before its tenant is read or looked up (a foreign URL's path
        // could name one), so no source is asked for it.
        if let Err(error) = self.tenants.shared.registry.template.hosts.check(req.uri()) {
            give_back(&mut self.inner);
            return TenantFuture::failed(error);
        }
        let id = match tenant_of(&req) {
            Ok(id) => id,
            Err(error) => {
                give_back(&mut self.inner);
                return TenantFuture::failed(error);
            }
        };
        let registry = &self.tenants.shared.registry;
        let found = match registry.resident(id) {
            Some(cell) => Ok(cell),
            None => {
                self.tenants.start_sweeping();
                registry.resolve(id)
            }
        };
        match found {
            Ok(cell) => {
                // Replayed as `RefreshOn190` would, when the source renews.
                let replays = cell.can_refresh();
                // Through the ready client in place, with the tenant's cell
                // (which the request's future keeps).
                let route = Route::owning(&mut self.inner, cell);
                TenantFuture::sending(respond(route, replays, self.body_limit, req))
            }
            Err(lookup) => {
                let id = id.to_string();
                let inner = give_back_for_later(&mut self.inner);
                let body_limit = self.body_limit;
                // Once the tenant is known: its request path, with a service
                // polled ready only then.
                let then = Box::new(move |cell: TokenCell| {
                    let replays = cell.can_refresh();
                    let validate = ValidateIfNeeded::new(inner, cell);
                    WhatsAppAuthFuture::when_ready(req, validate, replays, body_limit)
                });
                TenantFuture::resolving(id, lookup, then)
            }
        }
    }
}
