//! Bodies the caller already holds whole (`Full<Bytes>`, `Empty<Bytes>`,
//! `ReplayBody`, `String`, `Bytes`) become a [`ReplayBody`] at once, with no
//! buffering state and no copy: only streaming bodies are read first. The
//! buffer limit holds for them too: one larger than it is sent once, like a
//! streaming body past the limit, so that `body_limit` bounds what the stack
//! keeps alive for replays whatever the body type.

use std::any::Any;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use http::{Extensions, Request};
use http_body::Body;
use http_body_util::{Empty, Full};

use super::{NotReplayable, ReplayBody};

/// A request whose body is ready to send, or one to read first.
pub(crate) enum Prepared<B> {
    Complete(Request<ReplayBody>),
    Streaming(Request<B>),
}

/// `req` with its body as a [`ReplayBody`] when the body is one of the
/// complete kinds; `req` unchanged otherwise.
pub(crate) fn complete<B: Any>(req: Request<B>, limit: usize) -> Prepared<B> {
    let (mut parts, body) = req.into_parts();
    match complete_body(body) {
        Ok(body) => {
            let body = within_limit(body, &mut parts.extensions, limit);
            Prepared::Complete(Request::from_parts(parts, body))
        }
        Err(body) => Prepared::Streaming(Request::from_parts(parts, body)),
    }
}

/// `body` as a [`ReplayBody`] when it is one of the complete kinds, or
/// back unchanged. Only the body moves, so a caller that splits its request
/// moves the head once.
#[inline]
pub(crate) fn complete_body<B: Any>(body: B) -> Result<ReplayBody, B> {
    let mut slot = Some(body);
    let any: &mut dyn Any = &mut slot;
    let done = if let Some(body) = any.downcast_mut::<Option<ReplayBody>>() {
        body.take()
    } else if let Some(body) = any.downcast_mut::<Option<Full<Bytes>>>() {
        body.take().map(|full| ReplayBody::from(full_bytes(full)))
    } else if any.downcast_mut::<Option<Empty<Bytes>>>().is_some() {
        Some(ReplayBody::empty())
    } else if let Some(body) = any.downcast_mut::<Option<Bytes>>() {
        body.take().map(ReplayBody::from)
    } else if let Some(body) = any.downcast_mut::<Option<String>>() {
        body.take().map(ReplayBody::from)
    } else {
        None
    };
    match (done, slot) {
        (Some(body), _) => Ok(body),
        (None, Some(body)) => Err(body),
        (None, None) => unreachable!("a body is taken only when converted"),
    }
}

/// `body`, or, when it is larger than `limit`, the same bytes as a body
/// sent once (marked with [`NotReplayable`] in `extensions`), so that the
/// limit bounds what is kept alive for replays whatever the body type.
#[inline]
pub(crate) fn within_limit(
    body: ReplayBody,
    extensions: &mut Extensions,
    limit: usize,
) -> ReplayBody {
    if body.as_bytes().is_some_and(|b| b.len() > limit) {
        extensions.insert(NotReplayable { limit });
        return ReplayBody::streaming(body);
    }
    body
}

/// The bytes of a `Full`: it yields them in its first frame, at once.
#[inline]
fn full_bytes(mut full: Full<Bytes>) -> Bytes {
    let mut cx = Context::from_waker(Waker::noop());
    match Pin::new(&mut full).poll_frame(&mut cx) {
        Poll::Ready(Some(Ok(frame))) => frame.into_data().unwrap_or_default(),
        _ => Bytes::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl<B> Prepared<B> {
        fn unwrap(self) -> Request<ReplayBody> {
            match self {
                Prepared::Complete(req) => req,
                Prepared::Streaming(_) => panic!("not complete"),
            }
        }

        fn unwrap_err(self) -> Request<B> {
            match self {
                Prepared::Complete(_) => panic!("complete"),
                Prepared::Streaming(req) => req,
            }
        }
    }
    use http_body_util::BodyExt;

    #[test]
    fn complete_bodies_convert_without_copying() {
        let data = Bytes::from_static(b"{\"to\":\"1\"}");
        let req = complete(Request::new(Full::new(data.clone())), 64).unwrap();
        assert_eq!(req.body().as_bytes().unwrap().as_ptr(), data.as_ptr());
        assert!(req.body().is_replayable());
        let req = complete(Request::new(ReplayBody::from(data.clone())), 64).unwrap();
        assert_eq!(req.body().as_bytes().unwrap().as_ptr(), data.as_ptr());
        let req = complete(Request::new(Empty::<Bytes>::new()), 64).unwrap();
        assert!(req.body().is_end_stream());
        let req = complete(Request::new(String::from("abc")), 64).unwrap();
        assert_eq!(req.body().as_bytes().unwrap(), "abc");
        let req = complete(Request::new(Full::new(Bytes::new())), 0).unwrap();
        assert!(req.body().is_end_stream());
        // At the limit exactly: still kept for replay.
        let req = complete(Request::new(Full::new(data.clone())), data.len()).unwrap();
        assert!(req.body().is_replayable());
        assert!(req.extensions().get::<NotReplayable>().is_none());
    }

    #[tokio::test]
    async fn complete_bodies_over_the_limit_are_sent_once_whole() {
        let data = Bytes::from(vec![7u8; 100]);
        let req = complete(Request::new(Full::new(data.clone())), 10).unwrap();
        assert!(!req.body().is_replayable());
        assert_eq!(
            req.extensions().get::<NotReplayable>(),
            Some(&NotReplayable { limit: 10 })
        );
        assert_eq!(req.into_body().collect().await.unwrap().to_bytes(), data);
    }

    #[tokio::test]
    async fn other_bodies_are_handed_back_untouched() {
        let body = Full::new(Bytes::from_static(b"x")).map_err(|e| match e {});
        let req = Request::post("/x").body(body).unwrap();
        let back = complete(req, 64).unwrap_err();
        assert_eq!(back.method(), "POST");
        let bytes = back.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(bytes, "x");
    }
}
