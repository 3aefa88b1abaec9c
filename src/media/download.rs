//! [`Download`]: a media file's body, streamed and checked as it passes.

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::Response;
use http_body::Body;
use http_body_util::BodyExt;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use tower::BoxError;

use super::digest::{hex, Expected};
use super::{MediaError, MediaInfo};

/// A download under way: [`chunk`](Download::chunk) gives the file's bytes
/// as they arrive. Every byte is counted against the size Graph gave and
/// hashed; the last call checks the SHA-256, so a reader that reads to the
/// end has the file Graph described, or an error.
pub struct Download<B> {
    info: MediaInfo,
    body: Pin<Box<B>>,
    expected: Vec<Expected>,
    hasher: Sha256,
    received: u64,
    idle_timeout: Duration,
    /// The digest of the whole file, once read and checked.
    done: Option<[u8; 32]>,
}

impl<B> std::fmt::Debug for Download<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Download")
            .field("info", &self.info)
            .field("received", &self.received)
            .finish_non_exhaustive()
    }
}

/// A file downloaded whole and checked.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Downloaded {
    /// What Graph said of the file.
    pub info: MediaInfo,
    /// Bytes received (Graph's `file_size`).
    pub bytes: u64,
    /// The SHA-256 of the bytes, in hex (the one Graph gave).
    pub sha256: String,
}

impl<B> Download<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    /// The media host's answer `res` (a success) to the download of the
    /// file `info` describes.
    pub(super) fn start(
        info: MediaInfo,
        res: Response<B>,
        max_size: u64,
        idle_timeout: Duration,
    ) -> Result<Download<B>, MediaError> {
        let headers = res.headers();
        let content_type = headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        // A login or error page served with 200 is not the file. Other
        // types are not compared with Graph's `mime_type`: the host may
        // name a file's type otherwise (parameters, a generic type), and
        // the length and SHA-256 checked below are what prove the file.
        if content_type.to_ascii_lowercase().starts_with("text/html") {
            return Err(MediaError::NotMedia {
                content_type: content_type.to_owned(),
            });
        }
        let announced = headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if let Some(announced) = announced {
            if announced > max_size {
                return Err(MediaError::TooLarge {
                    size: announced,
                    limit: max_size,
                });
            }
            if announced != info.file_size {
                return Err(MediaError::Length {
                    expected: info.file_size,
                    received: announced,
                });
            }
        }
        let expected = vec![Expected::parse(&info.sha256)?];
        Ok(Download {
            info,
            body: Box::pin(res.into_body()),
            expected,
            hasher: Sha256::new(),
            received: 0,
            idle_timeout,
            done: None,
        })
    }

    /// What Graph said of the file.
    pub fn info(&self) -> &MediaInfo {
        &self.info
    }

    /// Checks the file against a second digest too: the `sha256` of the
    /// webhook the media id came in.
    pub fn expect_sha256(mut self, sha256: &str) -> Result<Self, MediaError> {
        self.expected.push(Expected::parse(sha256)?);
        Ok(self)
    }

    /// The next bytes of the file; `None` once it is whole and its
    /// SHA-256 checked.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, MediaError> {
        loop {
            if self.done.is_some() {
                return Ok(None);
            }
            let frame = tokio::time::timeout(self.idle_timeout, self.body.frame())
                .await
                .map_err(|_| MediaError::Stalled(self.idle_timeout))?;
            let Some(frame) = frame else {
                return self.finish().map(|()| None);
            };
            let frame = frame.map_err(|e| MediaError::Body(e.into()))?;
            let Ok(data) = frame.into_data() else {
                continue; // trailers: nothing of the file
            };
            self.received += data.len() as u64;
            // A body past the size Graph gave (one that never ends among
            // them) stops here, not at the memory's end.
            if self.received > self.info.file_size {
                return Err(MediaError::Length {
                    expected: self.info.file_size,
                    received: self.received,
                });
            }
            self.hasher.update(&data);
            return Ok(Some(data));
        }
    }

    fn finish(&mut self) -> Result<(), MediaError> {
        if self.received != self.info.file_size {
            return Err(MediaError::Length {
                expected: self.info.file_size,
                received: self.received,
            });
        }
        let actual: [u8; 32] = std::mem::take(&mut self.hasher).finalize().into();
        for expected in &self.expected {
            expected.check(&actual)?;
        }
        self.done = Some(actual);
        Ok(())
    }

    /// Reads the file to its end, handing each chunk to `sink`.
    pub async fn for_each_chunk(
        mut self,
        mut sink: impl FnMut(Bytes),
    ) -> Result<Downloaded, MediaError> {
        while let Some(chunk) = self.chunk().await? {
            sink(chunk);
        }
        Ok(self.downloaded())
    }

    fn downloaded(self) -> Downloaded {
        Downloaded {
            sha256: hex(&self.done.unwrap_or_default()),
            bytes: self.received,
            info: self.info,
        }
    }

    /// Writes the file to `path`: into a temporary file beside it, renamed
    /// to `path` only once whole and checked. On any failure (or if this
    /// future is dropped) the temporary file is removed and `path` is left
    /// as it was.
    pub async fn to_file(mut self, path: impl AsRef<Path>) -> Result<Downloaded, MediaError> {
        let path = path.as_ref();
        let partial = Partial::beside(path);
        let mut file = partial.create().await?;
        while let Some(chunk) = self.chunk().await? {
            file.write_all(&chunk).await?;
        }
        file.flush().await?;
        file.sync_all().await?;
        drop(file);
        tokio::fs::rename(&partial.path, path).await?;
        partial.keep();
        Ok(self.downloaded())
    }
}

/// A temporary file, removed when dropped unless kept (renamed into
/// place).
struct Partial {
    path: PathBuf,
    state: Arc<Mutex<PartialState>>,
}

/// Shared by the task creating the file and the `Partial` that removes
/// it: whichever comes second under the lock sees what the first did, so
/// a future dropped while the file is being created leaves none behind.
#[derive(Default)]
struct PartialState {
    created: bool,
    abandoned: bool,
    kept: bool,
}

impl Partial {
    fn beside(path: &Path) -> Partial {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "media".into());
        let tmp = format!(".{name}.partial-{:016x}", fastrand::u64(..));
        Partial {
            path: path.with_file_name(tmp),
            state: Arc::default(),
        }
    }

    /// Creates the file, new: `create_new` follows no link left at its
    /// name and never writes into a file already there.
    async fn create(&self) -> std::io::Result<tokio::fs::File> {
        let path = self.path.clone();
        let state = Arc::clone(&self.state);
        let file = tokio::task::spawn_blocking(move || {
            let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
            if state.abandoned {
                return Err(std::io::Error::other("the download was dropped"));
            }
            let file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)?;
            state.created = true;
            Ok(file)
        })
        .await
        .map_err(std::io::Error::other)??;
        Ok(tokio::fs::File::from_std(file))
    }

    fn keep(&self) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).kept = true;
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.abandoned = true;
        if state.created && !state.kept {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}
