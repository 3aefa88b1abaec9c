//! Named bounds for the services and futures the stack works with, so that
//! signatures say what they need in one word. Each has a blanket impl: you
//! never implement them yourself.

use std::future::Future;
use std::pin::Pin;

use http::{Request, Response};
use tower::BoxError;
use tower_service::Service;

use crate::body::{BytesBody, ReplayBody};

/// A boxed, `Send` future, as [`TokenSource`](crate::source::TokenSource)
/// and [`TokenStore`](crate::store::TokenStore) return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// An HTTP client the stack can wrap and make its own Graph calls through:
/// any cloneable `Service<http::Request<ReplayBody>>` answering
/// `http::Response<B>` (`B` a [`BytesBody`]) with a `Send + 'static`
/// future: a hyper-util `Client<_, ReplayBody>`, or your own.
pub trait HttpService:
    Service<
        Request<ReplayBody>,
        Response = Response<<Self as HttpService>::ResponseBody>,
        Future: Send + 'static,
        Error: Into<BoxError>,
    > + Clone
    + Send
    + 'static
{
    /// The body of the client's responses.
    type ResponseBody: BytesBody;
}

impl<S, ResB> HttpService for S
where
    S: Service<Request<ReplayBody>, Response = Response<ResB>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    ResB: BytesBody,
{
    type ResponseBody = ResB;
}
