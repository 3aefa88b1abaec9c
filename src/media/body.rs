//! [`MediaBody`]: the body of media requests.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty};
use tower::BoxError;

/// The request body media calls send: empty, or an upload's multipart
/// form, streamed. A type of its own (not a `BoxBody` alias): a boxed
/// error type in a service's request type made futures over it fail the
/// compiler's `Send` check.
pub struct MediaBody(BoxBody<Bytes, BoxError>);

impl MediaBody {
    /// `body` as a media body.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use http_body_util::Full;
    /// use tower_whatsapp_auth::media::MediaBody;
    /// let body = MediaBody::new(Full::new(Bytes::from_static(b"%PDF-1.4")));
    /// assert_eq!(http_body::Body::size_hint(&body).exact(), Some(8));
    /// ```
    pub fn new<B>(body: B) -> MediaBody
    where
        B: Body<Data = Bytes> + Send + Sync + 'static,
        B::Error: Into<BoxError>,
    {
        MediaBody(body.map_err(Into::into).boxed())
    }

    /// An empty body.
    pub fn empty() -> MediaBody {
        MediaBody::new(Empty::<Bytes>::new())
    }
}

impl std::fmt::Debug for MediaBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaBody")
            .field("size_hint", &self.0.size_hint())
            .finish()
    }
}

impl Body for MediaBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        Pin::new(&mut self.0).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.0.size_hint()
    }
}
