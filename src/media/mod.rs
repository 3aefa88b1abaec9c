//! Media with the right token: `GET /{media-id}`, the download of the URL
//! it answers (on `lookaside.fbsbx.com`, with the same stack, so the same
//! business's token), uploads and deletes.
//!
//! [`Media`] wraps the stack a user holds (one-token or tenant-aware): each
//! call is a request through it, so the token, its renewal on a 190 and
//! the [host rule](crate::WhatsAppAuthLayer::media_host) apply as to any
//! other call. A download streams: no whole-file buffer, the SHA-256
//! Graph gave checked as the bytes pass, a size cap, an idle timeout, and
//! a URL that has expired or is refused retrieved afresh once (Meta: the
//! URL "is only valid for 5 minutes"). [`Download::to_file`] leaves no
//! partial file behind on any failure.
//!
//! ```
//! use bytes::Bytes;
//! use http::{Request, Response};
//! use http_body_util::Full;
//! use tower::service_fn;
//! use tower_whatsapp_auth::media::{Media, MediaBody};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), tower_whatsapp_auth::media::MediaError> {
//! // A stand-in for the stack: Graph's node, then the media host's file.
//! let stack = service_fn(|req: Request<MediaBody>| async move {
//!     let body = if req.uri().path() == "/1037543291543636" {
//!         r#"{"messaging_product":"whatsapp","url":"https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1","mime_type":"text/plain","sha256":"2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824","file_size":"5","id":"1037543291543636"}"#
//!     } else {
//!         "hello"
//!     };
//!     Ok::<_, tower::BoxError>(Response::new(Full::new(Bytes::from(body))))
//! });
//! let media = Media::new(stack);
//! let mut download = media.download("1037543291543636").await?;
//! assert_eq!(download.info().file_size, 5);
//! let mut got = Vec::new();
//! while let Some(chunk) = download.chunk().await? {
//!     got.extend_from_slice(&chunk);
//! }
//! assert_eq!(got, b"hello");
//! # Ok(()) }
//! ```

use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body::Body;
use http_body_util::BodyExt;
use tower::{BoxError, ServiceExt};
use tower_service::Service;

mod body;
mod digest;
mod download;
mod error;
mod info;
mod types;
mod upload;

pub use body::MediaBody;
pub use download::{Download, Downloaded};
pub use error::MediaError;
pub use info::MediaInfo;
pub use types::{MediaKind, MAX_MEDIA_SIZE};
pub use upload::{FileSource, OpenedUpload, UploadSource};

use crate::bounds::BoxFuture;
#[cfg(feature = "tenants")]
use crate::tenants::TenantId;

/// Largest answer from Graph's media node (JSON of a few hundred bytes).
const INFO_LIMIT: usize = 64 * 1024;

/// A media client over `S`, the stack (or any service taking
/// [`MediaBody`] requests). Cheap to clone.
#[derive(Clone, Debug)]
pub struct Media<S> {
    service: S,
    phone_number_id: Option<String>,
    max_size: u64,
    idle_timeout: Duration,
}

impl<S> Media<S> {
    /// Media calls through `service`: downloads capped at
    /// [`MAX_MEDIA_SIZE`], 30 s without a byte fails a download.
    pub fn new(service: S) -> Media<S> {
        Media {
            service,
            phone_number_id: None,
            max_size: MAX_MEDIA_SIZE,
            idle_timeout: Duration::from_secs(30),
        }
    }

    /// The phone number the media belongs to: `GET` and `DELETE` of a
    /// media id then carry `?phone_number_id=` (Graph "checks to make sure
    /// the media belongs to the phone number"), uploads go to its
    /// `/{phone-number-id}/media`, and every request names it as its
    /// [`TenantId`], so the tenant-aware stack sends each with that
    /// business's token, the download of the URL included.
    pub fn phone_number_id(mut self, id: impl Into<String>) -> Self {
        self.phone_number_id = Some(id.into());
        self
    }

    /// The largest download accepted (default [`MAX_MEDIA_SIZE`]).
    pub fn max_size(mut self, bytes: u64) -> Self {
        self.max_size = bytes;
        self
    }

    /// How long a download may go without a byte before it fails with
    /// [`MediaError::Stalled`] (default 30 s): waiting for Graph's info,
    /// for the media host's answer, and between chunks of the file.
    /// Uploads are bounded by the stack's own timeout layer, if any: one
    /// here would cut a large file mid-send.
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.service
    }

    /// Unwraps the service.
    pub fn into_inner(self) -> S {
        self.service
    }

    /// A request to `uri` with `body`, naming the tenant when one is set.
    fn request(
        &self,
        method: Method,
        uri: &str,
        body: MediaBody,
    ) -> Result<Request<MediaBody>, MediaError> {
        #[cfg_attr(not(feature = "tenants"), allow(unused_mut))]
        let mut req = Request::builder()
            .method(method)
            .uri(uri)
            .body(body)
            .map_err(|e| MediaError::Config(format!("not a URL: {e}")))?;
        // The tenant-aware stack picks the business's token by this.
        #[cfg(feature = "tenants")]
        if let Some(id) = &self.phone_number_id {
            req.extensions_mut().insert(TenantId::new(id));
        }
        Ok(req)
    }

    /// `/{media-id}`, with `?phone_number_id=` when set.
    fn node(&self, media_id: &str) -> Result<String, MediaError> {
        if media_id.is_empty() || !media_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(MediaError::Config(format!(
                "{media_id:?} is not a media id (Graph's are digits)"
            )));
        }
        Ok(match &self.phone_number_id {
            Some(phone) => format!("/{media_id}?phone_number_id={}", info::query_value(phone)),
            None => format!("/{media_id}"),
        })
    }
}

impl<S, ResB> Media<S>
where
    S: Service<Request<MediaBody>, Response = Response<ResB>> + Clone + Send + Sync + 'static,
    S::Future: Send,
    S::Error: Into<BoxError>,
    ResB: Body<Data = Bytes> + Send + 'static,
    ResB::Error: Into<BoxError>,
{
    /// Sends `req`; a refusal that the stack passed up, or a Graph error
    /// on the answer, is an error.
    async fn send(&self, req: Request<MediaBody>) -> Result<Response<ResB>, MediaError> {
        self.service
            .clone()
            .oneshot(req)
            .await
            .map_err(|e| MediaError::from_box(e.into()))
    }

    /// [`send`](Self::send), failing with [`MediaError::Stalled`] when no
    /// answer's head arrives within the idle timeout: a host that accepts
    /// the connection and never answers must not hang the download.
    async fn send_within(&self, req: Request<MediaBody>) -> Result<Response<ResB>, MediaError> {
        tokio::time::timeout(self.idle_timeout, self.send(req))
            .await
            .map_err(|_| MediaError::Stalled(self.idle_timeout))?
    }

    /// A Graph call answered with JSON: its bytes, or the Graph error.
    async fn graph_json(
        &self,
        method: Method,
        uri: &str,
        body: MediaBody,
    ) -> Result<Bytes, MediaError> {
        self.graph_json_req(self.request(method, uri, body)?).await
    }

    /// `GET /{media-id}`: the download URL (valid about 5 minutes), MIME
    /// type, SHA-256 and size.
    pub fn info(&self, media_id: &str) -> BoxFuture<'static, Result<MediaInfo, MediaError>> {
        Box::pin(self.clone().info_owned(media_id.to_owned()))
    }

    async fn info_owned(self, media_id: String) -> Result<MediaInfo, MediaError> {
        self.info_of(&media_id).await
    }

    async fn info_of(&self, media_id: &str) -> Result<MediaInfo, MediaError> {
        let uri = self.node(media_id)?;
        let req = self.request(Method::GET, &uri, empty())?;
        let bytes = tokio::time::timeout(self.idle_timeout, self.graph_json_req(req))
            .await
            .map_err(|_| MediaError::Stalled(self.idle_timeout))??;
        MediaInfo::parse(&bytes)
    }

    /// `DELETE /{media-id}`: Graph answers `{"success": true}`.
    pub fn delete(&self, media_id: &str) -> BoxFuture<'static, Result<(), MediaError>> {
        Box::pin(self.clone().delete_owned(media_id.to_owned()))
    }

    async fn delete_owned(self, media_id: String) -> Result<(), MediaError> {
        let uri = self.node(&media_id)?;
        let bytes = self.graph_json(Method::DELETE, &uri, empty()).await?;
        info::deleted(&bytes)
    }

    /// Starts the download of `media_id`: its info, then the file's
    /// answer, whose body [`Download`] streams and checks. A URL that
    /// has expired or is refused (401, 403, 404, 410) is retrieved afresh
    /// once.
    pub fn download(
        &self,
        media_id: &str,
    ) -> BoxFuture<'static, Result<Download<ResB>, MediaError>> {
        Box::pin(self.clone().download_owned(media_id.to_owned()))
    }

    async fn download_owned(self, media_id: String) -> Result<Download<ResB>, MediaError> {
        let mut info = self.info_of(&media_id).await?;
        let mut fresh = false;
        loop {
            if info.file_size > self.max_size {
                return Err(MediaError::TooLarge {
                    size: info.file_size,
                    limit: self.max_size,
                });
            }
            let res = self
                .send_within(self.request(Method::GET, &info.url, empty())?)
                .await?;
            let status = res.status();
            if status.is_success() {
                return Download::start(info, res, self.max_size, self.idle_timeout);
            }
            // The host failing (5xx) or pacing (429) says nothing of the
            // URL: the caller may try again later.
            if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
                return Err(MediaError::Unavailable {
                    status: status.as_u16(),
                });
            }
            if fresh || !url_refused(status) {
                return Err(MediaError::Refused {
                    status: status.as_u16(),
                    retrieved_afresh: fresh,
                });
            }
            // Expired (Meta: valid for 5 minutes) or refused: ask again.
            fresh = true;
            info = self.info_of(&media_id).await?;
        }
    }

    /// Downloads `media_id` into `path`: the file appears whole, checked,
    /// or not at all.
    pub fn download_to(
        &self,
        media_id: &str,
        path: impl AsRef<std::path::Path>,
    ) -> BoxFuture<'static, Result<Downloaded, MediaError>> {
        let download = self.download(media_id);
        let path = path.as_ref().to_owned();
        Box::pin(async move { download.await?.to_file(path).await })
    }

    /// Uploads `source` as `mime` to `POST /{phone-number-id}/media`
    /// (multipart: `messaging_product`, `type`, `file`), streamed; gives
    /// the new media id. The type and size are checked against Meta's
    /// limits before anything is sent. Refused with a 190 (the token
    /// expired), the source is opened again and sent once more, with the
    /// renewed token.
    pub fn upload<'a>(
        &self,
        source: &'a dyn UploadSource,
        mime: &str,
    ) -> BoxFuture<'a, Result<String, MediaError>> {
        Box::pin(self.clone().upload_owned(source, mime.to_owned()))
    }

    async fn upload_owned(
        self,
        source: &dyn UploadSource,
        mime: String,
    ) -> Result<String, MediaError> {
        let mime = mime.as_str();
        let phone = self.phone_number_id.as_deref().ok_or_else(|| {
            MediaError::Config(
                "an upload needs the phone number id (Media::phone_number_id)".into(),
            )
        })?;
        let uri = format!("/{phone}/media");
        let mut sent_again = false;
        loop {
            let opened = source.open().await?;
            types::check_upload(mime, opened.len).map_err(MediaError::Unsupported)?;
            let (content_type, body) = upload::multipart(mime, opened);
            let mut req = self.request(Method::POST, &uri, body)?;
            req.headers_mut()
                .insert(http::header::CONTENT_TYPE, content_type);
            match self.graph_json_req(req).await {
                Ok(bytes) => return info::uploaded(&bytes),
                Err(err) if !sent_again && err.token_refused() => sent_again = true,
                Err(err) => return Err(err),
            }
        }
    }

    /// [`graph_json`](Self::graph_json) of a request built already.
    async fn graph_json_req(&self, req: Request<MediaBody>) -> Result<Bytes, MediaError> {
        let res = self.send(req).await?;
        let (parts, body) = res.into_parts();
        if let Some(graph) = parts.extensions.get::<crate::graph::GraphError>() {
            return Err(MediaError::Graph(graph.clone()));
        }
        let bytes = http_body_util::Limited::new(body, INFO_LIMIT)
            .collect()
            .await
            .map_err(MediaError::Body)?
            .to_bytes();
        if !parts.status.is_success() {
            return Err(MediaError::Malformed(format!(
                "HTTP {} without a Graph error",
                parts.status.as_u16()
            )));
        }
        Ok(bytes)
    }
}

/// Statuses a media URL answers once it has expired or is not yours.
fn url_refused(status: StatusCode) -> bool {
    matches!(status.as_u16(), 401 | 403 | 404 | 410)
}

fn empty() -> MediaBody {
    MediaBody::empty()
}
