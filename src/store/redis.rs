//! The Redis-backed [`TokenStore`] (cargo feature `redis`).

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::{decode, encode, LockToken, Saved, StoreError, StoredToken, TokenStore};
use crate::bounds::BoxFuture;

/// A [`TokenStore`] in Redis (cargo feature `redis`): one token for
/// several replicas.
///
/// The store keeps the current token, its generation and expiry under
/// `{prefix}:token`, and a refresh lock under `{prefix}:refresh-lock` taken
/// with `SET … NX PX ttl` and released only by its holder (a compare-and-delete
/// script). When a token expires, one replica takes the lock and renews; the
/// others poll the store with back-off and install the new token without
/// calling Graph. A replica that dies holding the lock blocks nobody for
/// longer than the lock's TTL. When Redis is down, every call fails within the
/// layer's `store_timeout` and each replica carries on alone.
///
/// The token is stored as Redis holds it: secure Redis itself (ACLs, TLS,
/// network). Key names hold only the prefix, never a secret.
///
/// ```no_run
/// use tower_whatsapp_auth::{RedisTokenStore, WhatsAppAuthLayer};
/// # async fn run() -> Result<(), tower_whatsapp_auth::StoreError> {
/// let store = RedisTokenStore::connect("redis://127.0.0.1:6379/", "whatsapp:prod").await?;
/// let layer = WhatsAppAuthLayer::new(std::env::var("WHATSAPP_TOKEN").unwrap())
///     .app_credentials("1234", "app-secret")
///     .token_store(store);
/// # let _ = layer; Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisTokenStore {
    conn: ConnectionManager,
    prefix: String,
}

/// Compare-and-set of the token record: kept when the stored one is of
/// the same lineage and at least as new (a higher generation, or the same
/// generation and another token), and then returned; else replaced.
/// ARGV: the record, its lineage, its generation, its token.
const SAVE_IF_NEWER: &str = r#"
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
"#;

const RELEASE: &str = r#"if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) else return 0 end"#;

impl RedisTokenStore {
    /// Connects to `url` (e.g. `redis://127.0.0.1:6379/`), with keys under
    /// `prefix`. The connection reconnects by itself after Redis restarts.
    pub async fn connect(
        url: &str,
        prefix: impl Into<String>,
    ) -> Result<RedisTokenStore, StoreError> {
        let prefix = prefix.into();
        let fail = |e: redis::RedisError| StoreError::Io {
            location: format!("redis {prefix}"),
            reason: e.to_string(),
        };
        let client = redis::Client::open(url).map_err(fail)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_millis(500)))
            .set_response_timeout(Some(Duration::from_millis(500)))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500));
        let conn = client
            .get_connection_manager_with_config(config)
            .await
            .map_err(fail)?;
        Ok(RedisTokenStore::from_connection(conn, prefix))
    }

    /// A store over an existing connection.
    pub fn from_connection(conn: ConnectionManager, prefix: impl Into<String>) -> RedisTokenStore {
        RedisTokenStore {
            conn,
            prefix: prefix.into(),
        }
    }

    /// The store of one tenant of the tenant-aware stack: the same
    /// connection, keys under `{prefix}:{phone_number_id}`, so each tenant
    /// has its own token and its own refresh lock across replicas.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), tower_whatsapp_auth::StoreError> {
    /// use tower_whatsapp_auth::tenants::{tenant_fn, Tenant, WhatsAppTenantsLayer};
    /// use tower_whatsapp_auth::RedisTokenStore;
    /// let redis = RedisTokenStore::connect("redis://127.0.0.1:6379/", "whatsapp").await?;
    /// # let source = tenant_fn(|_: String| async { Ok::<_, tower::BoxError>(None::<Tenant>) });
    /// let layer = WhatsAppTenantsLayer::new(source)
    ///     .store_per_tenant(move |phone_number_id| redis.for_tenant(phone_number_id));
    /// # let _ = layer; Ok(()) }
    /// ```
    pub fn for_tenant(&self, phone_number_id: &str) -> RedisTokenStore {
        RedisTokenStore::from_connection(
            self.conn.clone(),
            format!("{}:{phone_number_id}", self.prefix),
        )
    }

    fn key(&self, name: &str) -> String {
        format!("{}:{name}", self.prefix)
    }

    fn error(&self, e: redis::RedisError) -> StoreError {
        StoreError::Io {
            location: format!("redis {}", self.prefix),
            reason: e.to_string(),
        }
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
            let mut conn = self.conn.clone();
            let key = self.key("token");
            let value: Option<Vec<u8>> = redis::cmd("GET")
                .arg(&key)
                .query_async(&mut conn)
                .await
                .map_err(|e| self.error(e))?;
            value
                .map(|bytes| decode(&format!("redis key {key}"), &bytes))
                .transpose()
        })
    }

    fn save(&self, token: StoredToken) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            redis::cmd("SET")
                .arg(self.key("token"))
                .arg(encode(&token))
                .query_async::<()>(&mut conn)
                .await
                .map_err(|e| self.error(e))
        })
    }

    fn save_if_newer(&self, token: StoredToken) -> BoxFuture<'_, Result<Saved, StoreError>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let key = self.key("token");
            let kept: Option<Vec<u8>> = redis::Script::new(SAVE_IF_NEWER)
                .key(&key)
                .arg(encode(&token))
                .arg(&token.lineage)
                .arg(token.generation)
                .arg(token.token.expose())
                .invoke_async(&mut conn)
                .await
                .map_err(|e| self.error(e))?;
            match kept {
                None => Ok(Saved::Stored),
                Some(bytes) => decode(&format!("redis key {key}"), &bytes).map(Saved::Superseded),
            }
        })
    }

    fn is_shared(&self) -> bool {
        true
    }

    fn lock_refresh(&self, ttl: Duration) -> BoxFuture<'_, Result<Option<LockToken>, StoreError>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let value = lock_value();
            let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
            let set: Option<String> = redis::cmd("SET")
                .arg(self.key("refresh-lock"))
                .arg(&value)
                .arg("NX")
                .arg("PX")
                .arg(millis)
                .query_async(&mut conn)
                .await
                .map_err(|e| self.error(e))?;
            Ok(set.map(|_| LockToken(value)))
        })
    }

    fn unlock_refresh(&self, lock: LockToken) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            redis::Script::new(RELEASE)
                .key(self.key("refresh-lock"))
                .arg(lock.0)
                .invoke_async::<i64>(&mut conn)
                .await
                .map(drop)
                .map_err(|e| self.error(e))
        })
    }
}
