//! [`Route`]: where [`respond`](super::respond) sends a request: the ready
//! service now, and a service for each later send (once a streaming body is
//! read; a replay). The one-token stack routes through its own ready
//! service; the tenant-aware stack through its client with the tenant's
//! cell, without building a service for the send itself.

use http::{Request, Response};
use tower::BoxError;
use tower_service::Service;

use crate::body::ReplayBody;
use crate::capacity::give_back_for_later;
use crate::token::TokenCell;
use crate::validate::{send_with, Dispatched, ValidateIfNeeded};

/// The services a request goes through: `ValidateIfNeeded` over `Inner`.
pub(crate) trait Route {
    /// The service below `ValidateIfNeeded`.
    type Inner: Service<Request<ReplayBody>> + Clone;

    /// The token state the request is sent with.
    fn cell(&self) -> &TokenCell;

    /// Sends `req` through the ready service.
    fn call(&mut self, req: Request<ReplayBody>) -> Dispatched<Self::Inner>;

    /// A service below `ValidateIfNeeded` for a send later (a replay,
    /// with the cell the request was sent with), to poll ready then.
    fn spare(&self) -> Self::Inner;

    /// Gives back what the ready service reserved, and a service to send
    /// with once the wait is over.
    fn release(&mut self) -> ValidateIfNeeded<Self::Inner>;
}

impl<S, ResB> Route for &mut ValidateIfNeeded<S>
where
    S: Service<Request<ReplayBody>, Response = Response<ResB>> + Clone,
    S::Error: Into<BoxError>,
{
    type Inner = S;

    #[inline]
    fn cell(&self) -> &TokenCell {
        self.token_cell()
    }

    #[inline]
    fn call(&mut self, req: Request<ReplayBody>) -> Dispatched<S> {
        let (inner, cell) = self.parts_mut();
        send_with(inner, cell, req)
    }

    #[inline]
    fn spare(&self) -> S {
        self.get_ref().clone()
    }

    fn release(&mut self) -> ValidateIfNeeded<S> {
        give_back_for_later(*self)
    }
}
