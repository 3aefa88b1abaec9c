//! The two shapes both body types take once some of a body has been read:
//! [`Whole`], every byte at hand (yielded once, then the trailers), and a
//! prefix of chunks read ahead of an unread rest ([`prefixed_hint`]).
//! [`ReplayBody`](super::ReplayBody) and
//! [`GraphBody`](crate::classify::GraphBody) keep the `Body` contract through these.

use std::collections::VecDeque;

use bytes::Bytes;
use http::HeaderMap;
use http_body::{Frame, SizeHint};

/// A complete body: its bytes (taken when yielded) and its trailers.
#[derive(Clone)]
pub(crate) struct Whole {
    data: Option<Bytes>,
    trailers: Option<Box<HeaderMap>>,
}

impl Whole {
    pub(crate) fn new(data: Bytes, trailers: Option<Box<HeaderMap>>) -> Whole {
        Whole {
            data: Some(data),
            trailers,
        }
    }

    /// The bytes, until they are yielded.
    pub(crate) fn bytes(&self) -> Option<&Bytes> {
        self.data.as_ref()
    }

    /// The bytes (none once yielded), when there are no trailers.
    pub(crate) fn into_bytes(self) -> Result<Bytes, Whole> {
        match self.trailers {
            None => Ok(self.data.unwrap_or_default()),
            Some(_) => Err(self),
        }
    }

    /// How many bytes are left to yield.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.data.as_ref().map_or(0, Bytes::len)
    }

    /// The next frame: the data (unless empty), then the trailers.
    #[inline]
    pub(crate) fn next_frame(&mut self) -> Option<Frame<Bytes>> {
        if let Some(data) = self.data.take().filter(|d| !d.is_empty()) {
            return Some(Frame::data(data));
        }
        self.trailers.take().map(|t| Frame::trailers(*t))
    }

    #[inline]
    pub(crate) fn is_end_stream(&self) -> bool {
        self.data.as_ref().is_none_or(Bytes::is_empty) && self.trailers.is_none()
    }

    #[inline]
    pub(crate) fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.len() as u64)
    }
}

/// The size hint of `prefix` (chunks already read) followed by a rest
/// whose hint is `rest`.
pub(crate) fn prefixed_hint(prefix: &VecDeque<Bytes>, rest: SizeHint) -> SizeHint {
    let read: u64 = prefix.iter().map(|c| c.len() as u64).sum();
    let mut hint = SizeHint::new();
    hint.set_lower(rest.lower() + read);
    if let Some(upper) = rest.upper() {
        hint.set_upper(upper + read);
    }
    hint
}
