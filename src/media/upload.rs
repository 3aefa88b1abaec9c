//! Upload sources and the multipart form they are sent in.

use std::path::PathBuf;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Bytes, BytesMut};
use http::HeaderValue;
use http_body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, ReadBuf};
use tower::BoxError;

use super::{MediaBody, MediaError};
use crate::bounds::BoxFuture;

/// Something an upload reads its file from, and can read again: after a
/// renewal (a 190 on the upload), the source is opened afresh and the
/// upload sent once more, since a file of many megabytes is not kept in
/// memory for a replay.
pub trait UploadSource: Send + Sync {
    /// Opens the file from its start.
    fn open(&self) -> BoxFuture<'_, Result<OpenedUpload, MediaError>>;
}

/// A source opened: its bytes as a body, how many there are, and the file
/// name the form gives.
pub struct OpenedUpload {
    /// The file's bytes.
    pub body: MediaBody,
    /// How many bytes `body` gives: checked against Meta's limit before
    /// sending, and as the body is sent.
    pub len: u64,
    /// The form's file name.
    pub file_name: String,
}

impl std::fmt::Debug for OpenedUpload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenedUpload")
            .field("len", &self.len)
            .field("file_name", &self.file_name)
            .finish_non_exhaustive()
    }
}

/// A file on disk, read in 64 KiB chunks as it is sent.
#[derive(Clone, Debug)]
pub struct FileSource {
    path: PathBuf,
}

impl FileSource {
    /// The file at `path`.
    pub fn new(path: impl Into<PathBuf>) -> FileSource {
        FileSource { path: path.into() }
    }
}

impl UploadSource for FileSource {
    fn open(&self) -> BoxFuture<'_, Result<OpenedUpload, MediaError>> {
        Box::pin(async move {
            let file = tokio::fs::File::open(&self.path).await?;
            let len = file.metadata().await?.len();
            let file_name = self
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "file".into());
            Ok(OpenedUpload {
                body: MediaBody::new(ReaderBody::new(file)),
                len,
                file_name,
            })
        })
    }
}

/// Any closure that gives a fresh [`OpenedUpload`] each time is a source.
impl<F> UploadSource for F
where
    F: Fn() -> Result<OpenedUpload, MediaError> + Send + Sync,
{
    fn open(&self) -> BoxFuture<'_, Result<OpenedUpload, MediaError>> {
        let opened = self();
        Box::pin(async move { opened })
    }
}

pin_project_lite::pin_project! {
    /// An `AsyncRead` as a body of 64 KiB chunks.
    struct ReaderBody<R> {
        #[pin]
        reader: R,
        buf: BytesMut,
        done: bool,
    }
}

const CHUNK: usize = 64 * 1024;

impl<R> ReaderBody<R> {
    fn new(reader: R) -> Self {
        ReaderBody {
            reader,
            buf: BytesMut::new(),
            done: false,
        }
    }
}

impl<R: AsyncRead> Body for ReaderBody<R> {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.project();
        if *this.done {
            return Poll::Ready(None);
        }
        this.buf.resize(CHUNK, 0);
        let mut read = ReadBuf::new(&mut this.buf[..]);
        ready!(this.reader.poll_read(cx, &mut read))?;
        let n = read.filled().len();
        if n == 0 {
            *this.done = true;
            return Poll::Ready(None);
        }
        this.buf.truncate(n);
        Poll::Ready(Some(Ok(Frame::data(this.buf.split().freeze()))))
    }

    fn is_end_stream(&self) -> bool {
        self.done
    }
}

/// The multipart form of an upload (`messaging_product`, `type`, `file`,
/// as Meta's upload reference lists them) and its `Content-Type`. Its
/// length is known (the parts around the file, and the file's own), and
/// the file's bytes are counted as they pass: a source giving more or
/// fewer bytes than it said fails the body, so a cut file is never taken
/// for a whole one.
pub(super) fn multipart(mime: &str, opened: OpenedUpload) -> (HeaderValue, MediaBody) {
    let boundary = format!(
        "tower-whatsapp-auth-{:016x}{:016x}",
        fastrand::u64(..),
        fastrand::u64(..)
    );
    let name = form_file_name(&opened.file_name);
    // The essence only: Meta's tables name types without parameters, and
    // a type checked by `check_upload` has no byte that could end a line.
    let mime_clean = super::types::essence(mime);
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"messaging_product\"\r\n\r\nwhatsapp\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"type\"\r\n\r\n{mime_clean}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: {mime_clean}\r\n\r\n"
    );
    let tail = format!("\r\n--{boundary}--\r\n");
    let content_type = HeaderValue::from_str(&format!("multipart/form-data; boundary={boundary}"))
        .unwrap_or_else(|_| HeaderValue::from_static("multipart/form-data"));
    let body = Form {
        head: Some(Bytes::from(head)),
        file: opened.body,
        left: opened.len,
        tail: Some(Bytes::from(tail)),
        len: 0,
    };
    let total = body.head.as_ref().map_or(0, |b| b.len() as u64)
        + opened.len
        + body.tail.as_ref().map_or(0, |b| b.len() as u64);
    let body = Form { len: total, ..body };
    (content_type, MediaBody::new(body))
}

/// A file name fit for the form's `filename="..."`: any control
/// character, quote or backslash (which could end the quoted string or
/// the header line) becomes `_`.
fn form_file_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_control() || c == '"' || c == '\\' {
                '_'
            } else {
                c
            }
        })
        .collect()
}

/// The form: its head, the file, its tail.
struct Form {
    head: Option<Bytes>,
    file: MediaBody,
    /// File bytes still due.
    left: u64,
    tail: Option<Bytes>,
    len: u64,
}

impl Body for Form {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if let Some(head) = self.head.take() {
            return Poll::Ready(Some(Ok(Frame::data(head))));
        }
        if self.tail.is_none() {
            return Poll::Ready(None);
        }
        loop {
            match ready!(Pin::new(&mut self.file).poll_frame(cx)) {
                Some(Ok(frame)) => {
                    let Ok(data) = frame.into_data() else {
                        continue;
                    };
                    let n = data.len() as u64;
                    if n > self.left {
                        return Poll::Ready(Some(Err(
                            "the upload source gave more bytes than it said".into(),
                        )));
                    }
                    self.left -= n;
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Some(Err(e)) => return Poll::Ready(Some(Err(e))),
                None if self.left > 0 => {
                    return Poll::Ready(Some(Err(format!(
                        "the upload source ended {} bytes short",
                        self.left
                    )
                    .into())))
                }
                None => {
                    let tail = self.tail.take().unwrap_or_default();
                    return Poll::Ready(Some(Ok(Frame::data(tail))));
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.head.is_none() && self.tail.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn the_form_names_the_essence_and_a_safe_file_name() {
        let opened = OpenedUpload {
            body: MediaBody::new(http_body_util::Full::new(Bytes::from_static(b"OggS"))),
            len: 4,
            file_name: "a\"b\\c\r\nX-Evil: 1\u{7}\u{0}.ogg".into(),
        };
        let (content_type, body) = multipart("Audio/OGG; codecs=opus", opened);
        let form = body.collect().await.unwrap().to_bytes();
        let form = String::from_utf8(form.to_vec()).unwrap();
        let boundary = content_type
            .to_str()
            .unwrap()
            .strip_prefix("multipart/form-data; boundary=")
            .unwrap()
            .to_owned();
        assert!(
            form.contains("name=\"type\"\r\n\r\naudio/ogg\r\n"),
            "{form}"
        );
        assert!(
            form.contains(
                "filename=\"a_b_c__X-Evil: 1__.ogg\"\r\nContent-Type: audio/ogg\r\n\r\nOggS\r\n"
            ),
            "{form}"
        );
        // Each line of the form is a boundary, a header or a value: the
        // file name added none.
        assert_eq!(form.matches("\r\n").count(), 14, "{form}");
        assert!(form.ends_with(&format!("\r\n--{boundary}--\r\n")));
    }
}
