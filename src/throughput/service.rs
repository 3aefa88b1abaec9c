//! [`Throughput`].

use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tokio::time::Instant;
use tower::BoxError;
use tower_service::Service;

use super::future::{Start, ThroughputFuture};
use super::number::Admit;
use super::pace::Turn;
use super::path::{body_bytes, message_sender};
use super::table::Table;

/// Middleware that spaces each phone number's message sends at its pace.
/// See the [module docs](mod@crate::throughput).
///
/// ```
/// use tower::{service_fn, BoxError, Layer, ServiceExt};
/// use tower_whatsapp_auth::throughput::ThroughputLayer;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), BoxError> {
/// let graph = service_fn(|_req: http::Request<String>| async {
///     Ok::<_, BoxError>(http::Response::new(()))
/// });
/// let shaped = ThroughputLayer::new(80).layer(graph);
/// let req = http::Request::post("/v25.0/106540352242922/messages").body(String::new())?;
/// shaped.clone().oneshot(req).await?;
/// assert_eq!(shaped.current_rate("106540352242922"), Some(80.0));
/// // Anything but a message send passes straight through, unpaced.
/// shaped.clone().oneshot(http::Request::get("/v25.0/106540352242922").body(String::new())?).await?;
/// let _graph = shaped.into_inner();
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Throughput<S> {
    inner: S,
    table: Arc<Table>,
}

impl<S> Throughput<S> {
    pub(crate) fn new(inner: S, table: Arc<Table>) -> Throughput<S> {
        Throughput { inner, table }
    }

    /// The pace of `phone_number_id` now, in messages a second: the
    /// configured one, or lower while it recovers from a refusal. `None`
    /// for a number not seen lately.
    pub fn current_rate(&self, phone_number_id: &str) -> Option<f64> {
        self.table.current_rate(phone_number_id)
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

impl<S, B, ResB> Service<Request<B>> for Throughput<S>
where
    S: Service<Request<B>, Response = Response<ResB>> + Clone,
    S::Error: Into<BoxError>,
    B: 'static,
{
    type Response = Response<ResB>;
    type Error = BoxError;
    type Future = ThroughputFuture<S, Request<B>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        // Reserved for a message that may go at once; given back by one
        // that must wait.
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    #[inline]
    fn call(&mut self, request: Request<B>) -> Self::Future {
        let Some(id) = message_sender(request.uri()) else {
            return ThroughputFuture::passthrough(self.inner.call(request));
        };
        let now = Instant::now();
        let number = self.table.number(id, now);
        let body = body_bytes(request.body());
        let max_wait = self.table.settings.max_wait;
        let admit = number.admit(now, body.as_ref(), max_wait);
        if let Admit::Turn(Turn::Ticket(ticket)) = &admit {
            if ticket.due <= now {
                let future = self.inner.call(request);
                return ThroughputFuture::sent(future, number, now, body);
            }
        }
        // It waits (or fails): the capacity reserved goes back, and a clone
        // takes its own once the turn has come.
        let unready = self.inner.clone();
        drop(std::mem::replace(&mut self.inner, unready.clone()));
        let start = Start {
            inner: unready,
            request,
            number,
            body,
            now,
            max_wait,
        };
        ThroughputFuture::waiting(start, admit)
    }
}
