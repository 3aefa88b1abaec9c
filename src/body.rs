//! Request bodies that can be sent twice: [`ReplayBody`] and the
//! [`BufferBody`] middleware that produces them.
//!
//! `http::Request` is not `Clone`, and a streaming body can be read only once.
//! `BufferBody` collects each request body up to a limit (default 1 MiB) into
//! [`Bytes`], so that a copy for a replay is a reference-count increment, not a
//! byte copy. A body larger than the limit is passed on as it streams (the
//! bytes already read first): it is sent exactly once and cannot be replayed.
//!
//! ```
//! use bytes::Bytes;
//! use http::Request;
//! use http_body_util::Full;
//! use tower::{service_fn, ServiceBuilder, ServiceExt};
//! use tower_whatsapp_auth::{BufferBodyLayer, ReplayBody};
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
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, Request, Response};
use http_body::{Body, Frame, SizeHint};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::BodyExt;
use pin_project_lite::pin_project;
use tower::BoxError;
use tower_layer::Layer;
use tower_service::Service;

use crate::Error;

/// Default largest body kept for replay: 1 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// A request body that is either fully buffered (and so replayable) or
/// streaming (sent once). This is the body type the wrapped service receives.
pub struct ReplayBody {
    kind: Kind,
}

// Trailers and streaming state are rare: boxed, they keep the body (and so
// every request the stack moves around) small.
enum Kind {
    Full {
        data: Option<Bytes>,
        trailers: Option<Box<HeaderMap>>,
    },
    Streaming(Box<Streaming>),
}

struct Streaming {
    prefix: VecDeque<Bytes>,
    rest: UnsyncBoxBody<Bytes, BoxError>,
}

impl ReplayBody {
    /// An empty, replayable body.
    pub fn empty() -> ReplayBody {
        ReplayBody::full(Bytes::new(), None)
    }

    fn full(data: Bytes, trailers: Option<Box<HeaderMap>>) -> ReplayBody {
        ReplayBody {
            kind: Kind::Full {
                data: Some(data),
                trailers,
            },
        }
    }

    /// A body that is sent as it streams and cannot be replayed.
    pub fn streaming<B>(body: B) -> ReplayBody
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        ReplayBody {
            kind: Kind::Streaming(Box::new(Streaming {
                prefix: VecDeque::new(),
                rest: body.map_err(Into::into).boxed_unsync(),
            })),
        }
    }

    /// Whether [`try_clone`](Self::try_clone) can copy this body.
    pub fn is_replayable(&self) -> bool {
        matches!(self.kind, Kind::Full { .. })
    }

    /// A copy of a buffered body (sharing its bytes), or `None` for a
    /// streaming one.
    pub fn try_clone(&self) -> Option<ReplayBody> {
        match &self.kind {
            Kind::Full { data, trailers } => Some(ReplayBody {
                kind: Kind::Full {
                    data: data.clone(),
                    trailers: trailers.clone(),
                },
            }),
            Kind::Streaming(_) => None,
        }
    }

    /// The buffered bytes, if the body is buffered and not yet sent.
    pub fn as_bytes(&self) -> Option<&Bytes> {
        match &self.kind {
            Kind::Full { data, .. } => data.as_ref(),
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
            Kind::Full { data, .. } => f
                .debug_struct("ReplayBody::Full")
                .field("len", &data.as_ref().map_or(0, Bytes::len))
                .finish(),
            Kind::Streaming(_) => f.write_str("ReplayBody::Streaming"),
        }
    }
}

impl Body for ReplayBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match &mut self.get_mut().kind {
            Kind::Full { data, trailers } => {
                if let Some(data) = data.take().filter(|d| !d.is_empty()) {
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Poll::Ready(trailers.take().map(|t| Ok(Frame::trailers(*t))))
            }
            Kind::Streaming(s) => match s.prefix.pop_front() {
                Some(chunk) => Poll::Ready(Some(Ok(Frame::data(chunk)))),
                None => Pin::new(&mut s.rest).poll_frame(cx),
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Full { data, trailers } => {
                data.as_ref().is_none_or(Bytes::is_empty) && trailers.is_none()
            }
            Kind::Streaming(s) => s.prefix.is_empty() && s.rest.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Full { data, .. } => {
                SizeHint::with_exact(data.as_ref().map_or(0, |d| d.len() as u64))
            }
            Kind::Streaming(s) => {
                let read: u64 = s.prefix.iter().map(|c| c.len() as u64).sum();
                let rest = s.rest.size_hint();
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

    fn into_streaming<B>(self, rest: B) -> Request<ReplayBody>
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let body = ReplayBody {
            kind: Kind::Streaming(Box::new(Streaming {
                prefix: self.gather.into_prefix(),
                rest: rest.map_err(Into::into).boxed_unsync(),
            })),
        };
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

impl<B> BufferRequest<B>
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    pub(crate) fn new(req: Request<B>, limit: usize) -> BufferRequest<B> {
        let (parts, body) = req.into_parts();
        let acc = Collected {
            parts,
            gather: Gather::default(),
        };
        let hint = body.size_hint();
        if hint.lower() > limit as u64 {
            let req = acc.into_streaming(body);
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

fn body_error(err: impl Into<BoxError>) -> Error {
    Error::Body(Arc::from(err.into()))
}

impl<B> Future for BufferRequest<B>
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
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
                            let req = acc.take().expect("checked").into_streaming(rest);
                            return Poll::Ready(Ok(req));
                        }
                    }
                }
            },
        }
    }
}

/// A copy of `req` sharing its body bytes, or `None` for a streaming body.
pub(crate) fn copy_request(req: &Request<ReplayBody>) -> Option<Request<ReplayBody>> {
    let body = req.body().try_clone()?;
    let mut copy = Request::new(body);
    *copy.method_mut() = req.method().clone();
    *copy.uri_mut() = req.uri().clone();
    *copy.version_mut() = req.version();
    *copy.headers_mut() = req.headers().clone();
    *copy.extensions_mut() = req.extensions().clone();
    Some(copy)
}

/// Marks a response to a request whose body was too large to replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotReplayable {
    /// The buffer limit the body exceeded.
    pub limit: usize,
}

/// Layer that applies [`BufferBody`].
#[derive(Debug, Clone, Copy)]
pub struct BufferBodyLayer {
    limit: usize,
}

impl BufferBodyLayer {
    /// A layer buffering up to [`DEFAULT_BODY_LIMIT`] bytes.
    pub fn new() -> BufferBodyLayer {
        BufferBodyLayer {
            limit: DEFAULT_BODY_LIMIT,
        }
    }

    /// Sets the largest body kept for replay.
    pub fn limit(mut self, bytes: usize) -> BufferBodyLayer {
        self.limit = bytes;
        self
    }
}

impl Default for BufferBodyLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl<S> Layer<S> for BufferBodyLayer {
    type Service = BufferBody<S>;
    fn layer(&self, inner: S) -> BufferBody<S> {
        BufferBody {
            inner,
            limit: self.limit,
        }
    }
}

/// Middleware that hands `inner` a [`ReplayBody`]: buffered (replayable) when
/// the body fits the limit, streaming otherwise. Responses to requests that
/// could not be buffered carry a [`NotReplayable`] extension.
#[derive(Debug, Clone)]
pub struct BufferBody<S> {
    inner: S,
    limit: usize,
}

impl<S, B, ResB> Service<Request<B>> for BufferBody<S>
where
    S: Service<Request<ReplayBody>, Response = Response<ResB>> + Clone,
    S::Error: Into<BoxError>,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response<ResB>;
    type Error = BoxError;
    type Future = BufferBodyFuture<B, S>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        // The ready service goes with the future; a fresh clone stays behind.
        let clone = self.inner.clone();
        let ready = std::mem::replace(&mut self.inner, clone);
        BufferBodyFuture {
            state: BufferState::Buffering {
                buffer: BufferRequest::new(req, self.limit),
                service: Some(ready),
            },
            limit: self.limit,
            replayable: true,
        }
    }
}

pin_project! {
    /// Response future of [`BufferBody`].
    pub struct BufferBodyFuture<B, S: Service<Request<ReplayBody>>> {
        #[pin]
        state: BufferState<B, S>,
        limit: usize,
        replayable: bool,
    }
}

pin_project! {
    #[project = BufferStateProj]
    enum BufferState<B, S: Service<Request<ReplayBody>>> {
        Buffering { #[pin] buffer: BufferRequest<B>, service: Option<S> },
        Calling { #[pin] future: S::Future },
    }
}

impl<B, S, ResB> Future for BufferBodyFuture<B, S>
where
    S: Service<Request<ReplayBody>, Response = Response<ResB>>,
    S::Error: Into<BoxError>,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Output = Result<Response<ResB>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                BufferStateProj::Buffering { buffer, service } => {
                    let req = ready!(buffer.poll(cx))?;
                    *this.replayable = req.body().is_replayable();
                    let future = service.take().expect("polled after completion").call(req);
                    this.state.set(BufferState::Calling { future });
                }
                BufferStateProj::Calling { future } => {
                    let mut res = ready!(future.poll(cx)).map_err(Into::into)?;
                    if !*this.replayable {
                        res.extensions_mut()
                            .insert(NotReplayable { limit: *this.limit });
                    }
                    return Poll::Ready(Ok(res));
                }
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use http_body_util::Full;

    /// A body of several data frames with no declared size, like a stream.
    pub(crate) struct Chunks(pub VecDeque<Bytes>);

    impl Body for Chunks {
        type Data = Bytes;
        type Error = std::convert::Infallible;
        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            Poll::Ready(self.0.pop_front().map(|c| Ok(Frame::data(c))))
        }
    }

    fn chunks(parts: &[&'static [u8]]) -> Chunks {
        Chunks(parts.iter().map(|p| Bytes::from_static(p)).collect())
    }

    async fn buffer<B>(body: B, limit: usize) -> Request<ReplayBody>
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        BufferRequest::new(Request::new(body), limit).await.unwrap()
    }

    #[tokio::test]
    async fn single_chunk_is_not_copied() {
        let data = Bytes::from_static(b"hello world");
        let req = buffer(Full::new(data.clone()), 1024).await;
        let got = req.body().as_bytes().unwrap();
        assert_eq!(got.as_ptr(), data.as_ptr(), "same allocation");
        assert!(req.body().is_replayable());
    }

    #[tokio::test]
    async fn several_chunks_within_limit_are_joined_and_replay_identically() {
        let req = buffer(chunks(&[b"ab", b"", b"cd", b"e"]), 5).await;
        let copy = req.body().try_clone().unwrap();
        let first = req.into_body().collect().await.unwrap().to_bytes();
        let second = copy.collect().await.unwrap().to_bytes();
        assert_eq!(first, "abcde");
        assert_eq!(second, "abcde");
    }

    #[tokio::test]
    async fn stream_over_limit_keeps_every_byte_and_is_not_replayable() {
        let req = buffer(chunks(&[b"abc", b"def", b"ghi"]), 4).await;
        assert!(!req.body().is_replayable());
        assert!(req.body().try_clone().is_none());
        let bytes = req.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(bytes, "abcdefghi");
    }

    #[tokio::test]
    async fn full_body_over_limit_streams_untouched() {
        let req = buffer(Full::new(Bytes::from(vec![7u8; 100])), 10).await;
        assert!(!req.body().is_replayable());
        let bytes = req.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(bytes, vec![7u8; 100]);
    }

    #[tokio::test]
    async fn empty_body_is_replayable_and_ends_at_once() {
        let req = buffer(http_body_util::Empty::<Bytes>::new(), 0).await;
        assert!(req.body().is_replayable());
        assert!(req.body().is_end_stream());
    }
}
