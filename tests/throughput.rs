//! The shaper over real sockets: the `send` example (and the client stack
//! it uses) against the embedded Graph fake enforcing a per-number rate, a
//! token bucket of one second's worth beyond which it answers 130429.
//! Wall-clock tests of seconds: the fake's rate is real time. The pacing
//! decisions themselves are unit-tested under paused time in
//! `src/throughput/`.
#![cfg(all(feature = "throughput", feature = "retry"))]

#[path = "support/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::fake_graph::throughput::Rates;
use common::fake_graph::{FakeConfig, FakeGraph};
use common::run::{env_for, printed, run_example};
use common::sender::{build_stack_paced, send_batch, text_message};
use tower_whatsapp_auth::DEFAULT_GRAPH_VERSION;

const NUMBER: &str = "106540352242922";
const OTHER: &str = "106540352242999";

fn config(rates: Rates) -> FakeConfig {
    FakeConfig {
        phone_number_id: NUMBER.into(),
        throughput: rates,
        ..FakeConfig::default()
    }
}

/// Runs `send` with `count` messages at `concurrency` in flight and
/// `--mps 80`; the exit code, what it printed, and how long it took.
async fn send(
    fake: &FakeGraph,
    config: &FakeConfig,
    count: usize,
    concurrency: usize,
) -> (Option<i32>, String, Duration) {
    let (count, concurrency) = (count.to_string(), concurrency.to_string());
    let args = [
        "--to",
        "15551234567",
        "--text",
        "hi",
        "--count",
        &count,
        "--concurrency",
        &concurrency,
        "--mps",
        "80",
    ];
    let started = Instant::now();
    let out = run_example("send", &env_for(fake, config), &args).await;
    (out.status.code(), printed(&out), started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_number_that_takes_80_a_second_gets_800_messages_in_ten_seconds_unrefused() {
    let config = config(Rates::new().limit(NUMBER, 80.0));
    let fake = FakeGraph::start(config.clone()).await;
    let (code, shown, took) = send(&fake, &config, 800, 128).await;
    let seen = fake.throughput(NUMBER);
    println!(
        "800 at 128 in flight, 80/s: {took:.2?}, {} refusals, busiest second {}",
        seen.refused,
        seen.busiest_second()
    );
    assert_eq!(code, Some(0), "{shown}");
    assert!(shown.contains("summary: 800 sent, 0 failed"), "{shown}");
    let graph = fake.counters();
    assert_eq!((graph.messages_accepted, graph.duplicates), (800, 0));
    assert!(seen.refused <= 2, "{} refusals", seen.refused);
    assert!(
        took <= Duration::from_millis(12_500),
        "{took:?} for an ideal 10 s"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_number_that_takes_only_20_a_second_is_found_and_every_message_goes_once() {
    // 130429 under HTTP 429 here (400 above): the code decides, not the status.
    let config = config(Rates::new().limit(NUMBER, 20.0).status(429));
    let fake = FakeGraph::start(config.clone()).await;
    let (code, shown, took) = send(&fake, &config, 400, 64).await;
    let seen = fake.throughput(NUMBER);
    println!(
        "400 at 64 in flight, 20/s: {took:.2?}, {} refusals, busiest second {}",
        seen.refused,
        seen.busiest_second()
    );
    assert_eq!(code, Some(0), "{shown}");
    assert!(shown.contains("summary: 400 sent, 0 failed"), "{shown}");
    let graph = fake.counters();
    assert_eq!(
        (graph.messages_accepted, graph.duplicates),
        (400, 0),
        "accepted exactly once"
    );
    assert!(seen.refused <= 100, "{} refusals", seen.refused);
    assert!(
        took <= Duration::from_secs(30),
        "{took:?} for an ideal 20 s"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_limited_number_does_not_slow_another_one() {
    let rates = Rates::new().limit(NUMBER, 20.0).limit(OTHER, 80.0);
    let config = config(rates);
    let fake = FakeGraph::start(config.clone()).await;
    // One stack, one shaper, both numbers.
    let (stack, cell) = build_stack_paced(fake.layer(&config), Duration::from_secs(30), 3, 80);
    cell.ready().await.unwrap();
    let url = |number: &str| {
        format!(
            "{}/{DEFAULT_GRAPH_VERSION}/{number}/messages",
            fake.base_url()
        )
    };
    let body = text_message("15551234567", "hi");
    let (to_limited, to_other) = (url(NUMBER), url(OTHER));
    let limited = send_batch(stack.clone(), &to_limited, body.clone(), 100, 32, false);
    let other = send_batch(stack, &to_other, body, 240, 32, false);
    let (limited, other) = tokio::join!(limited, other);
    let (on_limited, on_other) = (fake.throughput(NUMBER), fake.throughput(OTHER));
    println!(
        "limited: {} sent in {:.2?}, {} refusals; other: {} sent in {:.2?}, {} refusals",
        limited.sent,
        limited.elapsed,
        on_limited.refused,
        other.sent,
        other.elapsed,
        on_other.refused
    );
    assert_eq!(other.sent, 240, "{other:?}");
    assert!(
        other.elapsed <= Duration::from_millis(3_750),
        "{:?} for an ideal 3 s",
        other.elapsed
    );
    assert_eq!(on_other.refused, 0);
    // The limited one was refused, slowed, and still delivered everything.
    assert!(on_limited.refused > 0);
    assert_eq!(limited.sent, 100, "{limited:?}");
    assert_eq!(fake.counters().duplicates, 0);
}
