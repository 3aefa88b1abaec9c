//! The Redis-backed [`TokenStore`] (cargo feature `redis`).

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::LazyLock;
use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::RedisError;

use super::{decode, encode, RefreshLock, Saved, StoreError, StoredToken, TokenStore};
use crate::bounds::BoxFuture;
use crate::redis_conn::{AnyConnection, RedisConnection};

/// A [`TokenStore`] in Redis (cargo feature `redis`): one token for
/// several replicas.
///
/// The store keeps the current token, its generation and expiry under
/// `{<prefix>}:token`, and a refresh lock under `{<prefix>}:refresh-lock`
/// (the prefix in braces, a hash tag: on a Redis Cluster both share a
/// slot), taken
/// with `SET … NX PX ttl` and released only by its holder (a compare-and-delete
/// script). When a token expires, one replica takes the lock and renews; the
/// others poll the store with back-off and install the new token without
/// calling Graph. A replica that dies holding the lock blocks nobody for
/// longer than the lock's TTL. When Redis is down, every call fails within the
/// layer's `store_timeout` and each replica carries on alone.
///
/// The token is stored as Redis holds it: secure Redis itself (ACLs, TLS,
/// network). Key names hold only the prefix, never a secret. Saves
/// compare-and-set on the generation
/// ([`save_if_newer`](TokenStore::save_if_newer)), so of two renewals the
/// first saved wins. The lock is best effort: across a failover (a master
/// lost before its replica had the lock) two replicas can renew at once;
/// both tokens are valid, and every replica ends on the one saved first.
///
/// ```no_run
/// use tower_whatsapp_auth::{store::RedisTokenStore, WhatsAppAuthLayer};
/// # async fn run() -> Result<(), tower_whatsapp_auth::store::StoreError> {
/// let store = RedisTokenStore::connect("redis://127.0.0.1:6379/", "whatsapp:prod").await?;
/// let layer = WhatsAppAuthLayer::new(std::env::var("WHATSAPP_TOKEN").unwrap())
///     .app_credentials("1234", "app-secret")
///     .token_store(store);
/// # let _ = layer; Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisTokenStore {
    conn: RedisConnection,
    prefix: String,
}

/// Compare-and-set of the token record: kept when the stored one is of
/// the same lineage and at least as new (a higher generation, or the same
/// generation and another token), and then returned; else replaced.
/// ARGV: the record, its lineage, its generation, its token.
static SAVE_IF_NEWER: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r#"
local cur = redis.call("GET", KEYS[1])
if cur then
  local ok, old = pcall(cjson.decode, cur)
  if ok and type(old) == "table" and old.lineage == ARGV[2] then
    local gen = tonumber(old.generation) or 0
    local want = tonumber(ARGV[3])
    if gen > want or (gen == want and old.token ~= ARGV[4]) then
      return cur
    end
  end
end
redis.call("SET", KEYS[1], ARGV[1])
return false
"#,
    )
});

/// Deletes the lock only for its holder.
static RELEASE: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r#"if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) else return 0 end"#,
    )
});

impl RedisTokenStore {
    /// Connects to `url` (e.g. `redis://127.0.0.1:6379/`), with keys under
    /// `prefix`. The connection reconnects by itself after Redis restarts
    /// (see [`RedisConnection`] for Sentinel and Cluster).
    pub async fn connect(
        url: &str,
        prefix: impl Into<String>,
    ) -> Result<RedisTokenStore, StoreError> {
        let prefix = prefix.into();
        match RedisConnection::connect(url).await {
            Ok(conn) => Ok(RedisTokenStore::new(conn, prefix)),
            Err(e) => Err(StoreError::Io {
                location: format!("redis {prefix}"),
                reason: e.to_string(),
            }),
        }
    }

    /// A store on `conn` (one node, Sentinel's master or a Cluster), with
    /// keys under `prefix`.
    pub fn new(conn: RedisConnection, prefix: impl Into<String>) -> RedisTokenStore {
        RedisTokenStore {
            conn,
            prefix: prefix.into(),
        }
    }

    /// A store over an existing connection manager (used as it is: not
    /// connected again after a `READONLY`).
    pub fn from_connection(conn: ConnectionManager, prefix: impl Into<String>) -> RedisTokenStore {
        RedisTokenStore::new(RedisConnection::from_manager(conn), prefix)
    }

    /// The store of one tenant of the tenant-aware stack: the same
    /// connection, keys under `{<prefix>:<phone_number_id>}:…`, so each tenant
    /// has its own token and its own refresh lock across replicas.
    ///
    /// ```no_run
    /// # #[cfg(feature = "tenants")]
    /// # async fn run() -> Result<(), tower_whatsapp_auth::store::StoreError> {
    /// use tower_whatsapp_auth::tenants::{tenant_fn, Tenant, WhatsAppTenantsLayer};
    /// use tower_whatsapp_auth::store::RedisTokenStore;
    /// let redis = RedisTokenStore::connect("redis://127.0.0.1:6379/", "whatsapp").await?;
    /// # let source = tenant_fn(|_: String| async { Ok::<_, tower::BoxError>(None::<Tenant>) });
    /// let layer = WhatsAppTenantsLayer::new(source)
    ///     .store_per_tenant(move |phone_number_id| redis.for_tenant(phone_number_id));
    /// # let _ = layer; Ok(()) }
    /// ```
    pub fn for_tenant(&self, phone_number_id: &str) -> RedisTokenStore {
        RedisTokenStore::new(
            self.conn.clone(),
            format!("{}:{phone_number_id}", self.prefix),
        )
    }

    /// `{prefix}:name`: the prefix a hash tag, so that on a cluster a
    /// token and its lock share a slot (and a script may touch both).
    fn key(&self, name: &str) -> String {
        format!("{{{}}}:{name}", self.prefix)
    }

    fn error(&self, e: RedisError) -> StoreError {
        StoreError::Io {
            location: format!("redis {}", self.prefix),
            reason: e.to_string(),
        }
    }

    /// Runs `call` on the connection, its error the store's.
    async fn run<T>(
        &self,
        call: impl Fn(AnyConnection) -> BoxFuture<'static, redis::RedisResult<T>>,
    ) -> Result<T, StoreError> {
        self.conn.run(call).await.map_err(|e| self.error(e))
    }
}

impl std::fmt::Debug for RedisTokenStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisTokenStore")
            .field("prefix", &self.prefix)
            .finish()
    }
}

/// A value no other holder of the lock can have.
fn lock_value() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    format!("{}-{:016x}", std::process::id(), hasher.finish())
}

impl TokenStore for RedisTokenStore {
    fn load(&self) -> BoxFuture<'_, Result<Option<StoredToken>, StoreError>> {
        Box::pin(async move {
            let mut key = self.key("token");
            let get = |key: String| {
                self.run(move |mut conn| {
                    let cmd = redis::cmd("GET").arg(&key).to_owned();
                    Box::pin(async move { cmd.query_async::<Option<Vec<u8>>>(&mut conn).await })
                })
            };
            let mut value = get(key.clone()).await?;
            if value.is_none() && !self.conn.is_cluster() {
                // Written by an earlier version, before the hash tag: read
                // once, and the next save writes the new key.
                key = format!("{}:token", self.prefix);
                value = get(key.clone()).await?;
            }
            value
                .map(|bytes| decode(&format!("redis key {key}"), &bytes))
                .transpose()
        })
    }

    fn save(&self, token: StoredToken) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            let cmd = redis::cmd("SET")
                .arg(self.key("token"))
                .arg(encode(&token))
                .to_owned();
            self.run(|mut conn| {
                let cmd = cmd.clone();
                Box::pin(async move { cmd.query_async::<()>(&mut conn).await })
            })
            .await
        })
    }

    fn save_if_newer(&self, token: StoredToken) -> BoxFuture<'_, Result<Saved, StoreError>> {
        Box::pin(async move {
            let key = self.key("token");
            let record = encode(&token);
            let kept: Option<Vec<u8>> = self
                .run(|mut conn| {
                    let mut invocation = SAVE_IF_NEWER.prepare_invoke();
                    invocation
                        .key(&key)
                        .arg(&record)
                        .arg(&token.lineage)
                        .arg(token.generation)
                        .arg(token.token.expose());
                    Box::pin(async move { invocation.invoke_async(&mut conn).await })
                })
                .await?;
            match kept {
                None => Ok(Saved::Stored),
                Some(bytes) => decode(&format!("redis key {key}"), &bytes).map(Saved::Superseded),
            }
        })
    }

    fn is_shared(&self) -> bool {
        true
    }

    fn lock_refresh(
        &self,
        ttl: Duration,
    ) -> BoxFuture<'_, Result<Option<RefreshLock>, StoreError>> {
        Box::pin(async move {
            let value = lock_value();
            let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
            let cmd = redis::cmd("SET")
                .arg(self.key("refresh-lock"))
                .arg(&value)
                .arg("NX")
                .arg("PX")
                .arg(millis)
                .to_owned();
            let set: Option<String> = self
                .run(|mut conn| {
                    let cmd = cmd.clone();
                    Box::pin(async move { cmd.query_async(&mut conn).await })
                })
                .await?;
            Ok(set.map(|_| RefreshLock(value)))
        })
    }

    fn unlock_refresh(&self, lock: RefreshLock) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            let key = self.key("refresh-lock");
            self.run(|mut conn| {
                let mut invocation = RELEASE.prepare_invoke();
                invocation.key(&key).arg(&lock.0);
                Box::pin(async move { invocation.invoke_async::<i64>(&mut conn).await.map(drop) })
            })
            .await
        })
    }
}
