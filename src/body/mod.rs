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

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::BodyExt;
use tower::BoxError;

mod buffer;
mod complete;
mod kept;
mod layer;
mod whole;

pub(crate) use buffer::{copy_request_into, BufferRequest, Gather};
pub(crate) use complete::{complete, complete_body, within_limit, Prepared};
pub(crate) use kept::KeptRequest;
pub use layer::{BufferBody, BufferBodyFuture, BufferBodyLayer, NotReplayable};
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

/// A request body that is either complete (and so replayable: a copy shares
/// its bytes) or streaming (sent once). This is the body type the wrapped
/// service receives. It is `Send + Sync`, as clients such as reqwest require.
pub struct ReplayBody {
    kind: Kind,
}

// Trailers and streaming state are rare: boxed, they keep the body (and so
// every request the stack moves around) small.
enum Kind {
    Full(Whole),
    Streaming(Box<Streaming>),
}

struct Streaming {
    prefix: VecDeque<Bytes>,
    // The mutex only makes the body `Sync`: polling takes `&mut self` and
    // reaches the body through `get_mut`, which never locks.
    rest: Mutex<UnsyncBoxBody<Bytes, BoxError>>,
}

impl ReplayBody {
    /// An empty, replayable body.
    pub fn empty() -> ReplayBody {
        ReplayBody::full(Bytes::new(), None)
    }

    pub(crate) fn full(data: Bytes, trailers: Option<Box<HeaderMap>>) -> ReplayBody {
        ReplayBody {
            kind: Kind::Full(Whole::new(data, trailers)),
        }
    }

    /// A body that is sent as it streams and cannot be replayed.
    pub fn streaming<B>(body: B) -> ReplayBody
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        ReplayBody::resumed(VecDeque::new(), body)
    }

    /// A streaming body whose first chunks were already read.
    pub(crate) fn resumed<B>(prefix: VecDeque<Bytes>, rest: B) -> ReplayBody
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        ReplayBody {
            kind: Kind::Streaming(Box::new(Streaming {
                prefix,
                rest: Mutex::new(rest.map_err(Into::into).boxed_unsync()),
            })),
        }
    }

    /// Whether [`try_clone`](Self::try_clone) can copy this body.
    pub fn is_replayable(&self) -> bool {
        matches!(self.kind, Kind::Full(_))
    }

    /// A copy of a buffered body (sharing its bytes), or `None` for a
    /// streaming one.
    pub fn try_clone(&self) -> Option<ReplayBody> {
        match &self.kind {
            Kind::Full(whole) => Some(ReplayBody {
                kind: Kind::Full(whole.clone()),
            }),
            Kind::Streaming(_) => None,
        }
    }

    /// The whole body as `Bytes` (no copy) when it is complete and has no
    /// trailers; the body itself otherwise.
    pub fn into_bytes(self) -> Result<Bytes, ReplayBody> {
        match self.kind {
            Kind::Full(whole) => whole.into_bytes().map_err(|whole| ReplayBody {
                kind: Kind::Full(whole),
            }),
            kind => Err(ReplayBody { kind }),
        }
    }

    /// The buffered bytes, if the body is buffered and not yet sent.
    pub fn as_bytes(&self) -> Option<&Bytes> {
        match &self.kind {
            Kind::Full(whole) => whole.bytes(),
            Kind::Streaming(_) => None,
        }
    }
}

impl Default for ReplayBody {
    fn default() -> ReplayBody {
        ReplayBody::empty()
    }
}

impl From<Bytes> for ReplayBody {
    fn from(data: Bytes) -> ReplayBody {
        ReplayBody::full(data, None)
    }
}

impl From<String> for ReplayBody {
    fn from(data: String) -> ReplayBody {
        ReplayBody::full(Bytes::from(data), None)
    }
}

impl From<&'static str> for ReplayBody {
    fn from(data: &'static str) -> ReplayBody {
        ReplayBody::full(Bytes::from_static(data.as_bytes()), None)
    }
}

impl From<Vec<u8>> for ReplayBody {
    fn from(data: Vec<u8>) -> ReplayBody {
        ReplayBody::full(Bytes::from(data), None)
    }
}

impl std::fmt::Debug for ReplayBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.kind {
            Kind::Full(whole) => f
                .debug_struct("ReplayBody::Full")
                .field("len", &whole.len())
                .finish(),
            Kind::Streaming(_) => f.write_str("ReplayBody::Streaming"),
        }
    }
}

// The complete body is the common case, and each method's part for it is
// a few instructions: inlined into the client that polls it, with the
// streaming rest out of line.
impl Body for ReplayBody {
    type Data = Bytes;
    type Error = BoxError;

    #[inline]
    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match &mut self.get_mut().kind {
            Kind::Full(whole) => Poll::Ready(whole.next_frame().map(Ok)),
            Kind::Streaming(s) => s.poll_frame(cx),
        }
    }

    #[inline]
    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Full(whole) => whole.is_end_stream(),
            Kind::Streaming(s) => s.is_end_stream(),
        }
    }

    #[inline]
    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Full(whole) => whole.size_hint(),
            Kind::Streaming(s) => s.size_hint(),
        }
    }
}

impl Streaming {
    #[inline(never)]
    fn poll_frame(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.prefix.pop_front() {
            Some(chunk) => Poll::Ready(Some(Ok(Frame::data(chunk)))),
            None => {
                let rest = self.rest.get_mut().unwrap_or_else(|p| p.into_inner());
                Pin::new(rest).poll_frame(cx)
            }
        }
    }

    #[inline(never)]
    fn is_end_stream(&self) -> bool {
        self.prefix.is_empty() && self.with_rest(|r| r.is_end_stream())
    }

    #[inline(never)]
    fn size_hint(&self) -> SizeHint {
        prefixed_hint(&self.prefix, self.with_rest(|r| r.size_hint()))
    }
}

impl Streaming {
    fn with_rest<R>(&self, f: impl FnOnce(&UnsyncBoxBody<Bytes, BoxError>) -> R) -> R {
        f(&self.rest.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

#[cfg(test)]
pub(crate) mod tests;
