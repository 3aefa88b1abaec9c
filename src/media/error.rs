//! [`MediaError`]: why a media call failed, each cause its own variant.

use tower::BoxError;

use crate::error::Error;
use crate::graph::{ErrorKind, GraphError};

/// Why a media call (info, download, upload, delete) failed. None of them
/// carries a token or a download URL (whose query is a signed credential).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MediaError {
    /// Graph refused the call: an unknown media id (code 100, subcode 33),
    /// one of another business's numbers, a refused token.
    #[error("Graph refused the media call: {0}")]
    Graph(GraphError),
    /// The stack refused or failed the request (see [`Error`]).
    #[error(transparent)]
    Stack(Error),
    /// The client below the stack, or a layer outside it, failed.
    #[error("the media request failed: {0}")]
    Transport(BoxError),
    /// An answer that is not what Graph documents (not JSON, no `url`).
    #[error("Graph's media answer is malformed: {0}")]
    Malformed(String),
    /// The media host refused the download (HTTP 4xx). A URL that had
    /// expired or was refused (401, 403, 404, 410) was retrieved afresh
    /// once first.
    #[error(
        "the media host refused the download with HTTP {status}{}",
        if *retrieved_afresh { " (a URL retrieved afresh was refused too)" } else { "" }
    )]
    Refused {
        /// The media host's status.
        status: u16,
        /// Whether the refusal was of a URL retrieved afresh.
        retrieved_afresh: bool,
    },
    /// The media host failed (5xx) or asked to slow down (429): the URL
    /// may still be good, and the download can be tried again later.
    #[error("the media host is unavailable (HTTP {status}); try the download again later")]
    Unavailable {
        /// The media host's status.
        status: u16,
    },
    /// The media host answered with a page, not the file (a login or error
    /// page served with `200`).
    #[error("the media host answered {content_type}, not the media file")]
    NotMedia {
        /// The answer's `Content-Type`.
        content_type: String,
    },
    /// The file is (or would be) larger than the limit.
    #[error("the media is {size} bytes, over the {limit}-byte limit")]
    TooLarge {
        /// The size Graph gave, or the bytes received so far.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The body's length is not the size Graph gave for the file (cut
    /// short, or longer).
    #[error("the media host sent {received} bytes where Graph said the file has {expected}")]
    Length {
        /// `file_size` from Graph (or the answer's `Content-Length`).
        expected: u64,
        /// Bytes received (or announced).
        received: u64,
    },
    /// The bytes' SHA-256 is not the one Graph (or the webhook) gave.
    #[error(
        "the media's SHA-256 is {actual}, not the expected {expected} (from Graph or the webhook): the file was not kept"
    )]
    Checksum {
        /// The digest given, as given (hex or base64).
        expected: String,
        /// The digest of the bytes received, in hex.
        actual: String,
    },
    /// The digest given is neither 64 hex digits nor base64 of 32 bytes,
    /// so the file cannot be checked (and is not accepted unchecked).
    #[error("the SHA-256 {0:?} is neither hex nor base64 of 32 bytes: the file cannot be checked")]
    BadDigest(String),
    /// No bytes arrived for longer than the idle timeout.
    #[error("the media host sent nothing for {0:?}")]
    Stalled(std::time::Duration),
    /// The body failed while it was read.
    #[error("reading the media body failed: {0}")]
    Body(BoxError),
    /// An upload Meta would refuse: a MIME type it does not take, or a
    /// file over that type's limit. Nothing was sent.
    #[error("upload not sent: {0}")]
    Unsupported(String),
    /// What a call needs is not set (an upload needs the phone number id).
    #[error("media call not sent: {0}")]
    Config(String),
    /// Reading or writing a local file failed.
    #[error("file I/O failed: {0}")]
    Io(#[from] std::io::Error),
}

impl MediaError {
    /// The error from below the media client: the stack's own [`Error`]
    /// when it is one.
    pub(crate) fn from_box(err: BoxError) -> MediaError {
        match err.downcast::<Error>() {
            Ok(err) => match *err {
                Error::Graph(graph) => MediaError::Graph(graph),
                other => MediaError::Stack(other),
            },
            Err(other) => MediaError::Transport(other),
        }
    }

    /// The Graph answer behind this error, if there is one.
    pub fn graph_error(&self) -> Option<&GraphError> {
        match self {
            MediaError::Graph(g) => Some(g),
            MediaError::Stack(e) => e.graph_error(),
            _ => None,
        }
    }

    /// The root cause, as [`Error::kind`] reads it: a refused token, a
    /// transient failure, a misconfiguration, or [`ErrorKind::Other`] (an
    /// unknown media id, a file that fails its checks).
    pub fn kind(&self) -> ErrorKind {
        match self {
            MediaError::Graph(g) => g.kind(),
            MediaError::Stack(e) => e.kind(),
            MediaError::Transport(_)
            | MediaError::Stalled(_)
            | MediaError::Body(_)
            | MediaError::Unavailable { .. } => ErrorKind::Transient,
            MediaError::Config(_) => ErrorKind::Misconfigured,
            _ => ErrorKind::Other,
        }
    }

    /// Whether a 190-type refusal of the token is behind this error: the
    /// stack has started a renewal, so sending again waits for it.
    pub(crate) fn token_refused(&self) -> bool {
        self.graph_error()
            .is_some_and(|g| g.kind().is_token_rejected() && g.code() == 190)
    }
}
