//! Reading a request body into a [`ReplayBody`], up to a limit.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, Request};
use http_body::Frame;
use pin_project_lite::pin_project;

use super::{NotReplayable, ReplayBody};
use crate::body::BytesBody;
use crate::error::Error;

/// Chunks read so far. The first chunk is kept as is, so a body that arrives
/// in one piece (the usual `Full<Bytes>`) is never copied.
#[derive(Default)]
pub(crate) struct Gather {
    first: Option<Bytes>,
    more: Vec<Bytes>,
    pub(crate) len: usize,
    pub(crate) trailers: Option<Box<HeaderMap>>,
}

impl Gather {
    /// Adds a frame; returns the total data length so far.
    pub(crate) fn push(&mut self, frame: Frame<Bytes>) -> usize {
        match frame.into_data() {
            Ok(chunk) if chunk.is_empty() => {}
            Ok(chunk) => {
                self.len += chunk.len();
                if self.first.is_none() {
                    self.first = Some(chunk);
                } else {
                    self.more.push(chunk);
                }
            }
            Err(frame) => self.trailers = frame.into_trailers().ok().map(Box::new),
        }
        self.len
    }

    /// Everything read, as one `Bytes` (copied only if it came in pieces).
    pub(crate) fn to_bytes(&self) -> Bytes {
        match &self.first {
            None => Bytes::new(),
            Some(first) if self.more.is_empty() => first.clone(),
            Some(first) => {
                let mut joined = BytesMut::with_capacity(self.len);
                joined.extend_from_slice(first);
                for chunk in &self.more {
                    joined.extend_from_slice(chunk);
                }
                joined.freeze()
            }
        }
    }

    /// The chunks read, in order, to be sent ahead of the unread rest.
    pub(crate) fn into_prefix(self) -> VecDeque<Bytes> {
        self.first.into_iter().chain(self.more).collect()
    }
}

/// A request split while buffering.
struct Collected {
    parts: http::request::Parts,
    gather: Gather,
}

impl Collected {
    fn into_full(self) -> Request<ReplayBody> {
        let data = self.gather.to_bytes();
        let trailers = self.gather.trailers;
        Request::from_parts(self.parts, ReplayBody::full(data, trailers))
    }

    /// A request sent as it streams: marked, so the layers above know it
    /// cannot be replayed and why.
    fn into_streaming<B: BytesBody>(mut self, rest: B, limit: usize) -> Request<ReplayBody> {
        self.parts.extensions.insert(NotReplayable { limit });
        let body = ReplayBody::resumed(self.gather.into_prefix(), rest);
        Request::from_parts(self.parts, body)
    }
}

pin_project! {
    /// Turns a `Request<B>` into a `Request<ReplayBody>`, buffering up to a limit.
    #[project = BufferProj]
    pub(crate) enum BufferRequest<B> {
        // The body declared an upper size within the limit: read it where it
        // lies, with no allocation for the body itself.
        InPlace { #[pin] body: B, acc: Option<Collected>, limit: usize },
        // Size unknown or too large: boxed so the unread rest can be handed on.
        Boxed { body: Option<Pin<Box<B>>>, acc: Option<Collected>, limit: usize },
        Ready { req: Option<Request<ReplayBody>> },
    }
}

impl<B: BytesBody> BufferRequest<B> {
    pub(crate) fn new(req: Request<B>, limit: usize) -> BufferRequest<B> {
        let (parts, body) = req.into_parts();
        let acc = Collected {
            parts,
            gather: Gather::default(),
        };
        let hint = body.size_hint();
        if hint.lower() > limit as u64 {
            let req = acc.into_streaming(body, limit);
            BufferRequest::Ready { req: Some(req) }
        } else if hint.upper().is_some_and(|u| u <= limit as u64) {
            BufferRequest::InPlace {
                body,
                acc: Some(acc),
                limit,
            }
        } else {
            BufferRequest::Boxed {
                body: Some(Box::pin(body)),
                acc: Some(acc),
                limit,
            }
        }
    }
}

fn body_error(err: impl Into<tower::BoxError>) -> Error {
    Error::Body(Arc::from(err.into()))
}

impl<B: BytesBody> Future for BufferRequest<B> {
    type Output = Result<Request<ReplayBody>, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            BufferProj::Ready { req } => {
                Poll::Ready(Ok(req.take().expect("polled after completion")))
            }
            BufferProj::InPlace {
                mut body,
                acc,
                limit,
            } => loop {
                let collected = acc.as_mut().expect("polled after completion");
                match ready!(body.as_mut().poll_frame(cx)) {
                    None => return Poll::Ready(Ok(acc.take().expect("checked").into_full())),
                    Some(Err(e)) => return Poll::Ready(Err(body_error(e))),
                    Some(Ok(frame)) => {
                        if collected.gather.push(frame) > *limit {
                            return Poll::Ready(Err(body_error(
                                "request body is larger than its declared size",
                            )));
                        }
                    }
                }
            },
            BufferProj::Boxed { body, acc, limit } => loop {
                let collected = acc.as_mut().expect("polled after completion");
                let stream = body.as_mut().expect("polled after completion");
                match ready!(stream.as_mut().poll_frame(cx)) {
                    None => return Poll::Ready(Ok(acc.take().expect("checked").into_full())),
                    Some(Err(e)) => return Poll::Ready(Err(body_error(e))),
                    Some(Ok(frame)) => {
                        if collected.gather.push(frame) > *limit {
                            let rest = body.take().expect("checked");
                            let req = acc.take().expect("checked").into_streaming(rest, *limit);
                            return Poll::Ready(Ok(req));
                        }
                    }
                }
            },
        }
    }
}

/// Writes into `slot` a copy of `req` sharing its body bytes, or `None` for
/// a streaming body. In place: the request head is large to move.
pub(crate) fn copy_request_into(req: &Request<ReplayBody>, slot: &mut Option<Request<ReplayBody>>) {
    let Some(body) = req.body().try_clone() else {
        *slot = None;
        return;
    };
    let copy = slot.insert(Request::new(body));
    *copy.method_mut() = req.method().clone();
    *copy.uri_mut() = req.uri().clone();
    *copy.version_mut() = req.version();
    *copy.headers_mut() = req.headers().clone();
    *copy.extensions_mut() = req.extensions().clone();
}
