//! Request bodies that can be sent twice: [`ReplayBody`] and the
//! [`BufferBody`] middleware that produces them.
//!
//! `http::Request` is not `Clone`, and a streaming body can be read only once.
//! `BufferBody` collects each request body up to a limit (default 1 MiB) into
//! [`Bytes`](https://docs.rs/bytes/1/bytes/struct.Bytes.html), so that a copy for a replay is a reference-count increment, not a
//! byte copy. A body larger than the limit is passed on as it streams (the
//! bytes already read first): it is sent exactly once and cannot be replayed.
//!
//! ```
//! use bytes::Bytes;
//! use http::Request;
//! use http_body_util::Full;
//! use tower::{service_fn, ServiceBuilder, ServiceExt};
//! use tower_whatsapp_auth::{body::BufferBodyLayer, ReplayBody};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), tower::BoxError> {
//! let svc = ServiceBuilder::new()
//!     .layer(BufferBodyLayer::new().limit(64 * 1024))
//!     .service(service_fn(|req: Request<ReplayBody>| async move {
//!         let copy = req.body().try_clone().expect("small bodies are replayable");
//!         Ok::<_, tower::BoxError>(http::Response::new(copy.as_bytes().cloned()))
//!     }));
//! let res = svc.oneshot(Request::new(Full::new(Bytes::from_static(b"{\"to\":\"1\"}")))).await?;
//! assert_eq!(res.body().as_deref(), Some(&b"{\"to\":\"1\"}"[..]));
//! # Ok(()) }
//! ```

use bytes::Bytes;
use http_body::Body;
use tower::BoxError;

mod buffer;
mod complete;
mod kept;
mod layer;
// The body itself: reached as the crate root's `ReplayBody`, its one
// public path.
pub(crate) mod replay;
mod whole;

pub(crate) use buffer::{copy_request_into, BufferRequest, Gather};
pub(crate) use complete::{complete, complete_body, within_limit, Prepared};
pub(crate) use kept::KeptRequest;
pub use layer::{BufferBody, BufferBodyFuture, BufferBodyLayer, NotReplayable};
pub(crate) use replay::ReplayBody;
pub(crate) use whole::{prefixed_hint, Whole};

/// A body of `Bytes` chunks that can move between threads: what callers
/// send through the stack and what the wrapped client answers with.
pub trait BytesBody: Body<Data = Bytes, Error: Into<BoxError>> + Send + 'static {}

impl<B> BytesBody for B
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
}

/// Default largest body kept for replay: 1 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

#[cfg(test)]
pub(crate) mod tests;
