//! [`RedisPace`]: a number's pace shared by every replica, kept in Redis
//! (cargo feature `redis`).

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use std::sync::LazyLock;

use redis::aio::ConnectionManager;

use super::lease::Grant;
use super::shared::{Ask, Budget, Leasing};
use crate::redis_conn::RedisConnection;

/// GCRA in Redis, on Redis's clock: the number's theoretical arrival time
/// (µs) under `KEYS[1]`, the replicas that leased lately in the sorted set
/// `KEYS[2]`. Grants `ARGV[3]` permits spaced `ARGV[1]` µs, with up to
/// `ARGV[2]` µs of credit after an idle spell, unless the first would come
/// more than `ARGV[4]` µs from now. Returns the first permit's wait (µs,
/// negative when already due), the permits granted and the replicas seen.
/// Keys expire once idle.
/// `ARGV[6]`: the client's clock (µs since the epoch), used where `TIME`
/// is refused in scripts (renamed away, or an ACL, as some managed
/// services do): pacing stays shared, on the clocks of the replicas.
static LEASE: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r#"
local t = redis.pcall('TIME')
local now
if type(t) == 'table' and t.err == nil and t[1] then
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
else
  now = tonumber(ARGV[6])
end
local period = tonumber(ARGV[1])
local credit = tonumber(ARGV[2])
local count = tonumber(ARGV[3])
local most = tonumber(ARGV[4])
redis.call('ZADD', KEYS[2], now, ARGV[5])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - 10000000)
redis.call('PEXPIRE', KEYS[2], 10000)
local replicas = redis.call('ZCARD', KEYS[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
if tat < now - credit then tat = now - credit end
local wait = tat - now
if wait > most then return {wait, 0, replicas} end
tat = tat + count * period
local ttl = math.floor((tat - now + credit) / 1000) + 1000
redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX', ttl)
return {wait, count, replicas}
"#,
    )
});

/// A number's pace shared by every replica through Redis (cargo feature
/// `redis`): one budget per phone number, a GCRA on Redis's clock, from
/// which each replica leases permits in small batches (one per request
/// waiting, at most [`lease`](RedisPace::lease) at a time), so a send
/// costs a round trip only when its replica has no permit left.
///
/// When Redis does not answer within the
/// [`store_timeout`](RedisPace::store_timeout), the replica paces the
/// number alone at its share (the pace divided by the replicas that leased
/// lately, or by [`replicas`](RedisPace::replicas) if more), and tries
/// Redis again a second later. Keys are `<prefix>:pace:{<number>}` and
/// `…:replicas` (the number a hash tag: on a Redis Cluster a number's keys
/// share a slot), and expire when the number is idle. Where scripts may
/// not call `TIME`, the replicas' clocks stand in for Redis's.
///
/// ```no_run
/// use tower_whatsapp_auth::throughput::{RedisPace, ThroughputLayer};
/// # async fn run() -> Result<(), redis::RedisError> {
/// let shared = RedisPace::connect("redis://127.0.0.1:6379/", "whatsapp:prod").await?;
/// let layer = ThroughputLayer::new(80).shared(shared.replicas(3));
/// # let _ = layer; Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisPace {
    conn: RedisConnection,
    prefix: String,
    replica: String,
    timeout: Duration,
    batch: u32,
    replicas: u32,
}

impl std::fmt::Debug for RedisPace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisPace")
            .field("prefix", &self.prefix)
            .field("replica", &self.replica)
            .field("timeout", &self.timeout)
            .field("batch", &self.batch)
            .field("replicas", &self.replicas)
            .finish()
    }
}

impl RedisPace {
    /// Connects to `url` (e.g. `redis://127.0.0.1:6379/`), with keys under
    /// `prefix`. The connection reconnects by itself after Redis restarts
    /// (see [`RedisConnection`] for Sentinel and Cluster).
    pub async fn connect(
        url: &str,
        prefix: impl Into<String>,
    ) -> Result<RedisPace, redis::RedisError> {
        Ok(RedisPace::new(RedisConnection::connect(url).await?, prefix))
    }

    /// A shared pace on `conn` (one node, Sentinel's master or a Cluster).
    pub fn new(conn: RedisConnection, prefix: impl Into<String>) -> RedisPace {
        RedisPace {
            conn,
            prefix: prefix.into(),
            replica: replica_id(),
            timeout: Duration::from_millis(200),
            batch: 8,
            replicas: 1,
        }
    }

    /// A shared pace over an existing connection manager (used as it is:
    /// not connected again after a `READONLY`).
    pub fn from_connection(conn: ConnectionManager, prefix: impl Into<String>) -> RedisPace {
        RedisPace::new(RedisConnection::from_manager(conn), prefix)
    }

    /// How long a lease may take before this replica paces alone (default
    /// 200 ms).
    pub fn store_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// The most permits leased at once (default 8): more saves round trips,
    /// fewer wastes less of the budget when traffic stops.
    pub fn lease(mut self, permits: u32) -> Self {
        self.batch = permits.max(1);
        self
    }

    /// How many replicas share the numbers at least (default 1): while
    /// Redis is unreachable, each paces at the pace divided by this (or by
    /// the replicas Redis saw lately, if more).
    pub fn replicas(mut self, replicas: u32) -> Self {
        self.replicas = replicas.max(1);
        self
    }
}

/// A name no other replica has.
fn replica_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    format!("{}-{:016x}", std::process::id(), hasher.finish())
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

impl Budget for RedisPace {
    fn lease(&self, number: &str, ask: Ask) -> Leasing {
        let conn = self.conn.clone();
        let key = format!("{}:pace:{{{number}}}", self.prefix);
        let replica = self.replica.clone();
        Box::pin(async move {
            let period = micros(ask.period).max(1);
            let credit = micros(ask.burst.saturating_sub(ask.period));
            let reply: Vec<i64> = conn
                .run(|mut conn| {
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, micros);
                    let mut invocation = LEASE.prepare_invoke();
                    invocation
                        .key(&key)
                        .key(format!("{key}:replicas"))
                        .arg(period)
                        .arg(credit)
                        .arg(ask.count)
                        .arg(micros(ask.max_wait))
                        .arg(&replica)
                        .arg(now);
                    Box::pin(async move { invocation.invoke_async(&mut conn).await })
                })
                .await
                .map_err(|e| e.to_string())?;
            let [wait_us, count, replicas] = reply[..] else {
                return Err(format!("unexpected reply {reply:?}"));
            };
            Ok(Grant {
                wait_us,
                period: Duration::from_micros(period),
                count: u32::try_from(count).unwrap_or(0),
                replicas: u32::try_from(replicas).unwrap_or(1),
            })
        })
    }

    fn timeout(&self) -> Duration {
        self.timeout
    }

    fn batch(&self) -> u32 {
        self.batch
    }

    fn replicas(&self) -> u32 {
        self.replicas
    }
}
