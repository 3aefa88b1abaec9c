//! [`FileTokenStore`]: one token in a JSON file, replaced atomically.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::{decode, encode, StoreError, StoredToken, TokenStore};
use crate::bounds::BoxFuture;

/// A JSON file holding one token. Writes go to a temporary file in the same
/// directory, created with owner-only permissions (0600 on Unix), flushed to
/// disk, then renamed over the old one: a crash leaves the old token or the
/// new one, never a torn file.
#[derive(Debug, Clone)]
pub struct FileTokenStore {
    path: PathBuf,
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
    use crate::secret::Secret;
    use crate::store::lineage_of;
    use std::time::{Duration, UNIX_EPOCH};

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

    /// Each save is a new file renamed over the old one, never a write into
    /// it: the old file (its inode) stays whole until the new one is in
    /// place, so a reader or a crash sees the old token or the new one.
    #[cfg(unix)]
    #[tokio::test]
    async fn every_save_replaces_the_file_rather_than_writing_into_it() {
        use std::os::unix::fs::MetadataExt;
        let dir = temp_dir("replace");
        let store = FileTokenStore::new(dir.join("token.json"));
        store.save(stored("EAAGone")).await.unwrap();
        let before = std::fs::metadata(store.path()).unwrap().ino();
        // A reader holding the old file keeps reading the old token whole.
        let old = std::fs::read(store.path()).unwrap();
        let held = std::fs::File::open(store.path()).unwrap();
        store.save(stored("EAAGtwo")).await.unwrap();
        let after = std::fs::metadata(store.path()).unwrap().ino();
        assert_ne!(before, after, "a new file, renamed into place");
        let mut still = Vec::new();
        std::io::Read::read_to_end(&mut &held, &mut still).unwrap();
        assert_eq!(still, old, "the old file untouched");
        assert_eq!(
            store.load().await.unwrap().unwrap().token,
            Secret::new("EAAGtwo")
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
}
