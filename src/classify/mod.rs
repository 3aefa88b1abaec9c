//! [`Classify`]: read Graph error bodies once, so every layer above sees a
//! typed [`GraphError`](crate::GraphError) in the response extensions.
//!
//! For responses with a status of 400 or more, the body is read up to a limit
//! (default 64 KiB) and parsed. When it is a Graph error, a [`GraphError`](crate::GraphError) is
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

mod body;
mod future;
mod layer;
mod service;

pub use body::GraphBody;
pub use future::ClassifyFuture;
pub use layer::ClassifyLayer;
pub use service::Classify;

/// How [`Classify`] reads answers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    /// Largest error body read.
    pub(crate) limit: usize,
    /// Usage (percent) past which a warning is logged.
    pub(crate) usage_warning: f64,
}

/// Default usage, in percent of Graph's allowance, past which a warning is
/// logged: 80.
pub const DEFAULT_USAGE_WARNING: f64 = 80.0;

/// Default largest error body read for classification: 64 KiB.
pub const DEFAULT_ERROR_BODY_LIMIT: usize = 64 * 1024;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::tests::Chunks;
    use crate::{BytesBody, GraphError};
    use bytes::Bytes;
    use http::{Request, Response};
    use http_body::Body;
    use http_body_util::{BodyExt, Full};
    use tower::{service_fn, BoxError, Layer, ServiceExt};

    async fn classify<B: BytesBody>(status: u16, body: B, limit: usize) -> Response<GraphBody<B>> {
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

    #[tokio::test]
    async fn usage_headers_are_read_into_the_extensions() {
        let svc = service_fn(|_: Request<()>| async {
            let mut res = Response::new(Full::new(Bytes::new()));
            res.headers_mut().insert(
                "x-app-usage",
                r#"{"call_count":91,"total_time":10,"total_cputime":3}"#
                    .parse()
                    .unwrap(),
            );
            Ok::<_, BoxError>(res)
        });
        let res = ClassifyLayer::new()
            .usage_warning(90.0)
            .layer(svc)
            .oneshot(Request::new(()))
            .await
            .unwrap();
        let usage = res.extensions().get::<crate::Usage>().unwrap();
        assert_eq!(usage.max_percent(), 91.0);
        assert!(res.headers().contains_key("x-app-usage"), "left in place");
    }

    /// A 1 MiB error body, sent 1000 bytes at a time, that counts what is
    /// pulled from it. Finite, so a classifier that reads it whole fails
    /// the assertion below rather than the machine.
    struct Long(std::sync::Arc<std::sync::atomic::AtomicUsize>);

    impl Body for Long {
        type Data = Bytes;
        type Error = std::convert::Infallible;
        fn poll_frame(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
            use std::sync::atomic::Ordering::SeqCst;
            if self.0.load(SeqCst) >= 1 << 20 {
                return std::task::Poll::Ready(None);
            }
            self.0.fetch_add(1000, SeqCst);
            let chunk = Bytes::from(vec![b'x'; 1000]);
            std::task::Poll::Ready(Some(Ok(http_body::Frame::data(chunk))))
        }
    }

    #[tokio::test]
    async fn error_bodies_are_read_only_up_to_the_limit() {
        let pulled = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let res = classify(500, Long(pulled.clone()), 4096).await;
        // The response came back with the rest unread: 4 KiB and one chunk.
        let read = pulled.load(std::sync::atomic::Ordering::SeqCst);
        assert!(read <= 4096 + 1000, "{read} bytes read");
        assert!(res.extensions().get::<GraphError>().is_none());
    }
}
