//! The `send` example's interface, checked from the outside: its flags,
//! environment variables and exit codes, run against the embedded fake.
#![cfg(all(feature = "throughput", feature = "retry"))]

#[path = "support/common/mod.rs"]
mod common;

use std::process::Output;

use common::fake_graph::{FakeConfig, FakeGraph, Fault};
use common::run::{env_for, printed, run_example};

async fn run(envs: &[(&str, &str)], args: &[&str]) -> Output {
    let envs: Vec<(String, String)> = envs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    run_example("send", &envs, args).await
}

/// Runs `send` against `fake` with the environment `config` implies.
async fn send_to_fake(fake: &FakeGraph, config: &FakeConfig, args: &[&str]) -> Output {
    run_example("send", &env_for(fake, config), args).await
}

fn text(out: &Output) -> String {
    printed(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_through_an_expiry_and_exits_zero() {
    let config = FakeConfig {
        app_secret: Some("s3cret".into()),
        token_uses: Some(20),
        ..FakeConfig::default()
    };
    let fake = FakeGraph::start(config.clone()).await;
    let out = send_to_fake(
        &fake,
        &config,
        &[
            "--to",
            "15551234567",
            "--text",
            "hi",
            "--count",
            "200",
            "--concurrency",
            "16",
        ],
    )
    .await;
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(0), "{shown}");
    assert!(shown.contains("summary: 200 sent, 0 failed"), "{shown}");
    assert_eq!(fake.counters().exchanges, 1);
    assert_eq!(fake.counters().messages_accepted, 200);
    assert!(!shown.contains("s3cret") && !shown.contains(&config.token));
}

#[tokio::test]
async fn a_missing_variable_exits_2_naming_it() {
    let out = run(
        &[("WHATSAPP_TOKEN", "EAAG")],
        &["--to", "1", "--text", "hi"],
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("WHATSAPP_PHONE_NUMBER_ID"),
        "{}",
        text(&out)
    );
    let out = run(
        &[("WHATSAPP_PHONE_NUMBER_ID", "1")],
        &["--to", "1", "--text", "hi"],
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("WHATSAPP_TOKEN"));
}

#[tokio::test]
async fn bad_arguments_exit_2() {
    let env = [
        ("WHATSAPP_TOKEN", "EAAG"),
        ("WHATSAPP_PHONE_NUMBER_ID", "1"),
    ];
    for args in [
        &["--text", "hi"][..],
        &["--to", "1", "--text", "hi", "--count", "x"],
        &["--to", "1", "--text", "hi", "--bogus"],
    ] {
        let out = run(&env, args).await;
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_exits_nonzero_with_the_reason_grouped() {
    let config = FakeConfig::default();
    let fake = FakeGraph::start(config.clone()).await;
    fake.push_fault(Fault::Revoke { subcode: 460 });
    let out = send_to_fake(
        &fake,
        &config,
        &["--to", "1555", "--text", "hi", "--count", "5"],
    )
    .await;
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(1), "{shown}");
    assert!(shown.contains("summary: 0 sent, 1 failed"), "{shown}");
    assert!(
        shown.contains("token revoked (Graph code 190/460"),
        "{shown}"
    );
    // The stack stops sending: the rest are not even tried.
    assert!(
        shown.contains("stopped: 4 message(s) not attempted"),
        "{shown}"
    );
    assert!(shown.contains("not sent, token dead"), "{shown}");
    assert_eq!(
        fake.counters().message_requests,
        1,
        "after the first 190/460 nothing is sent"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_renews_ahead_when_debug_token_says_the_token_expires_soon() {
    let config = FakeConfig {
        app_secret: Some("s3cret".into()),
        token_lifetime: Some(std::time::Duration::from_secs(120)),
        ..FakeConfig::default()
    };
    let fake = FakeGraph::start(config.clone()).await;
    let out = send_to_fake(
        &fake,
        &config,
        &[
            "--to",
            "15551234567",
            "--text",
            "hi",
            "--count",
            "20",
            "--concurrency",
            "4",
        ],
    )
    .await;
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(0), "{shown}");
    let graph = fake.counters();
    assert_eq!(
        graph.debug_token_calls, 1,
        "expiry learned from /debug_token"
    );
    assert_eq!(graph.exchanges, 1, "renewed before use");
    assert_eq!(graph.rejected_190, 0, "no 190 seen");
    assert_eq!(graph.message_requests, 20);
}
