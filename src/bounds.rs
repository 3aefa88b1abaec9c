//! Named bounds for the services and bodies the stack works with, so that
//! signatures say what they need in one word. Each has a blanket impl: you
//! never implement them yourself.

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use tower::BoxError;
use tower_service::Service;

use crate::ReplayBody;

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

/// A body of `Bytes` chunks that can move between threads: what callers
/// send through the stack and what the wrapped client answers with.
pub trait BytesBody: Body<Data = Bytes, Error: Into<BoxError>> + Send + 'static {}

impl<B> BytesBody for B
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
}
