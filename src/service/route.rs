//! [`Route`]: where [`respond`](super::respond) sends a request: through
//! the ready service below `ValidateIfNeeded` with a cell, now, and a
//! service for each later send (once a streaming body is read; a replay).
//! The one-token stack routes through its own `ValidateIfNeeded`'s parts;
//! the tenant-aware stack through its client with the tenant's cell,
//! without building a service for the send itself.

use http::request::Parts;
use http::{Request, Response};
use tower::BoxError;
use tower_service::Service;

use crate::body::{KeptRequest, ReplayBody};
use crate::capacity::give_back_for_later;
use crate::token::TokenCell;
use crate::validate::{dispatch, stamp_head, Dispatch, Stamped, ValidateIfNeeded};

/// The ready service below `ValidateIfNeeded` a request goes through, and
/// the cell whose token it is sent with.
pub(crate) struct Route<'a, S> {
    inner: &'a mut S,
    cell: Cell<'a>,
}

/// The cell a request is sent with: the stack's own, or one the caller
/// owns already (a tenant's, just looked up), which the request's future
/// then keeps without taking a second reference count.
enum Cell<'a> {
    Shared(&'a TokenCell),
    #[cfg_attr(not(feature = "tenants"), allow(dead_code))]
    Owned(TokenCell),
}

impl<'a, S> Route<'a, S>
where
    S: Service<Request<ReplayBody>> + Clone,
{
    pub(crate) fn new(inner: &'a mut S, cell: &'a TokenCell) -> Self {
        let cell = Cell::Shared(cell);
        Route { inner, cell }
    }

    /// A route with a cell the caller hands over.
    #[cfg_attr(not(feature = "tenants"), allow(dead_code))]
    pub(crate) fn owning(inner: &'a mut S, cell: TokenCell) -> Self {
        let cell = Cell::Owned(cell);
        Route { inner, cell }
    }

    /// The token state the request is sent with.
    #[inline]
    pub(crate) fn cell(&self) -> &TokenCell {
        match &self.cell {
            Cell::Shared(cell) => cell,
            Cell::Owned(cell) => cell,
        }
    }

    /// The cell, for a future to keep.
    #[inline]
    fn into_cell(self) -> (&'a mut S, TokenCell) {
        let cell = match self.cell {
            Cell::Shared(cell) => cell.clone(),
            Cell::Owned(cell) => cell,
        };
        (self.inner, cell)
    }

    /// Stamps the head of a request with `body` as `ValidateIfNeeded`
    /// would, where it lies; a `copy` of the request for a replay gets its
    /// URI as it came.
    #[inline]
    pub(crate) fn stamp(
        &self,
        head: &mut Parts,
        body: &ReplayBody,
        copy: Option<&mut KeptRequest>,
    ) -> Stamped {
        stamp_head(self.cell(), head, body, copy)
    }

    /// Sends `req`, `stamped`, through the ready service (or waits for the
    /// token).
    #[inline]
    pub(crate) fn send<ResB, D: Dispatch<S>>(self, req: Request<ReplayBody>, stamped: Stamped) -> D
    where
        S: Service<Request<ReplayBody>, Response = Response<ResB>>,
        S::Error: Into<BoxError>,
    {
        let (inner, cell) = self.into_cell();
        dispatch(inner, cell, req, stamped)
    }

    /// A service for a send later (a replay, with the cell the request was
    /// sent with), to poll ready then.
    #[inline]
    pub(crate) fn spare(&self) -> S {
        self.inner.clone()
    }

    /// Gives back what the ready service reserved, and a service to send
    /// with once the wait is over.
    pub(crate) fn release(self) -> ValidateIfNeeded<S> {
        let (inner, cell) = self.into_cell();
        ValidateIfNeeded::new(give_back_for_later(inner), cell)
    }
}
