//! [`Route`]: where [`respond`](super::respond) sends a request: the ready
//! service now, and a service for each later send (once a streaming body is
//! read; a replay). The one-token stack routes through its own ready
//! service; the tenant-aware stack through its client with the tenant's
//! cell, without building a service for the send itself.

use http::Request;
use tower_service::Service;

use crate::body::ReplayBody;
use crate::capacity::give_back_for_later;

/// The services a request goes through.
pub(crate) trait Route {
    /// The service of the later sends.
    type Service: Service<Request<ReplayBody>> + Clone;

    /// Sends `req` through the ready service.
    fn call(
        &mut self,
        req: Request<ReplayBody>,
    ) -> <Self::Service as Service<Request<ReplayBody>>>::Future;

    /// A service for a send later, to poll ready then.
    fn spare(&self) -> Self::Service;

    /// Gives back what the ready service reserved, and a service to send
    /// with once the wait is over.
    fn release(&mut self) -> Self::Service;
}

impl<S: Service<Request<ReplayBody>> + Clone> Route for &mut S {
    type Service = S;

    #[inline]
    fn call(&mut self, req: Request<ReplayBody>) -> S::Future {
        (**self).call(req)
    }

    #[inline]
    fn spare(&self) -> S {
        (**self).clone()
    }

    fn release(&mut self) -> S {
        give_back_for_later(*self)
    }
}
