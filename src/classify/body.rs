//! [`GraphBody`]: the response body, with any part read for classification
//! handed back first.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use crate::body::{prefixed_hint, Whole};

pin_project! {
    /// Response body of [`Classify`](super::Classify): the inner body untouched, or an error
    /// body whose first bytes were read for classification (and are replayed
    /// here ahead of the rest).
    pub struct GraphBody<B> {
        #[pin]
        kind: GraphBodyKind<B>,
    }
}

pin_project! {
    #[project = GraphBodyProj]
    enum GraphBodyKind<B> {
        Passthrough { #[pin] body: B },
        // Boxed, like `Prefixed`: error bodies are rare, and a small body
        // keeps every move of a success response cheap.
        Buffered { whole: Box<Whole> },
        Prefixed { prefixed: Box<(VecDeque<Bytes>, Pin<Box<B>>)> },
    }
}

impl<B> GraphBody<B> {
    pub(super) fn passthrough(body: B) -> GraphBody<B> {
        GraphBody {
            kind: GraphBodyKind::Passthrough { body },
        }
    }

    pub(super) fn buffered(data: Bytes, trailers: Option<Box<HeaderMap>>) -> GraphBody<B> {
        GraphBody {
            kind: GraphBodyKind::Buffered {
                whole: Box::new(Whole::new(data, trailers)),
            },
        }
    }

    pub(super) fn prefixed(prefix: VecDeque<Bytes>, rest: Pin<Box<B>>) -> GraphBody<B> {
        GraphBody {
            kind: GraphBodyKind::Prefixed {
                prefixed: Box::new((prefix, rest)),
            },
        }
    }

    /// The whole body, when it was an error body read completely.
    pub fn buffered_bytes(&self) -> Option<&Bytes> {
        match &self.kind {
            GraphBodyKind::Buffered { whole } => whole.bytes(),
            _ => None,
        }
    }
}

impl<B: std::fmt::Debug> std::fmt::Debug for GraphBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.kind {
            GraphBodyKind::Passthrough { body } => f.debug_tuple("GraphBody").field(body).finish(),
            GraphBodyKind::Buffered { whole } => f
                .debug_struct("GraphBody::Buffered")
                .field("len", &whole.len())
                .finish(),
            GraphBodyKind::Prefixed { .. } => f.write_str("GraphBody::Prefixed"),
        }
    }
}

impl<B> Body for GraphBody<B>
where
    B: Body<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        match self.project().kind.project() {
            GraphBodyProj::Passthrough { body } => body.poll_frame(cx),
            GraphBodyProj::Buffered { whole } => Poll::Ready(whole.next_frame().map(Ok)),
            GraphBodyProj::Prefixed { prefixed } => {
                let (prefix, rest) = &mut **prefixed;
                match prefix.pop_front() {
                    Some(chunk) => Poll::Ready(Some(Ok(Frame::data(chunk)))),
                    None => rest.as_mut().poll_frame(cx),
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            GraphBodyKind::Passthrough { body } => body.is_end_stream(),
            GraphBodyKind::Buffered { whole } => whole.is_end_stream(),
            GraphBodyKind::Prefixed { prefixed } => {
                prefixed.0.is_empty() && prefixed.1.is_end_stream()
            }
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            GraphBodyKind::Passthrough { body } => body.size_hint(),
            GraphBodyKind::Buffered { whole } => whole.size_hint(),
            GraphBodyKind::Prefixed { prefixed } => {
                prefixed_hint(&prefixed.0, prefixed.1.size_hint())
            }
        }
    }
}
