//! Processing each message once: Meta retries a delivery that does not get
//! a 200 quickly ("for up to 7 days", and warns "This can result in
//! duplicate webhook notifications"), so the same message id can arrive
//! more than once. A [`Deduplicator`] remembers the ids seen.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::bounds::BoxFuture;
use crate::store::StoreError;

/// Remembers which ids were seen.
pub trait Deduplicator: Send + Sync + 'static {
    /// Records `id`; `true` the first time it is seen (within the memory's
    /// reach), `false` after.
    fn first_sighting<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<bool, StoreError>>;
}

/// Ids seen by this process: at most `capacity` of them, each for `ttl`.
pub struct MemoryDeduplicator {
    seen: Mutex<Seen>,
    capacity: usize,
    ttl: Duration,
}

#[derive(Default)]
struct Seen {
    at: HashMap<String, Instant>,
    order: VecDeque<(Instant, String)>,
}

impl MemoryDeduplicator {
    /// Remembers up to `capacity` ids, each for `ttl` (Meta retries for up
    /// to 7 days; a day or so covers nearly all duplicates).
    pub fn new(capacity: usize, ttl: Duration) -> MemoryDeduplicator {
        MemoryDeduplicator {
            seen: Mutex::new(Seen::default()),
            capacity: capacity.max(1),
            ttl,
        }
    }

    /// Whether `id` is new, recording it.
    pub fn check(&self, id: &str) -> bool {
        let now = Instant::now();
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        // Forget what is older than the TTL (the queue is in arrival order).
        while let Some((at, _)) = seen.order.front() {
            if now.saturating_duration_since(*at) < self.ttl {
                break;
            }
            let (at, old) = seen.order.pop_front().expect("checked");
            if seen.at.get(&old) == Some(&at) {
                seen.at.remove(&old);
            }
        }
        if seen.at.contains_key(id) {
            return false;
        }
        seen.at.insert(id.to_owned(), now);
        seen.order.push_back((now, id.to_owned()));
        while seen.at.len() > self.capacity {
            let Some((at, old)) = seen.order.pop_front() else {
                break;
            };
            if seen.at.get(&old) == Some(&at) {
                seen.at.remove(&old);
            }
        }
        true
    }
}

impl std::fmt::Debug for MemoryDeduplicator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryDeduplicator")
            .field("capacity", &self.capacity)
            .field("ttl", &self.ttl)
            .finish()
    }
}

impl Deduplicator for MemoryDeduplicator {
    fn first_sighting<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(std::future::ready(Ok(self.check(id))))
    }
}

/// Ids seen by any replica, in Redis (cargo feature `redis`): `SET
/// {prefix}:seen:{id} 1 NX PX ttl`, so the first replica to see an id wins.
#[cfg(feature = "redis")]
#[derive(Clone)]
pub struct RedisDeduplicator {
    conn: redis::aio::ConnectionManager,
    prefix: String,
    ttl: Duration,
    timeout: Duration,
}

#[cfg(feature = "redis")]
impl RedisDeduplicator {
    /// Ids under `prefix`, each remembered for `ttl`; each call waits on
    /// Redis at most 500 ms (then it fails with a `StoreError`: the caller
    /// decides whether to process or skip).
    pub fn new(
        conn: redis::aio::ConnectionManager,
        prefix: impl Into<String>,
        ttl: Duration,
    ) -> Self {
        RedisDeduplicator {
            conn,
            prefix: prefix.into(),
            ttl,
            timeout: Duration::from_millis(500),
        }
    }
}

#[cfg(feature = "redis")]
impl std::fmt::Debug for RedisDeduplicator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisDeduplicator")
            .field("prefix", &self.prefix)
            .field("ttl", &self.ttl)
            .finish()
    }
}

#[cfg(feature = "redis")]
impl Deduplicator for RedisDeduplicator {
    fn first_sighting<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let millis = u64::try_from(self.ttl.as_millis())
                .unwrap_or(u64::MAX)
                .max(1);
            let mut cmd = redis::cmd("SET");
            cmd.arg(format!("{}:seen:{id}", self.prefix))
                .arg(1)
                .arg("NX")
                .arg("PX")
                .arg(millis);
            let set = cmd.query_async::<Option<String>>(&mut conn);
            let error = |reason: String| StoreError::Io {
                location: format!("redis {}", self.prefix),
                reason,
            };
            match tokio::time::timeout(self.timeout, set).await {
                Ok(Ok(answer)) => Ok(answer.is_some()),
                Ok(Err(e)) => Err(error(e.to_string())),
                Err(_) => Err(error(format!("no answer within {:?}", self.timeout))),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn ids_are_new_once_within_the_ttl_and_the_capacity() {
        let seen = MemoryDeduplicator::new(3, Duration::from_secs(60));
        assert!(seen.check("a"));
        assert!(!seen.check("a"));
        assert!(seen.check("b") && seen.check("c"));
        assert!(!seen.check("b"));
        // A fourth id pushes the oldest out of a memory of three.
        assert!(seen.check("d"));
        assert!(seen.check("a"), "forgotten past the capacity");
        tokio::time::advance(Duration::from_secs(61)).await;
        assert!(seen.check("c"), "forgotten past the TTL");
        assert!(!seen.check("c"));
        assert!(seen.first_sighting("e").await.unwrap());
    }
}
