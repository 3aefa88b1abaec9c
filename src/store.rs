//! Where renewed tokens are kept across restarts: [`TokenStore`] and
//! [`FileTokenStore`].
//!
//! The stack saves every token it renews and reads the store once, before
//! its first request. A stored token is used instead of the configured one
//! when it descends from the same configured token (it is a renewal of it,
//! so newer) and has not expired; a different configured token means an
//! operator replaced it, and the configured one wins.
//!
//! ```
//! use tower_whatsapp_auth::{FileTokenStore, WhatsAppAuthLayer};
//! let dir = std::env::temp_dir().join(format!("wa-doc-{}", std::process::id()));
//! let layer = WhatsAppAuthLayer::new("EAAG-configured")
//!     .app_credentials("1234", "app-secret")
//!     .token_store(FileTokenStore::new(dir.join("token.json")));
//! # let _ = layer;
//! ```

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::source::BoxFuture;
use crate::Secret;

/// A token as persisted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredToken {
    /// The token.
    pub token: Secret,
    /// When it expires, if known (`None`: unknown or never).
    pub expires_at: Option<SystemTime>,
    /// A one-way fingerprint of the configured token this one descends from.
    pub lineage: String,
    /// When it was saved.
    pub saved_at: SystemTime,
    /// Counts renewals across every process sharing the store; a token with
    /// a higher generation is newer.
    pub generation: u64,
}

/// Proof of holding a shared store's refresh lock, returned to release it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockToken(pub String);

/// Why a store operation failed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The stored data is unreadable; it is not used.
    #[error("token store {location} is corrupt: {reason}")]
    Corrupt {
        /// Where the data lives (a path, a key).
        location: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Reading or writing failed.
    #[error("token store {location}: {reason}")]
    Io {
        /// Where the data lives.
        location: String,
        /// The I/O error.
        reason: String,
    },
}

/// Persists renewed tokens. Implementations must never log the token.
///
/// A store that several processes share (see `RedisTokenStore` behind the
/// `redis` feature) also coordinates renewal: it says so with
/// [`is_shared`](Self::is_shared) and provides a refresh lock, so that one
/// process renews and the others pick the new token up from the store.
pub trait TokenStore: Send + Sync + 'static {
    /// The stored token, if any.
    fn load(&self) -> BoxFuture<'_, Result<Option<StoredToken>, StoreError>>;
    /// Replaces the stored token.
    fn save(&self, token: StoredToken) -> BoxFuture<'_, Result<(), StoreError>>;

    /// Whether other processes share this store (default: no).
    fn is_shared(&self) -> bool {
        false
    }

    /// Takes the store-wide refresh lock for `ttl`; `Ok(None)` when another
    /// process holds it. The default, for unshared stores, always succeeds.
    fn lock_refresh(&self, ttl: Duration) -> BoxFuture<'_, Result<Option<LockToken>, StoreError>> {
        let _ = ttl;
        Box::pin(std::future::ready(Ok(Some(LockToken(String::new())))))
    }

    /// Releases the lock, if `lock` still holds it.
    fn unlock_refresh(&self, lock: LockToken) -> BoxFuture<'_, Result<(), StoreError>> {
        let _ = lock;
        Box::pin(std::future::ready(Ok(())))
    }
}

impl<T: TokenStore + ?Sized> TokenStore for Arc<T> {
    fn load(&self) -> BoxFuture<'_, Result<Option<StoredToken>, StoreError>> {
        (**self).load()
    }
    fn save(&self, token: StoredToken) -> BoxFuture<'_, Result<(), StoreError>> {
        (**self).save(token)
    }
    fn is_shared(&self) -> bool {
        (**self).is_shared()
    }
    fn lock_refresh(&self, ttl: Duration) -> BoxFuture<'_, Result<Option<LockToken>, StoreError>> {
        (**self).lock_refresh(ttl)
    }
    fn unlock_refresh(&self, lock: LockToken) -> BoxFuture<'_, Result<(), StoreError>> {
        (**self).unlock_refresh(lock)
    }
}

/// The JSON form of a stored token, shared by the file and Redis stores.
pub(crate) fn encode(token: &StoredToken) -> Vec<u8> {
    let secs = |t: SystemTime| t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let disk = OnDisk {
        format: 1,
        token: token.token.expose().to_owned(),
        expires_at: token.expires_at.map(secs),
        lineage: token.lineage.clone(),
        saved_at: secs(token.saved_at),
        generation: token.generation,
    };
    serde_json::to_vec_pretty(&disk).expect("a token serializes")
}

/// Reads [`encode`]'s form; anything else is [`StoreError::Corrupt`].
pub(crate) fn decode(location: &str, bytes: &[u8]) -> Result<StoredToken, StoreError> {
    let corrupt = |reason: &str| StoreError::Corrupt {
        location: location.to_owned(),
        reason: reason.to_owned(),
    };
    let disk: OnDisk = serde_json::from_slice(bytes)
        .map_err(|e| corrupt(&format!("not a token record ({})", e.classify_name())))?;
    if disk.format != 1 {
        return Err(corrupt(&format!("unknown format {}", disk.format)));
    }
    if disk.token.trim().is_empty() {
        return Err(corrupt("the token is empty"));
    }
    if disk
        .token
        .bytes()
        .any(|b| b.is_ascii_control() || b == b' ')
    {
        return Err(corrupt("the token has characters a token cannot have"));
    }
    let at = |secs: u64| UNIX_EPOCH + Duration::from_secs(secs);
    Ok(StoredToken {
        token: Secret::new(disk.token),
        expires_at: disk.expires_at.map(at),
        lineage: disk.lineage,
        saved_at: at(disk.saved_at),
        generation: disk.generation,
    })
}

/// A one-way fingerprint of a token, safe to store and print.
pub(crate) fn lineage_of(token: &Secret) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(b"tower-whatsapp-auth lineage")
        .expect("HMAC takes keys of any length");
    mac.update(token.expose().as_bytes());
    mac.finalize().into_bytes()[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A JSON file holding one token. Writes go to a temporary file in the same
/// directory, created with owner-only permissions (0600 on Unix), flushed to
/// disk, then renamed over the old one: a crash leaves the old token or the
/// new one, never a torn file.
#[derive(Debug, Clone)]
pub struct FileTokenStore {
    path: PathBuf,
}

#[derive(Serialize, Deserialize)]
struct OnDisk {
    format: u32,
    token: String,
    expires_at: Option<u64>,
    lineage: String,
    saved_at: u64,
    #[serde(default)]
    generation: u64,
}

impl FileTokenStore {
    /// A store at `path` (its directory must exist).
    pub fn new(path: impl Into<PathBuf>) -> FileTokenStore {
        FileTokenStore { path: path.into() }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn location(&self) -> String {
        self.path.display().to_string()
    }

    fn write(&self, token: &StoredToken) -> std::io::Result<()> {
        use std::io::Write;
        let json = encode(token);
        let dir = self
            .path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = self
            .path
            .file_name()
            .map_or_else(|| "token".into(), |n| n.to_string_lossy().into_owned());
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let tmp = dir.join(format!(
            ".{name}.{}.{}.tmp",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let result = (|| {
            let mut file = options.open(&tmp)?;
            file.write_all(&json)?;
            file.sync_all()?;
            drop(file);
            std::fs::rename(&tmp, &self.path)?;
            // Make the rename itself durable.
            if let Ok(d) = std::fs::File::open(dir) {
                let _ = d.sync_all();
            }
            Ok(())
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }
}

trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "I/O",
            serde_json::error::Category::Syntax => "invalid JSON",
            serde_json::error::Category::Data => "missing or mistyped fields",
            serde_json::error::Category::Eof => "truncated",
        }
    }
}

impl TokenStore for FileTokenStore {
    fn load(&self) -> BoxFuture<'_, Result<Option<StoredToken>, StoreError>> {
        Box::pin(async move {
            match tokio::fs::read(&self.path).await {
                Ok(bytes) => decode(&self.location(), &bytes).map(Some),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(StoreError::Io {
                    location: self.location(),
                    reason: e.to_string(),
                }),
            }
        })
    }

    fn save(&self, token: StoredToken) -> BoxFuture<'_, Result<(), StoreError>> {
        let store = self.clone();
        Box::pin(async move {
            let location = store.location();
            tokio::task::spawn_blocking(move || store.write(&token))
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| r.map_err(|e| e.to_string()))
                .map_err(|reason| StoreError::Io { location, reason })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("tower-wa-store-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn stored(token: &str) -> StoredToken {
        StoredToken {
            token: Secret::new(token),
            expires_at: Some(UNIX_EPOCH + Duration::from_secs(1_900_000_000)),
            lineage: lineage_of(&Secret::new("origin")),
            saved_at: UNIX_EPOCH + Duration::from_secs(1_800_000_000),
            generation: 3,
        }
    }

    #[tokio::test]
    async fn round_trips_with_owner_only_permissions() {
        let dir = temp_dir("roundtrip");
        let store = FileTokenStore::new(dir.join("token.json"));
        assert_eq!(store.load().await.unwrap(), None);
        store.save(stored("EAAGone")).await.unwrap();
        store.save(stored("EAAGtwo")).await.unwrap();
        assert_eq!(store.load().await.unwrap(), Some(stored("EAAGtwo")));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(store.path())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let leftovers: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary files left behind");
    }

    #[tokio::test]
    async fn a_crash_between_write_and_rename_leaves_the_old_token() {
        let dir = temp_dir("crash");
        let store = FileTokenStore::new(dir.join("token.json"));
        store.save(stored("EAAGold")).await.unwrap();
        // What a crash mid-save leaves: a complete or partial temporary file
        // that was never renamed over the real one.
        std::fs::write(
            dir.join(".token.json.999.0.tmp"),
            br#"{"format":1,"token":"EAAGne"#,
        )
        .unwrap();
        assert_eq!(
            store.load().await.unwrap().unwrap().token,
            Secret::new("EAAGold")
        );
        store.save(stored("EAAGnew")).await.unwrap();
        assert_eq!(
            store.load().await.unwrap().unwrap().token,
            Secret::new("EAAGnew")
        );
    }

    #[tokio::test]
    async fn corrupt_files_are_typed_errors_never_empty_tokens() {
        let dir = temp_dir("corrupt");
        let path = dir.join("token.json");
        let store = FileTokenStore::new(&path);
        for bad in [
            &b""[..],
            b"garbage",
            br#"{"format":1,"token":"EAAG"#,
            br#"{"format":1,"token":"","lineage":"x","saved_at":1,"expires_at":null}"#,
            br#"{"format":1,"token":"EAAG\nX","lineage":"x","saved_at":1,"expires_at":null}"#,
            br#"{"format":2,"token":"EAAG","lineage":"x","saved_at":1,"expires_at":null}"#,
            br#"{"format":1,"token":42,"lineage":"x","saved_at":1}"#,
        ] {
            std::fs::write(&path, bad).unwrap();
            let err = store.load().await.unwrap_err();
            assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
            assert!(
                !err.to_string().contains("EAAG"),
                "no token in the error: {err}"
            );
        }
    }

    #[test]
    fn lineage_is_stable_and_reveals_nothing() {
        let a = lineage_of(&Secret::new("EAAGsecret"));
        assert_eq!(a, lineage_of(&Secret::new("EAAGsecret")));
        assert_ne!(a, lineage_of(&Secret::new("EAAGother")));
        assert_eq!(a.len(), 24);
        assert!(!a.contains("EAAG"));
    }
}
