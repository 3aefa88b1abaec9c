//! [`Classify`]: read Graph error bodies once, so every layer above sees a
//! typed [`GraphError`](crate::graph::GraphError) in the response extensions.
//!
//! For responses with a status of 400 or more, the body is read up to a limit
//! (default 64 KiB) and parsed. When it is a Graph error, a [`GraphError`](crate::graph::GraphError) is
//! put in the response extensions. Either way the caller gets the response
//! with every byte of its body: the part read is handed back first, then the
//! unread rest. Success responses are not touched at all.
//!
//! ```
//! use bytes::Bytes;
//! use http::{Request, Response, StatusCode};
//! use http_body_util::{BodyExt, Full};
//! use tower::{service_fn, ServiceBuilder, ServiceExt};
//! use tower_whatsapp_auth::{classify::ClassifyLayer, graph::{ErrorKind, GraphError}};
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
    use crate::body::BytesBody;
    use crate::graph::GraphError;
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

    /// Log lines written while a test runs on this thread.
    #[derive(Clone, Default)]
    struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
        type Writer = Captured;
        fn make_writer(&'a self) -> Captured {
            self.clone()
        }
    }

    /// Either usage header is read into the extensions (and left in place);
    /// a warning is logged from `usage_warning` percent up, not below.
    #[tokio::test]
    async fn usage_headers_are_read_into_the_extensions_and_warned_about() {
        let app = |n: u32| format!(r#"{{"call_count":{n},"total_time":10,"total_cputime":3}}"#);
        let business = |n: u32| {
            format!(
                r#"{{"1":[{{"type":"messaging","call_count":{n},"total_cputime":1,"total_time":1,"estimated_time_to_regain_access":0}}]}}"#
            )
        };
        let cases = [
            ("x-app-usage", app(91), 91.0, true),
            ("x-app-usage", app(90), 90.0, true),
            ("x-app-usage", app(89), 89.0, false),
            ("x-business-use-case-usage", business(95), 95.0, true),
            ("x-business-use-case-usage", business(10), 10.0, false),
        ];
        for (header, value, percent, warned) in cases {
            let captured = Captured::default();
            let subscriber = tracing_subscriber::fmt()
                .with_writer(captured.clone())
                .with_ansi(false)
                .finish();
            let _guard = tracing::subscriber::set_default(subscriber);
            let svc = service_fn(move |_: Request<()>| {
                let value = value.clone();
                async move {
                    let mut res = Response::new(Full::new(Bytes::new()));
                    res.headers_mut().insert(header, value.parse().unwrap());
                    Ok::<_, BoxError>(res)
                }
            });
            let res = ClassifyLayer::new()
                .usage_warning(90.0)
                .layer(svc)
                .oneshot(Request::new(()))
                .await
                .unwrap();
            let usage = res.extensions().get::<crate::graph::usage::Usage>();
            assert_eq!(usage.map(|u| u.max_percent()), Some(percent), "{header}");
            assert!(res.headers().contains_key(header), "left in place");
            let logged = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
            assert_eq!(
                logged.contains("Graph usage is high"),
                warned,
                "{header} {percent}: {logged}"
            );
        }
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
        let limit = DEFAULT_ERROR_BODY_LIMIT;
        let res = classify(500, Long(pulled.clone()), limit).await;
        // The response came back with the rest unread: the limit (64 KiB)
        // and at most one chunk more, not less (it tried to read that much).
        let read = pulled.load(std::sync::atomic::Ordering::SeqCst);
        assert!((limit..=limit + 1000).contains(&read), "{read} bytes read");
        assert!(res.extensions().get::<GraphError>().is_none());
    }

    #[test]
    fn graph_bodies_keep_the_body_contract_in_every_form() {
        use crate::body::tests::assert_body_contract;
        use std::collections::VecDeque;
        type Rest = Full<Bytes>;
        let hello = Bytes::from_static(b"hello");
        let mut trailers = http::HeaderMap::new();
        trailers.insert("x-end", "1".parse().unwrap());
        let buffered = |data: &Bytes, t: Option<http::HeaderMap>| {
            GraphBody::<Rest>::buffered(data.clone(), t.map(Box::new))
        };
        assert_body_contract(buffered(&hello, None), b"hello", false, true);
        assert_body_contract(buffered(&Bytes::new(), None), b"", false, true);
        assert_body_contract(
            buffered(&hello, Some(trailers.clone())),
            b"hello",
            true,
            true,
        );
        assert_body_contract(buffered(&Bytes::new(), Some(trailers)), b"", true, true);
        let prefixed = |prefix: &[&'static [u8]], rest: &'static [u8]| {
            let prefix: VecDeque<Bytes> = prefix.iter().map(|p| Bytes::from_static(p)).collect();
            GraphBody::prefixed(prefix, Box::pin(Full::new(Bytes::from_static(rest))))
        };
        assert_body_contract(prefixed(&[b"ab"], b"cde"), b"abcde", false, true);
        assert_body_contract(prefixed(&[b"ab", b"c"], b""), b"abc", false, true);
        assert_body_contract(prefixed(&[], b"cde"), b"cde", false, true);
        let passthrough = GraphBody::passthrough(Full::new(hello.clone()));
        assert_body_contract(passthrough, b"hello", false, true);
        // Only a body read whole has its bytes at hand.
        assert_eq!(buffered(&hello, None).buffered_bytes(), Some(&hello));
        assert_eq!(prefixed(&[b"ab"], b"c").buffered_bytes(), None);
        assert_eq!(
            GraphBody::passthrough(Full::new(hello)).buffered_bytes(),
            None
        );
    }

    /// Every response moves up through each layer's future: the wrapper
    /// adds a tag (8 bytes) to the inner body and no more, as what only an
    /// error answer needs is boxed. For a body of no size the response then
    /// fits in 128 bytes, which compilers copy inline rather than by call.
    #[test]
    fn the_response_body_wrapper_adds_only_a_tag() {
        use std::mem::size_of;
        type Empty = http_body_util::Empty<Bytes>;
        assert!(size_of::<GraphBody<Full<Bytes>>>() <= size_of::<Full<Bytes>>() + 8);
        assert!(size_of::<GraphBody<Empty>>() <= 16);
        let bare = size_of::<Response<Empty>>();
        assert!(size_of::<Response<GraphBody<Empty>>>() <= bare + 16);
        assert!(size_of::<Response<GraphBody<Empty>>>() <= 128);
    }

    /// Debug output says which kind and how long, never the contents.
    #[test]
    fn graph_bodies_debug_without_contents() {
        use std::collections::VecDeque;
        let body = GraphBody::<Full<Bytes>>::buffered(Bytes::from_static(b"{}"), None);
        assert_eq!(format!("{body:?}"), "GraphBody::Buffered { len: 2 }");
        let body = GraphBody::prefixed(VecDeque::new(), Box::pin(Full::new(Bytes::new())));
        assert_eq!(format!("{body:?}"), "GraphBody::Prefixed");
    }
}
