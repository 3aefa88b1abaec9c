//! Many businesses, one stack, in memory (see `support::tenant_graph`):
//!
//! 1. Hot path, paired round by round, all with app credentials: a
//!    message through the tenant-aware stack for one tenant against the
//!    one-token stack; and for 1,000 resident tenants in a shuffled order
//!    against 1,000 one-token stacks in that order (what a platform writes
//!    by hand, found without a lock: the floor for touching 1,000 tokens).
//! 2. 10,000 resident tenants, each validated and used once: the resident
//!    memory each one adds (RSS, as the process sees it), then 50 minutes
//!    of them idle (on a paused clock): no timer fires, no Graph call.
//! 3. A cold start: 10,000 tenants' first messages at once: each tenant
//!    validated exactly once, never more than 16 validations in flight.
//!
//! ```text
//! cargo bench --bench tenants
//! ```
//!
//! `cargo bench -- --test` runs each once, with 1,000 tenants, asserting
//! what it claims.

mod support;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use criterion::Criterion;
use http::Request;
use http_body_util::Full;
use support::tenant_graph::{token_of, TenantGraph};
use tokio::runtime::Runtime;
use tower::{Layer, Service, ServiceExt};
use tower_whatsapp_auth::tenants::{tenant_fn, Tenant, WhatsAppTenantsLayer};
use tower_whatsapp_auth::WhatsAppAuthLayer;

const BODY: &[u8] =
    br#"{"messaging_product":"whatsapp","to":"15551234567","type":"text","text":{"body":"hi"}}"#;

fn phone(n: usize) -> String {
    format!("1065{n:011}")
}

fn message(from: &str) -> Request<Full<Bytes>> {
    Request::post(format!("/{from}/messages"))
        .body(Full::new(Bytes::from_static(BODY)))
        .unwrap()
}

/// Every phone number is a tenant, with its own token and account.
fn layer() -> WhatsAppTenantsLayer {
    let source = tenant_fn(|phone: String| async move {
        let tenant = Tenant::new(token_of(&phone)).waba_id(format!("waba{phone}"));
        Ok::<_, tower::BoxError>(Some(tenant))
    });
    WhatsAppTenantsLayer::new(source)
        .configure(|auth| auth.app_credentials("1234", "app-secret"))
        .idle_after(Duration::from_secs(2 * 3600))
        .max_tenants(100_000)
}

async fn send<S>(stack: &S, from: &str)
where
    S: Service<Request<Full<Bytes>>> + Clone,
    S::Error: std::fmt::Debug,
    S::Response: std::fmt::Debug,
{
    stack.clone().oneshot(message(from)).await.unwrap();
}

fn hot_path(c: &mut Criterion, rt: &Runtime) {
    let graph = TenantGraph::default();
    let tenants = layer().layer(graph.clone());
    let phones: Arc<Vec<String>> = Arc::new((0..1000).map(phone).collect());
    rt.block_on(async {
        for p in phones.iter() {
            send(&tenants, p).await;
        }
    });
    let one = WhatsAppAuthLayer::new(token_of(&phones[0]))
        .app_credentials("1234", "app-secret")
        .layer(graph.clone());
    rt.block_on(one.token_cell().ready()).unwrap();
    let mut group = c.benchmark_group("tenants_hot_path");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    group.bench_function("one_token", |b| {
        b.to_async(rt).iter(|| send(&one, &phones[0]))
    });
    let mut turn = 0;
    group.bench_function("tenants", |b| {
        b.to_async(rt).iter(|| {
            turn = (turn + 1) % phones.len();
            send(&tenants, &phones[turn])
        })
    });
    group.finish();
    let same = tenants.clone();
    // `TENANTS_CALLS=<one_token|one_tenant>:<n>`: only `n` messages through
    // one of the two, for an instruction count (see benches/README.md).
    if let Ok(only) = std::env::var("TENANTS_CALLS") {
        let (id, n) = only.split_once(':').expect("TENANTS_CALLS=<id>:<messages>");
        let n: usize = n.parse().expect("a number of messages");
        rt.block_on(async {
            for _ in 0..n {
                match id {
                    "one_token" => send(&one, &phones[0]).await,
                    "one_tenant" => send(&same, &phones[0]).await,
                    _ => panic!("one_token or one_tenant"),
                }
            }
        });
        std::process::exit(0);
    }
    let one_tenant: Vec<support::Timed> = vec![
        ("one_token", support::timed(rt, || send(&one, &phones[0]))),
        (
            "tenants (one tenant)",
            support::timed(rt, || send(&same, &phones[0])),
        ),
    ];
    support::print_paired("tenants_hot_path", one_tenant, 31, 10_000, "messages");
    // What a platform writes by hand for 1,000 businesses, at its fastest
    // (a stack per business, found without a lock), against the tenant
    // stack: both touch 1,000 tokens' worth of memory in turn.
    let stacks: Arc<Vec<_>> = Arc::new(
        phones
            .iter()
            .map(|p| {
                WhatsAppAuthLayer::new(token_of(p))
                    .app_credentials("1234", "app-secret")
                    .layer(graph.clone())
            })
            .collect(),
    );
    rt.block_on(async {
        for stack in stacks.iter() {
            stack.token_cell().ready().await.unwrap();
        }
    });
    // Businesses write in no particular order: both take the 1,000 in
    // one shuffled order (taking them in the order they were made would
    // let the CPU prefetch one stack's memory after another's).
    let order: Arc<Vec<usize>> = Arc::new(shuffled(1000));
    let (mut next, mut turn) = (0, 0);
    let (in_turn, order_too) = (phones.clone(), order.clone());
    let many: Vec<support::Timed> = vec![
        (
            "1,000 one-token stacks, shuffled",
            support::timed(rt, move || {
                next = (next + 1) % 1000;
                let (stacks, phones, n) = (stacks.clone(), in_turn.clone(), order[next]);
                async move { send(&stacks[n], &phones[n]).await }
            }),
        ),
        (
            "tenants (1,000 resident, shuffled)",
            support::timed(rt, move || {
                turn = (turn + 1) % 1000;
                let (tenants, phones, n) = (tenants.clone(), phones.clone(), order_too[turn]);
                async move { send(&tenants, &phones[n]).await }
            }),
        ),
    ];
    support::print_paired("tenants_hot_path", many, 31, 10_000, "messages");
    assert_eq!(
        graph.get(|c| &c.wrong),
        0,
        "a token on another business's number"
    );
}

/// 0..n in a shuffled order, the same every run.
fn shuffled(n: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    let mut rng = fastrand::Rng::with_seed(21);
    rng.shuffle(&mut order);
    order
}

/// Resident memory of this process, in bytes (Linux).
fn rss() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// A runtime on a paused clock: idle time passes without waiting for it.
fn paused_runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap()
}

fn resident_and_idle(count: usize) {
    let rt = paused_runtime();
    rt.block_on(async {
        let graph = TenantGraph::default();
        let stack = layer().layer(graph.clone());
        send(&stack, &phone(0)).await; // the shared parts, before measuring
        let before = rss();
        for n in 1..=count {
            send(&stack, &phone(n)).await;
        }
        let after = rss();
        assert_eq!(stack.tenants().len(), count + 1);
        assert_eq!(graph.get(|c| &c.validations), count as u64 + 1);
        if let (Some(before), Some(after)) = (before, after) {
            let each = after.saturating_sub(before) as f64 / count as f64;
            println!(
                "tenants: {count} resident tenants, {each:.0} bytes ({:.2} KiB) of resident memory each (RSS, {before} -> {after})",
                each / 1024.0
            );
        }
        // 50 minutes idle, a minute at a time.
        let (validations, messages) = (graph.get(|c| &c.validations), graph.get(|c| &c.messages));
        for _ in 0..50 {
            tokio::time::advance(Duration::from_secs(60)).await;
            tokio::task::yield_now().await;
        }
        assert_eq!(
            graph.get(|c| &c.validations),
            validations,
            "idle tenants called Graph"
        );
        assert_eq!(graph.get(|c| &c.messages), messages);
        assert_eq!(stack.tenants().len(), count + 1, "still resident");
        println!("tenants: 50 minutes idle: no validation, renewal or other Graph call");
    });
}

fn cold_start(count: usize) {
    let rt = paused_runtime();
    rt.block_on(async {
        let graph = TenantGraph::with_delay(Duration::from_millis(20));
        let stack = layer().max_validations_in_flight(16).layer(graph.clone());
        let mut sends = tokio::task::JoinSet::new();
        for n in 0..count {
            let stack = stack.clone();
            sends.spawn(async move { send(&stack, &phone(n)).await });
        }
        while let Some(done) = sends.join_next().await {
            done.unwrap();
        }
        assert_eq!(
            graph.get(|c| &c.validations),
            count as u64,
            "each exactly once"
        );
        let most = graph.get(|c| &c.most_in_flight);
        assert!(
            (1..=16).contains(&most),
            "{most} validations in flight at once"
        );
        assert_eq!(graph.get(|c| &c.messages), count as u64);
        println!("tenants: cold start of {count}: {count} validations, at most {most} in flight");
    });
}

fn main() {
    let test = support::test_mode();
    let rt = Arc::new(
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap(),
    );
    let mut c = Criterion::default().configure_from_args();
    hot_path(&mut c, &rt);
    c.final_summary();
    let count = if test { 1_000 } else { 10_000 };
    resident_and_idle(count);
    cold_start(count);
}
