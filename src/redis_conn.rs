//! [`RedisConnection`]: the Redis that the token store and the shared pace
//! talk to, however it is deployed (cargo feature `redis`): one node, the
//! master a Sentinel names, or a Redis Cluster (feature `redis-cluster`).
//!
//! A single node answering `READONLY` (a master demoted by a failover, as
//! managed services and Sentinel do) is connected to again, the master
//! resolved afresh through the Sentinels when there are some, and the call
//! made once more: redis-rs's `ConnectionManager` reconnects only after a
//! dropped connection, and then to the same address. A single-node
//! connection that meets a cluster (`MOVED`, `CROSSSLOT`, `CLUSTERDOWN`)
//! fails with one error saying to connect to the cluster as one.
//!
//! ```no_run
//! # #[cfg(feature = "throughput")]
//! # async fn run() -> Result<(), redis::RedisError> {
//! use tower_whatsapp_auth::{RedisConnection, store::RedisTokenStore};
//! use tower_whatsapp_auth::throughput::RedisPace;
//! let redis = RedisConnection::sentinel(&["redis://10.0.0.5:26379"], "mymaster").await?;
//! let store = RedisTokenStore::new(redis.clone(), "whatsapp:prod");
//! let pace = RedisPace::new(redis, "whatsapp:prod");
//! # let _ = (store, pace); Ok(()) }
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::sentinel::{SentinelClient, SentinelServerType};
use redis::{
    Cmd, ErrorKind, Pipeline, RedisError, RedisFuture, RedisResult, ServerErrorKind, Value,
};

use crate::bounds::BoxFuture;

/// A connection to Redis shared by every clone: cheap to clone, safe to
/// use from many tasks at once.
#[derive(Clone)]
pub struct RedisConnection {
    inner: Arc<Inner>,
}

enum Inner {
    Node(Box<Node>),
    #[cfg(feature = "redis-cluster")]
    Cluster(redis::cluster_async::ClusterConnection),
}

/// One node, and how to reach it (or its successor) again.
struct Node {
    current: ArcSwap<ConnectionManager>,
    origin: Origin,
    /// Bumped by each new connection: of many calls that saw `READONLY`
    /// on one connection, one connects again.
    generation: AtomicU64,
    reconnecting: tokio::sync::Mutex<()>,
}

enum Origin {
    /// A connection the application made: used as it is.
    Given,
    Url(redis::Client),
    Sentinel(tokio::sync::Mutex<SentinelClient>),
}

fn manager_config() -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_millis(500)))
        .set_response_timeout(Some(Duration::from_millis(500)))
        .set_number_of_retries(2)
        .set_max_delay(Duration::from_millis(500))
}

impl RedisConnection {
    /// One Redis at `url` (`redis://host:port/`, or `rediss://` with the
    /// `redis-tls` feature). Reconnects by itself after a restart, and to
    /// the node the name resolves to after a `READONLY`.
    pub async fn connect(url: &str) -> RedisResult<RedisConnection> {
        tls::check(url)?;
        let client = redis::Client::open(url)?;
        let manager = client
            .get_connection_manager_with_config(manager_config())
            .await?;
        Ok(RedisConnection::node(manager, Origin::Url(client)))
    }

    /// `rediss://` to one Redis, trusting `root_cert` (PEM: your own CA)
    /// instead of the system's roots, or the system's roots when `None`
    /// (cargo feature `redis-tls`).
    #[cfg(feature = "redis-tls")]
    pub async fn connect_tls(url: &str, root_cert: Option<&[u8]>) -> RedisResult<RedisConnection> {
        tls::check(url)?;
        let certificates = redis::TlsCertificates {
            client_tls: None,
            root_cert: root_cert.map(<[u8]>::to_vec),
        };
        let client = redis::Client::build_with_tls(url, certificates)?;
        let manager = client
            .get_connection_manager_with_config(manager_config())
            .await?;
        Ok(RedisConnection::node(manager, Origin::Url(client)))
    }

    /// The master that the Sentinels at `sentinels` (`redis://host:26379`)
    /// name for `service`, asked again whenever the connection fails or
    /// the node it reaches answers `READONLY` (a failover happened).
    pub async fn sentinel(sentinels: &[&str], service: &str) -> RedisResult<RedisConnection> {
        let mut client = SentinelClient::build(
            sentinels.to_vec(),
            // A String: with TLS compiled in redis-rs takes any `AsRef<str>`,
            // without it only a String.
            #[allow(clippy::unnecessary_to_owned)]
            service.to_owned(),
            None,
            SentinelServerType::Master,
        )?;
        let master = client.async_get_client().await?;
        let manager = master
            .get_connection_manager_with_config(manager_config())
            .await?;
        Ok(RedisConnection::node(
            manager,
            Origin::Sentinel(tokio::sync::Mutex::new(client)),
        ))
    }

    /// A Redis Cluster, discovered from any of `nodes` (cargo feature
    /// `redis-cluster`). Each key the crate writes is hash-tagged, so a
    /// token and its lock (a number's pace and its replicas) share a slot.
    #[cfg(feature = "redis-cluster")]
    pub async fn cluster(nodes: &[&str]) -> RedisResult<RedisConnection> {
        let client = redis::cluster::ClusterClientBuilder::new(nodes.to_vec())
            .connection_timeout(Duration::from_millis(500))
            .response_timeout(Duration::from_millis(500))
            .overall_response_timeout(Some(Duration::from_secs(2)))
            .retries(4)
            .min_retry_wait(50)
            .max_retry_wait(500)
            .build()?;
        Ok(RedisConnection {
            inner: Arc::new(Inner::Cluster(client.get_async_connection().await?)),
        })
    }

    /// A connection the application made, used as it is (it is not
    /// replaced after a `READONLY`).
    pub fn from_manager(manager: ConnectionManager) -> RedisConnection {
        RedisConnection::node(manager, Origin::Given)
    }

    fn node(manager: ConnectionManager, origin: Origin) -> RedisConnection {
        RedisConnection {
            inner: Arc::new(Inner::Node(Box::new(Node {
                current: ArcSwap::from_pointee(manager),
                origin,
                generation: AtomicU64::new(0),
                reconnecting: tokio::sync::Mutex::new(()),
            }))),
        }
    }

    /// Whether this is a Redis Cluster connection.
    pub fn is_cluster(&self) -> bool {
        !matches!(*self.inner, Inner::Node(_))
    }

    /// Runs `call` on the connection. On a single node, a `READONLY` (or,
    /// through Sentinels, a failed connection) connects again; after a
    /// `READONLY` (which did nothing) the call is run once more. A
    /// cluster's answer is an error naming the fix.
    // Without the `redis-cluster` feature there is only the node.
    #[allow(clippy::infallible_destructuring_match)]
    pub(crate) async fn run<T>(
        &self,
        call: impl Fn(AnyConnection) -> BoxFuture<'static, RedisResult<T>>,
    ) -> RedisResult<T> {
        let node = match &*self.inner {
            Inner::Node(node) => node,
            #[cfg(feature = "redis-cluster")]
            Inner::Cluster(cluster) => return call(AnyConnection::Cluster(cluster.clone())).await,
        };
        let generation = node.generation.load(Ordering::Acquire);
        let result = call(AnyConnection::Node((**node.current.load()).clone())).await;
        let Err(error) = &result else {
            return result;
        };
        if let Some(why) = cluster_answer(error) {
            return Err(RedisError::from((
                ErrorKind::Client,
                "this Redis is a cluster, and the connection speaks to one node",
                format!("it answered {why}: connect with RedisConnection::cluster (cargo feature redis-cluster)"),
            )));
        }
        if !node.lost_master(error) {
            return result;
        }
        node.reconnect(generation).await?;
        // Only a READONLY answer says the call did nothing: after a timeout
        // or a lost connection it may have taken effect (a lock taken, a
        // lease charged), so the caller hears the error and decides.
        if error.kind() != ErrorKind::Server(ServerErrorKind::ReadOnly) {
            return result;
        }
        call(AnyConnection::Node((**node.current.load()).clone())).await
    }
}

impl Node {
    /// Whether `error` says this connection no longer reaches the master.
    fn lost_master(&self, error: &RedisError) -> bool {
        let read_only = error.kind() == ErrorKind::Server(ServerErrorKind::ReadOnly);
        match self.origin {
            Origin::Given => false,
            Origin::Url(_) => read_only,
            Origin::Sentinel(_) => {
                read_only || error.is_unrecoverable_error() || error.is_timeout()
            }
        }
    }

    /// A new connection, unless another call made one since `seen`.
    async fn reconnect(&self, seen: u64) -> RedisResult<()> {
        let _one = self.reconnecting.lock().await;
        if self.generation.load(Ordering::Acquire) != seen {
            return Ok(());
        }
        let client = match &self.origin {
            Origin::Given => return Ok(()),
            Origin::Url(client) => client.clone(),
            Origin::Sentinel(sentinels) => sentinels.lock().await.async_get_client().await?,
        };
        let manager = client
            .get_connection_manager_with_config(manager_config())
            .await?;
        self.current.store(Arc::new(manager));
        self.generation.fetch_add(1, Ordering::Release);
        tracing::warn!("Redis answered as a replica or went away: connected to the master again");
        Ok(())
    }
}

/// The cluster redirection a single-node connection met, if any.
fn cluster_answer(error: &RedisError) -> Option<&'static str> {
    match error.kind() {
        ErrorKind::Server(ServerErrorKind::Moved) => Some("MOVED"),
        ErrorKind::Server(ServerErrorKind::Ask) => Some("ASK"),
        ErrorKind::Server(ServerErrorKind::CrossSlot) => Some("CROSSSLOT"),
        ErrorKind::Server(ServerErrorKind::ClusterDown) => Some("CLUSTERDOWN"),
        _ => None,
    }
}

impl std::fmt::Debug for RedisConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match &*self.inner {
            Inner::Node(node) => match node.origin {
                Origin::Given => "given",
                Origin::Url(_) => "node",
                Origin::Sentinel(_) => "sentinel",
            },
            #[cfg(feature = "redis-cluster")]
            Inner::Cluster(_) => "cluster",
        };
        f.debug_struct("RedisConnection")
            .field("kind", &kind)
            .finish()
    }
}

/// The connection a call runs on: a node's manager or the cluster's.
#[derive(Clone)]
pub(crate) enum AnyConnection {
    Node(ConnectionManager),
    #[cfg(feature = "redis-cluster")]
    Cluster(redis::cluster_async::ClusterConnection),
}

impl ConnectionLike for AnyConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            AnyConnection::Node(c) => c.req_packed_command(cmd),
            #[cfg(feature = "redis-cluster")]
            AnyConnection::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            AnyConnection::Node(c) => c.req_packed_commands(pipeline, offset, count),
            #[cfg(feature = "redis-cluster")]
            AnyConnection::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            AnyConnection::Node(c) => c.get_db(),
            #[cfg(feature = "redis-cluster")]
            AnyConnection::Cluster(c) => c.get_db(),
        }
    }
}

/// `rediss://` URLs: a crypto provider for rustls, or a clear error
/// without the `redis-tls` feature.
mod tls {
    use redis::RedisResult;
    #[cfg(not(feature = "redis-tls"))]
    use redis::{ErrorKind, RedisError};

    fn is_tls(url: &str) -> bool {
        let scheme = url.split("://").next().unwrap_or("");
        scheme.eq_ignore_ascii_case("rediss") || scheme.eq_ignore_ascii_case("valkeys")
    }

    pub(super) fn check(url: &str) -> RedisResult<()> {
        if !is_tls(url) {
            return Ok(());
        }
        #[cfg(feature = "redis-tls")]
        {
            // Whichever provider the application installed stays; else ring.
            let _ = rustls::crypto::ring::default_provider().install_default();
            Ok(())
        }
        #[cfg(not(feature = "redis-tls"))]
        Err(RedisError::from((
            ErrorKind::InvalidClientConfig,
            "a rediss:// URL needs TLS",
            "enable the cargo feature redis-tls".to_owned(),
        )))
    }
}

#[cfg(all(test, not(feature = "redis-tls")))]
mod tests {
    #[tokio::test]
    async fn a_tls_url_without_the_feature_says_which_feature() {
        let err = super::RedisConnection::connect("rediss://127.0.0.1:1/")
            .await
            .expect_err("refused");
        assert!(err.to_string().contains("redis-tls"), "{err}");
    }
}
