//! What a hostile or broken upstream sends cannot panic or stall the
//! stack: wait headers no calendar holds, numbers past `u64`, negative and
//! malformed values. The examples run here are debug builds, with overflow
//! checks on.
#![cfg(all(feature = "throughput", feature = "retry"))]

#[path = "support/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::fake_graph::{FakeConfig, FakeGraph};
use common::run::{env_for, printed, run_example};

/// Every second message is first refused with 130429, each carrying the
/// next of these header sets in turn.
fn hostile_wait_headers() -> Vec<Vec<(&'static str, String)>> {
    let one = |name, value: &str| vec![(name, value.to_owned())];
    vec![
        // A date no calendar holds (a debug build once panicked on it).
        one("retry-after", "Sun, 06 Nov 99999999999999 08:49:37 GMT"),
        one("retry-after", "soon, maybe"),
        one("retry-after", "-120"),
        // Past u64.
        one("retry-after", "184467440737095516160"),
        // Valid, and far too far: not waited, reported.
        one("retry-after", "Fri, 31 Dec 9999 23:59:59 GMT"),
        // Minutes past what any wait allows: not waited, reported.
        one(
            "x-business-use-case-usage",
            r#"{"1":[{"type":"whatsapp","call_count":1e308,"estimated_time_to_regain_access":1e308}]}"#,
        ),
        one(
            "x-app-usage",
            r#"{"call_count":-1,"total_time":"NaN","total_cputime":1e999}"#,
        ),
        // u64::MAX seconds: not waited, reported.
        one("retry-after", "18446744073709551615"),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_survives_wait_headers_no_clock_holds() {
    let config = FakeConfig {
        throttle_every: Some(2),
        throttle_headers: hostile_wait_headers(),
        ..FakeConfig::default()
    };
    let fake = FakeGraph::start(config.clone()).await;
    let args = [
        "--to",
        "15551234567",
        "--text",
        "hi",
        "--count",
        "64",
        "--concurrency",
        "8",
    ];
    let started = Instant::now();
    let out = run_example("send", &env_for(&fake, &config), &args).await;
    let took = started.elapsed();
    let shown = printed(&out);
    assert!(!shown.contains("panicked"), "{shown}");
    // 32 throttled; those with a wait past what is allowed (3 sets of 8,
    // 4 rounds) are reported, the rest retried once and delivered.
    assert_eq!(out.status.code(), Some(1), "{shown}");
    assert!(shown.contains("summary: 52 sent, 12 failed"), "{shown}");
    let graph = fake.counters();
    assert_eq!(graph.messages_accepted, 52, "{graph:?}");
    assert_eq!(graph.duplicates, 0, "{graph:?}");
    assert_eq!(graph.message_requests, 64 + 20, "{graph:?}");
    // One retry each, after at most the first back-off bound (500 ms).
    assert!(took < Duration::from_secs(30), "took {took:?}");
}
