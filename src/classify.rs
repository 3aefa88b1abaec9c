//! [`Classify`]: read Graph error bodies once, so every layer above sees a
//! typed [`GraphError`] in the response extensions.
//!
//! For responses with a status of 400 or more, the body is read up to a limit
//! (default 64 KiB) and parsed. When it is a Graph error, a [`GraphError`] is
//! put in the response extensions. Either way the caller gets the response
//! with every byte of its body: the part read is handed back first, then the
//! unread rest. Success responses are not touched at all.
//!
//! ```
//! use bytes::Bytes;
//! use http::{Request, Response, StatusCode};
//! use http_body_util::{BodyExt, Full};
//! use tower::{service_fn, ServiceBuilder, ServiceExt};
//! use tower_whatsapp_auth::{ClassifyLayer, ErrorKind, GraphError};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), tower::BoxError> {
//! let graph = service_fn(|_req: Request<()>| async {
//!     let body = r#"{"error":{"message":"Invalid OAuth access token.","type":"OAuthException","code":190}}"#;
//!     Ok::<_, std::convert::Infallible>(
//!         Response::builder().status(401).body(Full::new(Bytes::from(body))).unwrap(),
//!     )
//! });
//! let res = ServiceBuilder::new().layer(ClassifyLayer::new()).service(graph)
//!     .oneshot(Request::new(())).await?;
//! let err = res.extensions().get::<GraphError>().unwrap();
//! assert_eq!(err.kind(), ErrorKind::TokenInvalid);
//! // The body is still there for whoever wants it.
//! let body = res.into_body().collect().await?.to_bytes();
//! assert!(body.starts_with(b"{\"error\""));
//! # Ok(()) }
//! ```

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use http::{HeaderMap, Request, Response};
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use tower::BoxError;
use tower_layer::Layer;
use tower_service::Service;

use crate::body::Gather;
use crate::GraphError;

/// Default largest error body read for classification: 64 KiB.
pub const DEFAULT_ERROR_BODY_LIMIT: usize = 64 * 1024;

/// Layer that applies [`Classify`].
#[derive(Debug, Clone, Copy)]
pub struct ClassifyLayer {
    limit: usize,
}

impl ClassifyLayer {
    /// A layer reading up to [`DEFAULT_ERROR_BODY_LIMIT`] bytes of error bodies.
    pub fn new() -> ClassifyLayer {
        ClassifyLayer {
            limit: DEFAULT_ERROR_BODY_LIMIT,
        }
    }

    /// Sets how much of an error body is read to classify it.
    pub fn limit(mut self, bytes: usize) -> ClassifyLayer {
        self.limit = bytes;
        self
    }
}

impl Default for ClassifyLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl<S> Layer<S> for ClassifyLayer {
    type Service = Classify<S>;
    fn layer(&self, inner: S) -> Classify<S> {
        Classify {
            inner,
            limit: self.limit,
        }
    }
}

/// Middleware that parses Graph error bodies into a [`GraphError`] response
/// extension. See the [module docs](mod@crate::classify).
#[derive(Debug, Clone)]
pub struct Classify<S> {
    inner: S,
    limit: usize,
}

impl<S, ReqB, ResB> Service<Request<ReqB>> for Classify<S>
where
    S: Service<Request<ReqB>, Response = Response<ResB>>,
    S::Error: Into<BoxError>,
    ResB: Body<Data = Bytes>,
    ResB::Error: Into<BoxError>,
{
    type Response = Response<GraphBody<ResB>>;
    type Error = BoxError;
    type Future = ClassifyFuture<S::Future, ResB>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: Request<ReqB>) -> Self::Future {
        ClassifyFuture {
            state: ClassifyState::Calling {
                future: self.inner.call(req),
            },
            limit: self.limit,
        }
    }
}

pin_project! {
    /// Response future of [`Classify`].
    pub struct ClassifyFuture<F, ResB> {
        #[pin]
        state: ClassifyState<F, ResB>,
        limit: usize,
    }
}

struct Reading<ResB> {
    parts: Option<http::response::Parts>,
    body: Option<Pin<Box<ResB>>>,
    gather: Gather,
}

pin_project! {
    #[project = ClassifyProj]
    enum ClassifyState<F, ResB> {
        Calling { #[pin] future: F },
        // Boxed: error answers are rare, and this keeps the future small.
        Reading { reading: Box<Reading<ResB>> },
    }
}

impl<F, E, ResB> Future for ClassifyFuture<F, ResB>
where
    F: Future<Output = Result<Response<ResB>, E>>,
    E: Into<BoxError>,
    ResB: Body<Data = Bytes>,
    ResB::Error: Into<BoxError>,
{
    type Output = Result<Response<GraphBody<ResB>>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                ClassifyProj::Calling { future } => {
                    let res = ready!(future.poll(cx)).map_err(Into::into)?;
                    if res.status().as_u16() < 400 {
                        return Poll::Ready(Ok(res.map(GraphBody::passthrough)));
                    }
                    // Error answers are rare: boxing the body here keeps the
                    // success path free of it and lets the unread rest move on.
                    let (parts, body) = res.into_parts();
                    this.state.set(ClassifyState::Reading {
                        reading: Box::new(Reading {
                            parts: Some(parts),
                            body: Some(Box::pin(body)),
                            gather: Gather::default(),
                        }),
                    });
                }
                ClassifyProj::Reading { reading } => {
                    let Reading {
                        parts,
                        body,
                        gather,
                    } = &mut **reading;
                    let stream = body.as_mut().expect("polled after completion");
                    let overflow = match ready!(stream.as_mut().poll_frame(cx)) {
                        Some(Ok(frame)) => {
                            if gather.push(frame) <= *this.limit {
                                continue;
                            }
                            true
                        }
                        Some(Err(e)) => return Poll::Ready(Err(e.into())),
                        None => false,
                    };
                    let mut parts = parts.take().expect("polled after completion");
                    let gathered = std::mem::take(gather);
                    let read = gathered.to_bytes();
                    let body = if overflow {
                        GraphBody::prefixed(gathered.into_prefix(), body.take().expect("checked"))
                    } else {
                        drop(body.take());
                        GraphBody::buffered(read.clone(), gathered.trailers)
                    };
                    if let Some(err) = GraphError::parse(parts.status, &read) {
                        tracing::debug!(code = err.code(), subcode = ?err.subcode(), status = parts.status.as_u16(), "graph error answer");
                        parts.extensions.insert(err);
                    }
                    return Poll::Ready(Ok(Response::from_parts(parts, body)));
                }
            }
        }
    }
}

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
    fn passthrough(body: B) -> GraphBody<B> {
        GraphBody {
            kind: GraphBodyKind::Passthrough { body },
        }
    }

    fn buffered(data: Bytes, trailers: Option<Box<HeaderMap>>) -> GraphBody<B> {
        GraphBody {
            kind: GraphBodyKind::Buffered {
                data: Some(data),
                trailers,
            },
        }
    }

    fn prefixed(prefix: VecDeque<Bytes>, rest: Pin<Box<B>>) -> GraphBody<B> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::tests::Chunks;
    use http_body_util::{BodyExt, Full};
    use tower::{service_fn, ServiceExt};

    async fn classify<B>(status: u16, body: B, limit: usize) -> Response<GraphBody<B>>
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let mut slot = Some(body);
        let svc = service_fn(move |_: Request<()>| {
            let body = slot.take().unwrap();
            async move { Ok::<_, BoxError>(Response::builder().status(status).body(body).unwrap()) }
        });
        ClassifyLayer::new()
            .limit(limit)
            .layer(svc)
            .oneshot(Request::new(()))
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn success_bodies_are_not_read() {
        let res = classify(
            200,
            Full::new(Bytes::from_static(b"{\"error\":{\"code\":190}}")),
            1024,
        )
        .await;
        assert!(res.extensions().get::<GraphError>().is_none());
        assert!(res.body().buffered_bytes().is_none());
    }

    #[tokio::test]
    async fn html_error_pages_pass_through_byte_for_byte() {
        let html = "<html><body><h1>502 Bad Gateway</h1></body></html>";
        let res = classify(502, Full::new(Bytes::from(html)), 1024).await;
        assert_eq!(res.status(), 502);
        assert!(res.extensions().get::<GraphError>().is_none());
        assert_eq!(res.into_body().collect().await.unwrap().to_bytes(), html);
    }

    #[tokio::test]
    async fn bodies_over_the_limit_are_handed_on_whole() {
        let parts: Vec<Bytes> = (0..50)
            .map(|i| Bytes::from(vec![b'a' + (i % 26) as u8; 100]))
            .collect();
        let expected: Vec<u8> = parts.iter().flat_map(|p| p.to_vec()).collect();
        let res = classify(500, Chunks(parts.into()), 256).await;
        assert!(res.extensions().get::<GraphError>().is_none());
        assert_eq!(
            res.into_body().collect().await.unwrap().to_bytes(),
            expected
        );
    }

    #[tokio::test]
    async fn chunked_error_json_is_parsed() {
        let res = classify(
            400,
            Chunks(
                vec![
                    Bytes::from_static(b"{\"error\":{\"co"),
                    Bytes::from_static(b"de\":10}}"),
                ]
                .into(),
            ),
            1024,
        )
        .await;
        assert_eq!(res.extensions().get::<GraphError>().unwrap().code(), 10);
    }
}
