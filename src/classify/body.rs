//! [`GraphBody`]: the response body, with any part read for classification
//! handed back first.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

pin_project! {
    /// Response body of [`Classify`]: the inner body untouched, or an error
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
        Buffered { data: Option<Bytes>, trailers: Option<Box<HeaderMap>> },
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
                data: Some(data),
                trailers,
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
            GraphBodyKind::Buffered { data, .. } => data.as_ref(),
            _ => None,
        }
    }
}

impl<B: std::fmt::Debug> std::fmt::Debug for GraphBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.kind {
            GraphBodyKind::Passthrough { body } => f.debug_tuple("GraphBody").field(body).finish(),
            GraphBodyKind::Buffered { data, .. } => f
                .debug_struct("GraphBody::Buffered")
                .field("len", &data.as_ref().map_or(0, Bytes::len))
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
            GraphBodyProj::Buffered { data, trailers } => {
                if let Some(data) = data.take().filter(|d| !d.is_empty()) {
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Poll::Ready(trailers.take().map(|t| Ok(Frame::trailers(*t))))
            }
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
            GraphBodyKind::Buffered { data, trailers } => {
                data.as_ref().is_none_or(Bytes::is_empty) && trailers.is_none()
            }
            GraphBodyKind::Prefixed { prefixed } => {
                prefixed.0.is_empty() && prefixed.1.is_end_stream()
            }
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            GraphBodyKind::Passthrough { body } => body.size_hint(),
            GraphBodyKind::Buffered { data, .. } => {
                SizeHint::with_exact(data.as_ref().map_or(0, |d| d.len() as u64))
            }
            GraphBodyKind::Prefixed { prefixed } => {
                let read: u64 = prefixed.0.iter().map(|c| c.len() as u64).sum();
                let rest = prefixed.1.size_hint();
                let mut hint = SizeHint::new();
                hint.set_lower(rest.lower() + read);
                if let Some(upper) = rest.upper() {
                    hint.set_upper(upper + read);
                }
                hint
            }
        }
    }
}
