//! Eight client stacks in one process, as eight replicas would run, each
//! with its own Redis connection, share one token through `RedisTokenStore`.
//! The token expires mid-run; the replicas make one exchange between them.
//!
//! ```text
//! cargo run --features redis --example replicas
//! ```
//!
//! Uses the Redis at `REDIS_URL`, or starts `redis-server` on a free port
//! of 127.0.0.1 when the variable is unset. Exits 0 when every message was
//! accepted with exactly one exchange.

#[path = "../tests/support/common/fake_graph/mod.rs"]
mod fake_graph;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use fake_graph::{FakeConfig, FakeGraph};
use http::Request;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::task::JoinSet;
use tower::timeout::TimeoutLayer;
use tower::{ServiceBuilder, ServiceExt};
use tower_whatsapp_auth::store::RedisTokenStore;
use tower_whatsapp_auth::{ReplayBody, WhatsAppAuthLayer, DEFAULT_GRAPH_VERSION};

const REPLICAS: usize = 8;
const PER_REPLICA: usize = 100;

#[tokio::main]
async fn main() -> ExitCode {
    let (url, _local) = match std::env::var("REDIS_URL") {
        Ok(url) => (url, None),
        Err(_) => {
            let server = LocalRedis::start();
            (server.url(), Some(server))
        }
    };
    let config = FakeConfig {
        app_secret: Some("fake-app-secret".into()),
        token_uses: Some(60),
        ..FakeConfig::default()
    };
    let fake = FakeGraph::start(config.clone()).await;
    fake.set_exchange_delay(Duration::from_millis(200));
    println!(
        "fake Graph API on {}, Redis at {url}; the token expires after 60 messages",
        fake.base_url()
    );

    // One stack per replica, each with its own Redis connection: a timeout
    // per request, the auth layer keeping its token in Redis, and a hyper
    // client (plain HTTP, to the fake on loopback).
    let mut replicas = Vec::new();
    for i in 0..REPLICAS {
        let store = match RedisTokenStore::connect(&url, "whatsapp:replicas-example").await {
            Ok(store) => store,
            Err(e) => {
                eprintln!("error: replica {i} cannot reach Redis: {e}");
                return ExitCode::from(2);
            }
        };
        let auth = WhatsAppAuthLayer::new(config.token.as_str())
            .phone_number_id(config.phone_number_id.as_str())
            .graph_base(fake.base_url())
            .app_credentials(config.app_id.as_str(), "fake-app-secret")
            .token_store(store);
        let cell = auth.cell();
        let client = Client::builder(TokioExecutor::new()).build_http::<ReplayBody>();
        let stack = ServiceBuilder::new()
            .layer(TimeoutLayer::new(Duration::from_secs(30)))
            .layer(auth)
            .service(client);
        replicas.push((stack, cell));
    }

    // Every replica sends its messages at once.
    let body = Bytes::from(
        serde_json::json!({
            "messaging_product": "whatsapp",
            "to": "15551234567",
            "type": "text",
            "text": { "body": "hello from a replica" },
        })
        .to_string(),
    );
    let messages = fake.messages_url(DEFAULT_GRAPH_VERSION);
    let mut sends = JoinSet::new();
    for (i, (stack, _)) in replicas.iter().enumerate() {
        for _ in 0..PER_REPLICA {
            let req = Request::post(&messages)
                .header("content-type", "application/json")
                .body(Full::new(body.clone()))
                .expect("a valid request");
            let stack = stack.clone();
            sends.spawn(async move {
                let accepted = match stack.oneshot(req).await {
                    Ok(res) => {
                        let ok = res.status().is_success();
                        ok && res.into_body().collect().await.is_ok()
                    }
                    Err(_) => false,
                };
                (i, accepted)
            });
        }
    }
    let mut sent_by = [0; REPLICAS];
    while let Some(done) = sends.join_next().await {
        let (i, accepted) = done.expect("a send task");
        sent_by[i] += usize::from(accepted);
    }

    for (i, (sent, (_, cell))) in sent_by.iter().zip(&replicas).enumerate() {
        let stats = cell.stats();
        println!(
            "replica {i}: {sent} sent, {} failed, token generation {}, own renewals {}",
            PER_REPLICA - sent,
            stats.generation,
            stats.refreshes
        );
    }
    let sent: usize = sent_by.iter().sum();
    let graph = fake.counters();
    println!(
        "Graph saw {} message requests ({} refused with 190 and replayed) and {} token exchange(s) for {REPLICAS} replicas",
        graph.message_requests, graph.rejected_190, graph.exchanges
    );
    if sent == REPLICAS * PER_REPLICA && graph.exchanges == 1 {
        println!("replicas OK: one exchange cluster-wide");
        ExitCode::SUCCESS
    } else {
        println!("replicas FAILED");
        ExitCode::FAILURE
    }
}

/// A `redis-server` of this example's own, on a free port of 127.0.0.1,
/// stopped when dropped.
struct LocalRedis {
    child: Child,
    port: u16,
}

impl LocalRedis {
    fn start() -> LocalRedis {
        let free = TcpListener::bind("127.0.0.1:0").expect("a free port");
        let port = free.local_addr().expect("its address").port();
        drop(free);
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect(
                "redis-server must be installed (apt-get install redis-server), or REDIS_URL set",
            );
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let started = Instant::now();
        while TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        LocalRedis { child, port }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

impl Drop for LocalRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
