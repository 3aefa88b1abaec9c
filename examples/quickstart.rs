//! Runs the whole stack against the embedded Graph API fake on 127.0.0.1: no
//! network, no credentials. The token expires after 20 messages; the stack
//! renews it once with `fb_exchange_token` and replays the refused
//! requests, so all 200 messages are accepted.
//!
//! ```text
//! cargo run --example quickstart
//! ```

#[path = "../tests/support/common/fake_graph/mod.rs"]
mod fake_graph;

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use fake_graph::{FakeConfig, FakeGraph};
use http::Request;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tower::timeout::TimeoutLayer;
use tower::{ServiceBuilder, ServiceExt};
use tower_whatsapp_auth::graph::GraphError;
use tower_whatsapp_auth::{ReplayBody, WhatsAppAuthLayer};

const COUNT: usize = 200;
const CONCURRENCY: usize = 16;
const TOKEN_USES: u64 = 20;

#[tokio::main]
async fn main() -> ExitCode {
    let config = FakeConfig {
        app_secret: Some("fake-app-secret".into()),
        token_uses: Some(TOKEN_USES),
        ..FakeConfig::default()
    };
    let fake = FakeGraph::start(config.clone()).await;
    println!(
        "A fake WhatsApp Cloud API runs on {} (no network, no credentials).",
        fake.base_url()
    );
    println!(
        "Its token expires after {TOKEN_USES} messages, as a real long-lived one does after about 60 days.\n"
    );

    let auth = WhatsAppAuthLayer::new(config.token.as_str())
        .phone_number_id(config.phone_number_id.as_str())
        .graph_base(fake.base_url())
        .app_credentials(config.app_id.as_str(), "fake-app-secret");
    let url = auth.messages_url().expect("a phone number id is set");
    // The token's state (counters, generation), before the stack is built.
    let cell = auth.cell();

    // The client stack: a hyper client (plain HTTP, enough for the fake on
    // loopback; for graph.facebook.com, one that speaks TLS, as the `send`
    // example builds), the auth layer over it, and a timeout per request.
    let client = Client::builder(TokioExecutor::new()).build_http::<ReplayBody>();
    let stack = ServiceBuilder::new()
        .layer(TimeoutLayer::new(Duration::from_secs(10)))
        .layer(auth)
        .service(client);

    let body = Bytes::from(
        serde_json::json!({
            "messaging_product": "whatsapp",
            "to": "15551234567",
            "type": "text",
            "text": { "body": "hello from tower-whatsapp-auth" },
        })
        .to_string(),
    );
    println!(
        "Sending {COUNT} messages, {CONCURRENCY} at a time, through one client stack (hyper client, WhatsAppAuthLayer, timeout)..."
    );
    let started = Instant::now();
    let in_flight = Arc::new(Semaphore::new(CONCURRENCY));
    let mut sends = JoinSet::new();
    for _ in 0..COUNT {
        let permit = in_flight
            .clone()
            .acquire_owned()
            .await
            .expect("never closed");
        let req = Request::post(&url)
            .header("content-type", "application/json")
            .body(Full::new(body.clone()))
            .expect("a valid request");
        let stack = stack.clone();
        sends.spawn(async move {
            // Accepted: a 2xx answer naming the message Graph queued.
            // Otherwise why not, and (for Graph's refusals) what fixes it.
            let outcome = match stack.oneshot(req).await {
                Ok(res) => {
                    let (status, graph) =
                        (res.status(), res.extensions().get::<GraphError>().cloned());
                    let read = res.into_body().collect().await.map(|b| b.to_bytes());
                    match (graph, read) {
                        (Some(g), _) => {
                            let code = match g.subcode() {
                                Some(sub) => format!("{}/{sub}", g.code()),
                                None => g.code().to_string(),
                            };
                            let why = format!(
                                "{} (Graph code {code}, HTTP {})",
                                g.kind(),
                                status.as_u16()
                            );
                            Err((why, g.hint().to_owned()))
                        }
                        (None, Err(e)) => {
                            Err((format!("reading the answer failed: {e}"), String::new()))
                        }
                        (None, Ok(answer)) if status.is_success() && names_a_message(&answer) => {
                            Ok(())
                        }
                        (None, Ok(_)) => Err((
                            format!("HTTP {} without a message id", status.as_u16()),
                            String::new(),
                        )),
                    }
                }
                Err(e) => Err((e.to_string(), String::new())),
            };
            drop(permit);
            outcome
        });
    }
    let (mut sent, mut failed) = (0, BTreeMap::<(String, String), usize>::new());
    while let Some(done) = sends.join_next().await {
        match done.expect("a send task") {
            Ok(()) => sent += 1,
            Err(why_and_fix) => *failed.entry(why_and_fix).or_default() += 1,
        }
    }
    let (failed_total, elapsed) = (failed.values().sum::<usize>(), started.elapsed());
    println!("Done in {elapsed:.0?}: {sent} of {COUNT} accepted, {failed_total} failed.\n");
    if failed_total > 0 {
        println!("summary: {sent} sent, {failed_total} failed in {elapsed:.2?}");
        for ((why, fix), count) in &failed {
            println!("  {count:>6} × {why}");
            if !fix.is_empty() {
                println!("           fix: {fix}");
            }
        }
    }

    let graph = fake.counters();
    let stats = cell.stats();
    let replayed = graph.message_requests.saturating_sub(COUNT as u64);
    let identical = fake.bodies().iter().all(|b| *b == body);
    println!("What happened:");
    println!(
        "  - the token was checked once before the first message ({} validation call(s) to Graph);",
        graph.validations
    );
    println!(
        "  - after {TOKEN_USES} messages Graph refused it (error 190, token expired) for the {} request(s) then in flight;",
        graph.rejected_190
    );
    println!(
        "  - the stack renewed it once ({} fb_exchange_token exchange(s)) while those requests waited, then sent each again ({replayed} replay(s)); bodies byte-identical: {identical};",
        graph.exchanges
    );
    println!(
        "  - the token in use is now generation {} (generation 0 is the token you configured; each renewal adds one).",
        stats.generation
    );
    println!(
        "  (Real Graph refuses to exchange a token that already expired; with its expiry known from /debug_token, the stack renews ahead of time instead. This fake plays along so the demo can show the refusal and the replay.)"
    );
    println!(
        "Why it matters: callers saw no error, no message was sent more than twice, and no secret was in a URL ({} seen).\n",
        graph.secrets_in_url
    );
    let ok = sent == COUNT
        && failed_total == 0
        && graph.exchanges == 1
        && identical
        && graph.secrets_in_url == 0;
    if ok {
        println!("quickstart OK");
        ExitCode::SUCCESS
    } else {
        println!("quickstart FAILED");
        ExitCode::FAILURE
    }
}

/// Whether Graph's answer names the message it queued
/// (`{"messages":[{"id":"wamid…"}]}`).
fn names_a_message(answer: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(answer)
        .ok()
        .and_then(|v| v["messages"][0]["id"].as_str().map(|id| !id.is_empty()))
        .unwrap_or(false)
}
