//! 3. Expiry storm: 10,000 concurrent requests through one stack when the
//!    token has just expired (each is refused, one exchange renews the
//!    token, all are replayed), against the same 10,000 with a valid token.
//!    Every run asserts all 10,000 were accepted and exactly one exchange
//!    happened.
//!
//! ```text
//! cargo bench --bench expiry_storm
//! ```

mod support;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::Criterion;
use http::Request;
use support::graph::MemoryGraph;
use tower::{ServiceBuilder, ServiceExt};
use tower_whatsapp_auth::{ReplayBody, WhatsAppAuthLayer};

const REQUESTS: usize = 10_000;
const TOKEN: &str = "EAABenchInitial";

async fn storm(expired: bool) -> Duration {
    let graph = MemoryGraph::new(TOKEN, Duration::from_millis(5), false, false);
    if expired {
        graph.expire();
    }
    let stack = ServiceBuilder::new()
        .layer(
            WhatsAppAuthLayer::new(TOKEN)
                .graph_base("http://graph.invalid")
                .allow_plain_http(true)
                .app_credentials("1234", "app-secret")
                .without_validation(),
        )
        .service(graph.clone());
    let body = Bytes::from_static(
        br#"{"messaging_product":"whatsapp","to":"1555","type":"text","text":{"body":"storm"}}"#,
    );
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..REQUESTS {
        let req = Request::post("http://graph.invalid/v24.0/1/messages")
            .body(ReplayBody::from(body.clone()))
            .unwrap();
        tasks.spawn(stack.clone().oneshot(req));
    }
    while let Some(done) = tasks.join_next().await {
        assert_eq!(done.unwrap().unwrap().status(), 200);
    }
    let elapsed = started.elapsed();
    assert_eq!(
        graph.state.accepted.load(Ordering::Relaxed),
        REQUESTS as u64
    );
    assert_eq!(
        graph.state.exchanges.load(Ordering::Relaxed),
        u64::from(expired),
        "exactly one exchange per expiry"
    );
    elapsed
}

fn expiry_storm(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("expiry_storm");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(8));
    for (id, expired) in [("valid_token", false), ("token_expires", true)] {
        group.bench_function(id, |b| {
            b.to_async(&rt).iter_custom(|iters| async move {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    total += storm(expired).await;
                }
                total
            })
        });
    }
    group.finish();
}

fn main() {
    let started = std::time::SystemTime::now();
    let mut c = Criterion::default().configure_from_args();
    expiry_storm(&mut c);
    c.final_summary();
    println!("\n10,000 concurrent requests; every run asserted 1 exchange for the expiry and 10,000 accepted.");
    support::print_ratios(
        started,
        "expiry_storm",
        "valid_token",
        &["valid_token", "token_expires"],
    );
}
