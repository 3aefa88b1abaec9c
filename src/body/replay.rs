//! [`ReplayBody`]: the body the wrapped service receives, complete (and
//! replayable) or streaming (sent once).

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

use super::{prefixed_hint, Whole};

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
