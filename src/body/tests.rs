use super::*;
use bytes::Bytes;
use http::Request;
use http_body::{Body, Frame};
use http_body_util::BodyExt;
use http_body_util::Full;
use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};
use tower::BoxError;

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

#[tokio::test]
async fn a_streamed_request_says_it_cannot_be_replayed_and_why() {
    let req = buffer(chunks(&[b"abc", b"def"]), 4).await;
    assert_eq!(
        req.extensions().get::<NotReplayable>(),
        Some(&NotReplayable { limit: 4 })
    );
    let req = buffer(chunks(&[b"abc"]), 4).await;
    assert!(req.extensions().get::<NotReplayable>().is_none());
}

#[test]
fn replay_bodies_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<ReplayBody>();
}

/// Polls `body` to its end and checks the `Body` contract against what it
/// yields: `size_hint` brackets the bytes still to come (and is exact where
/// `exact`), `is_end_stream` is never true before a frame and is true at
/// the end, and the data and trailers are `data` and `trailers`.
pub(crate) fn assert_body_contract<B>(mut body: B, data: &[u8], trailers: bool, exact: bool)
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Debug,
{
    let mut cx = Context::from_waker(std::task::Waker::noop());
    let mut left = data.len() as u64;
    let (mut seen, mut seen_trailers) = (Vec::new(), false);
    loop {
        let hint = body.size_hint();
        assert!(hint.lower() <= left, "lower {} > {left} left", hint.lower());
        assert!(
            hint.upper().is_none_or(|u| u >= left),
            "{hint:?}, {left} left"
        );
        if exact {
            assert_eq!(hint.exact(), Some(left), "{hint:?}");
        }
        let end = body.is_end_stream();
        match Pin::new(&mut body).poll_frame(&mut cx) {
            Poll::Ready(Some(Ok(frame))) => {
                assert!(!end, "is_end_stream was true before a frame");
                match frame.into_data() {
                    Ok(chunk) => {
                        left -= chunk.len() as u64;
                        seen.extend_from_slice(&chunk);
                    }
                    Err(frame) => seen_trailers = frame.is_trailers(),
                }
            }
            Poll::Ready(None) => break,
            other => panic!("{other:?}"),
        }
    }
    assert!(body.is_end_stream(), "is_end_stream is false at the end");
    assert_eq!(seen, data);
    assert_eq!(seen_trailers, trailers);
}

fn trailers() -> Box<http::HeaderMap> {
    let mut map = http::HeaderMap::new();
    map.insert("grpc-status", "0".parse().unwrap());
    Box::new(map)
}

#[test]
fn replay_bodies_keep_the_body_contract_in_every_form() {
    let hello = Bytes::from_static(b"hello");
    assert_body_contract(ReplayBody::from("hello"), b"hello", false, true);
    assert_body_contract(ReplayBody::from(b"hello".to_vec()), b"hello", false, true);
    assert_body_contract(
        ReplayBody::from(String::from("hello")),
        b"hello",
        false,
        true,
    );
    assert_body_contract(ReplayBody::from(hello.clone()), b"hello", false, true);
    assert_body_contract(ReplayBody::empty(), b"", false, true);
    assert_body_contract(ReplayBody::default(), b"", false, true);
    assert_body_contract(
        ReplayBody::full(hello.clone(), Some(trailers())),
        b"hello",
        true,
        true,
    );
    assert_body_contract(
        ReplayBody::full(Bytes::new(), Some(trailers())),
        b"",
        true,
        true,
    );
    // Streaming: chunks read ahead, then the rest (of known size here).
    let resumed = |prefix: &[&'static [u8]], rest: &'static [u8]| {
        let prefix = prefix.iter().map(|p| Bytes::from_static(p)).collect();
        ReplayBody::resumed(prefix, Full::new(Bytes::from_static(rest)))
    };
    assert_body_contract(resumed(&[b"ab"], b"cde"), b"abcde", false, true);
    assert_body_contract(resumed(&[b"ab", b"c"], b""), b"abc", false, true);
    assert_body_contract(resumed(&[], b"cde"), b"cde", false, true);
    assert_body_contract(resumed(&[], b""), b"", false, true);
    // A rest of unknown size: the hint is a lower bound only.
    let unknown = ReplayBody::resumed(VecDeque::from([hello]), chunks(&[b" ", b"world"]));
    assert_eq!(unknown.size_hint().lower(), 5);
    assert_eq!(unknown.size_hint().upper(), None);
}

/// Debug output says what kind of body and how long, never its contents
/// (a message body is customer data).
#[test]
fn replay_bodies_debug_without_contents() {
    let full = ReplayBody::from("a customer's message");
    assert_eq!(format!("{full:?}"), "ReplayBody::Full { len: 20 }");
    let streaming = ReplayBody::streaming(Full::new(Bytes::from_static(b"secret")));
    assert_eq!(format!("{streaming:?}"), "ReplayBody::Streaming");
}

/// A complete body without trailers comes out as the same bytes; anything
/// else comes back as it was.
#[test]
fn into_bytes_gives_the_buffered_bytes_or_the_body_back() {
    let data = Bytes::from_static(b"hello");
    let out = ReplayBody::from(data.clone()).into_bytes().unwrap();
    assert_eq!((out.as_ptr(), out.len()), (data.as_ptr(), 5), "not copied");
    let with_trailers = ReplayBody::full(data.clone(), Some(trailers()));
    let back = with_trailers.into_bytes().unwrap_err();
    assert_body_contract(back, b"hello", true, true);
    let streaming = ReplayBody::streaming(Full::new(data));
    assert!(!streaming.into_bytes().unwrap_err().is_replayable());
}

/// The documented default: bodies up to 1 MiB are kept for a replay.
#[tokio::test]
async fn the_default_limit_keeps_bodies_up_to_one_mebibyte() {
    let at = buffer(Full::new(Bytes::from(vec![0; 1 << 20])), DEFAULT_BODY_LIMIT).await;
    assert!(at.body().is_replayable());
    let over = buffer(
        Full::new(Bytes::from(vec![0; (1 << 20) + 1])),
        DEFAULT_BODY_LIMIT,
    )
    .await;
    assert!(!over.body().is_replayable());
}

/// Empty data frames are skipped: a body of one real chunk is still kept
/// without a copy.
#[tokio::test]
async fn empty_chunks_do_not_force_a_copy() {
    let data = Bytes::from_static(b"hello");
    let body = Chunks(VecDeque::from([Bytes::new(), data.clone(), Bytes::new()]));
    let req = buffer(body, 1024).await;
    assert_eq!(req.body().as_bytes().unwrap().as_ptr(), data.as_ptr());
}

/// A body that declares an upper size and yields `chunks`.
struct Declared {
    chunks: VecDeque<Bytes>,
    upper: u64,
}

impl Body for Declared {
    type Data = Bytes;
    type Error = std::convert::Infallible;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Poll::Ready(self.chunks.pop_front().map(|c| Ok(Frame::data(c))))
    }
    fn size_hint(&self) -> http_body::SizeHint {
        let mut hint = http_body::SizeHint::new();
        hint.set_upper(self.upper);
        hint
    }
}

/// A body read in place (its declared size is within the limit) may be
/// exactly at the limit; one that yields more than it declared is an error,
/// not a silently grown buffer.
#[tokio::test]
async fn bodies_read_in_place_are_held_to_their_declared_size() {
    let declared = |chunks: &[&'static [u8]], upper| Declared {
        chunks: chunks.iter().map(|c| Bytes::from_static(c)).collect(),
        upper,
    };
    let at = BufferRequest::new(Request::new(declared(&[b"he", b"llo"], 5)), 5)
        .await
        .unwrap();
    assert_eq!(at.body().as_bytes().unwrap(), "hello");
    let lying = BufferRequest::new(Request::new(declared(&[b"he", b"llo"], 3)), 4).await;
    let err = lying.unwrap_err();
    assert!(
        err.to_string().contains("larger than its declared size"),
        "{err}"
    );
}

/// A replay copy is the same request: method, URI, version, headers and
/// extensions, and the same body bytes (shared, not copied). A streaming
/// body has no copy.
#[test]
fn copies_for_replay_are_the_same_request_sharing_the_bytes() {
    let data = Bytes::from_static(b"{\"to\":\"1\"}");
    let mut req = Request::post("https://graph.facebook.com/v25.0/1/messages")
        .version(http::Version::HTTP_2)
        .header("content-type", "application/json")
        .body(ReplayBody::from(data.clone()))
        .unwrap();
    req.extensions_mut().insert(NotReplayable { limit: 7 });
    let mut slot = None;
    copy_request_into(&req, &mut slot);
    let copy = slot.unwrap();
    assert_eq!(copy.method(), req.method());
    assert_eq!(copy.uri(), req.uri());
    assert_eq!(copy.version(), http::Version::HTTP_2);
    assert_eq!(copy.headers(), req.headers());
    assert_eq!(
        copy.extensions().get::<NotReplayable>(),
        Some(&NotReplayable { limit: 7 })
    );
    assert_eq!(copy.body().as_bytes().unwrap().as_ptr(), data.as_ptr());
    // A streaming body has none, and an earlier copy in the slot goes.
    let streaming = Request::new(ReplayBody::streaming(Full::new(data)));
    let mut slot = Some(copy);
    copy_request_into(&streaming, &mut slot);
    assert!(slot.is_none());
}

/// The layer's limit is the one it was given, and it is ready exactly when
/// the service it wraps is.
#[tokio::test]
async fn the_layer_applies_its_limit_and_passes_readiness_through() {
    use tower::{Layer, Service, ServiceExt};
    let echo = tower::service_fn(|req: Request<ReplayBody>| async move {
        Ok::<_, BoxError>(req.extensions().get::<NotReplayable>().copied())
    });
    let svc = BufferBodyLayer::new().limit(4).layer(echo);
    let seen = svc
        .oneshot(Request::new(chunks(&[b"abc", b"def"])))
        .await
        .unwrap();
    assert_eq!(seen, Some(NotReplayable { limit: 4 }));

    #[derive(Clone)]
    struct Refusing;
    impl Service<Request<ReplayBody>> for Refusing {
        type Response = ();
        type Error = BoxError;
        type Future = std::future::Ready<Result<(), BoxError>>;
        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
            Poll::Ready(Err("inner not ready".into()))
        }
        fn call(&mut self, _: Request<ReplayBody>) -> Self::Future {
            std::future::ready(Ok(()))
        }
    }
    let mut svc = BufferBodyLayer::new().layer(Refusing);
    let mut cx = Context::from_waker(std::task::Waker::noop());
    let ready = Service::<Request<Full<Bytes>>>::poll_ready(&mut svc, &mut cx);
    assert!(matches!(ready, Poll::Ready(Err(e)) if e.to_string() == "inner not ready"));

    // An inner service with no capacity yet: not ready either.
    let mut svc = BufferBodyLayer::new().layer(tower::limit::ConcurrencyLimit::new(echo, 1));
    let mut held = svc.clone();
    assert!(Service::<Request<Full<Bytes>>>::poll_ready(&mut held, &mut cx).is_ready());
    let ready = Service::<Request<Full<Bytes>>>::poll_ready(&mut svc, &mut cx);
    assert!(ready.is_pending(), "the only permit is held");
}
