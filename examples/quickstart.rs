//! Runs the whole stack against the embedded Graph API fake on 127.0.0.1: no
//! network, no credentials. The token expires after 20 messages; the stack
//! refreshes it once with `fb_exchange_token` and replays the rejected
//! requests, so all 200 messages are accepted.
//!
//! ```text
//! cargo run --example quickstart
//! ```

mod common;

use std::process::ExitCode;
use std::time::Duration;

use common::fake_graph::{FakeConfig, FakeGraph};
use common::sender::{build_stack, send_batch, text_message};
use tower_whatsapp_auth::{WhatsAppAuthLayer, DEFAULT_GRAPH_VERSION};

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
        "fake Graph API on {} (the token expires after {TOKEN_USES} messages)",
        fake.base_url()
    );

    let auth = WhatsAppAuthLayer::new(config.token.as_str())
        .phone_number_id(config.phone_number_id.as_str())
        .graph_base(fake.base_url())
        .app_credentials(config.app_id.as_str(), "fake-app-secret");
    let (stack, cell) = build_stack(auth, Duration::from_secs(10));

    let body = text_message("15551234567", "hello from tower-whatsapp-auth");
    println!("sending {COUNT} messages, {CONCURRENCY} in flight, through one client stack");
    let summary = send_batch(
        stack,
        &fake.messages_url(DEFAULT_GRAPH_VERSION),
        body.clone(),
        COUNT,
        CONCURRENCY,
        true,
    )
    .await;
    summary.print();

    let graph = fake.counters();
    let stats = cell.stats();
    println!(
        "graph saw: {} message requests, {} answered with error 190, {} accepted, {} token exchange(s), {} validation(s)",
        graph.message_requests, graph.rejected_190, graph.messages_accepted, graph.exchanges, graph.validations
    );
    println!(
        "token generation now {} (0 = the configured token)",
        stats.generation
    );
    let replayed = graph.message_requests - COUNT as u64;
    println!(
        "{replayed} request(s) were rejected with the expired token and replayed with the new one"
    );

    let identical = fake.bodies().iter().all(|b| *b == body);
    println!("every body Graph received is byte-identical to the one sent: {identical}");
    let ok = summary.sent == COUNT
        && summary.failed_total() == 0
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
