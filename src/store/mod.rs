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
//! use tower_whatsapp_auth::{store::FileTokenStore, WhatsAppAuthLayer};
//! let dir = std::env::temp_dir().join(format!("wa-doc-{}", std::process::id()));
//! let layer = WhatsAppAuthLayer::new("EAAG-configured")
//!     .app_credentials("1234", "app-secret")
//!     .token_store(FileTokenStore::new(dir.join("token.json")));
//! # let _ = layer;
//! ```

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::bounds::BoxFuture;
use crate::secret::Secret;

mod file;
#[cfg(feature = "redis")]
mod redis;

pub use file::FileTokenStore;
#[cfg(feature = "redis")]
pub use redis::RedisTokenStore;

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

/// What [`TokenStore::save_if_newer`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Saved {
    /// The token is the stored one now.
    Stored,
    /// The store held a newer token of the same lineage (another process
    /// renewed first, to this generation or past it): it is kept, and
    /// given here for this process to adopt.
    Superseded(StoredToken),
}

/// Proof of holding a shared store's refresh lock, returned to release it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshLock(pub String);

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

    /// Saves `token` unless the store holds a newer token of its lineage:
    /// one of a higher generation, or of the same generation and another
    /// value (a compare-and-set, so that of two processes renewing at once
    /// the first to save wins and the other adopts its token). A store
    /// that several processes share implements it atomically; the default
    /// saves unconditionally, as a store only this process writes may.
    fn save_if_newer(&self, token: StoredToken) -> BoxFuture<'_, Result<Saved, StoreError>> {
        Box::pin(async move { self.save(token).await.map(|()| Saved::Stored) })
    }

    /// Whether other processes share this store (default: no).
    fn is_shared(&self) -> bool {
        false
    }

    /// Takes the store-wide refresh lock for `ttl`; `Ok(None)` when another
    /// process holds it. The default, for unshared stores, always succeeds.
    fn lock_refresh(
        &self,
        ttl: Duration,
    ) -> BoxFuture<'_, Result<Option<RefreshLock>, StoreError>> {
        let _ = ttl;
        Box::pin(std::future::ready(Ok(Some(RefreshLock(String::new())))))
    }

    /// Releases the lock, if `lock` still holds it.
    fn unlock_refresh(&self, lock: RefreshLock) -> BoxFuture<'_, Result<(), StoreError>> {
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
    fn save_if_newer(&self, token: StoredToken) -> BoxFuture<'_, Result<Saved, StoreError>> {
        (**self).save_if_newer(token)
    }
    fn is_shared(&self) -> bool {
        (**self).is_shared()
    }
    fn lock_refresh(
        &self,
        ttl: Duration,
    ) -> BoxFuture<'_, Result<Option<RefreshLock>, StoreError>> {
        (**self).lock_refresh(ttl)
    }
    fn unlock_refresh(&self, lock: RefreshLock) -> BoxFuture<'_, Result<(), StoreError>> {
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
    let at = |secs: u64| {
        crate::clock::from_unix(secs).ok_or_else(|| corrupt("a time past what this platform holds"))
    };
    Ok(StoredToken {
        token: Secret::new(disk.token),
        expires_at: disk.expires_at.map(at).transpose()?,
        lineage: disk.lineage,
        saved_at: at(disk.saved_at)?,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lineage_is_stable_and_reveals_nothing() {
        let a = lineage_of(&Secret::new("EAAGsecret"));
        assert_eq!(a, lineage_of(&Secret::new("EAAGsecret")));
        assert_ne!(a, lineage_of(&Secret::new("EAAGother")));
        assert_eq!(a.len(), 24);
        assert!(!a.contains("EAAG"));
    }

    /// A corrupt record says how it is corrupt, never what it holds.
    #[test]
    fn corrupt_records_say_how() {
        let reason = |bytes: &[u8]| match decode("t.json", bytes) {
            Err(StoreError::Corrupt { reason, .. }) => reason,
            other => panic!("{other:?}"),
        };
        assert_eq!(reason(b"{ nope"), "not a token record (invalid JSON)");
        assert_eq!(
            reason(br#"{"format":1,"tok"#),
            "not a token record (truncated)"
        );
        assert_eq!(
            reason(br#"{"format":1,"token":7}"#),
            "not a token record (missing or mistyped fields)"
        );
    }

    /// A store says whether it is shared, also behind an `Arc` (as the
    /// layer holds it); stores are private to their process by default.
    #[test]
    fn sharing_is_reported_through_arcs() {
        struct Local;
        struct Shared;
        impl TokenStore for Local {
            fn load(&self) -> BoxFuture<'_, Result<Option<StoredToken>, StoreError>> {
                Box::pin(std::future::ready(Ok(None)))
            }
            fn save(&self, _: StoredToken) -> BoxFuture<'_, Result<(), StoreError>> {
                Box::pin(std::future::ready(Ok(())))
            }
        }
        impl TokenStore for Shared {
            fn load(&self) -> BoxFuture<'_, Result<Option<StoredToken>, StoreError>> {
                Box::pin(std::future::ready(Ok(None)))
            }
            fn save(&self, _: StoredToken) -> BoxFuture<'_, Result<(), StoreError>> {
                Box::pin(std::future::ready(Ok(())))
            }
            fn is_shared(&self) -> bool {
                true
            }
        }
        assert!(!Local.is_shared());
        assert!(!Arc::new(Local).is_shared());
        assert!(Arc::new(Shared).is_shared());
        let dynamic: Arc<dyn TokenStore> = Arc::new(Shared);
        assert!(dynamic.is_shared());
        assert!(!crate::store::FileTokenStore::new("t.json").is_shared());
    }
}
