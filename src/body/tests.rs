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
