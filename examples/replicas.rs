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

#[path = "../tests/support/common/mod.rs"]
mod common;

use std::process::ExitCode;
use std::time::Duration;

use common::fake_graph::{FakeConfig, FakeGraph};
use common::redis_server::RedisServer;
use common::sender::{build_stack, send_batch, text_message};
use tower_whatsapp_auth::{store::RedisTokenStore, DEFAULT_GRAPH_VERSION};

const REPLICAS: usize = 8;
const PER_REPLICA: usize = 100;

#[tokio::main]
async fn main() -> ExitCode {
    let (url, _local) = match std::env::var("REDIS_URL") {
        Ok(url) => (url, None),
        Err(_) => {
            let server = RedisServer::start();
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

    let mut replicas = Vec::new();
    for i in 0..REPLICAS {
        let store = match RedisTokenStore::connect(&url, "whatsapp:replicas-example").await {
            Ok(store) => store,
            Err(e) => {
                eprintln!("error: replica {i} cannot reach Redis: {e}");
                return ExitCode::from(2);
            }
        };
        replicas.push(build_stack(
            fake.layer(&config).token_store(store),
            Duration::from_secs(30),
        ));
    }
    let body = text_message("15551234567", "hello from a replica");
    let url = fake.messages_url(DEFAULT_GRAPH_VERSION);
    let mut tasks = Vec::new();
    for (stack, _) in &replicas {
        let (stack, url, body) = (stack.clone(), url.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            send_batch(stack, &url, body, PER_REPLICA, PER_REPLICA, false).await
        }));
    }
    let mut summaries = Vec::new();
    for task in tasks {
        summaries.push(task.await.expect("replica task"));
    }

    let mut sent = 0;
    for (i, (summary, (_, cell))) in summaries.iter().zip(&replicas).enumerate() {
        let stats = cell.stats();
        println!(
            "replica {i}: {} sent, {} failed, token generation {}, own renewals {}",
            summary.sent,
            summary.failed_total(),
            stats.generation,
            stats.refreshes
        );
        sent += summary.sent;
    }
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
