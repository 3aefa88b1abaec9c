//! Runs the whole stack against the embedded Graph API fake on 127.0.0.1: no
//! network, no credentials. The token expires after 20 messages; the stack
//! renews it once with `fb_exchange_token` and replays the refused
//! requests, so all 200 messages are accepted.
//!
//! ```text
//! cargo run --example quickstart
//! ```

#[path = "../tests/support/common/mod.rs"]
mod common;

use std::process::ExitCode;
use std::time::Duration;

use common::fake_graph::{FakeConfig, FakeGraph};
use common::sender::{build_stack, send_batch, text_message};
use tower_whatsapp_auth::WhatsAppAuthLayer;

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
    let (stack, cell) = build_stack(auth, Duration::from_secs(10));

    let body = text_message("15551234567", "hello from tower-whatsapp-auth");
    println!(
        "Sending {COUNT} messages, {CONCURRENCY} at a time, through one client stack (hyper client, WhatsAppAuthLayer, timeout)..."
    );
    let summary = send_batch(stack, &url, body.clone(), COUNT, CONCURRENCY, false).await;
    println!(
        "Done in {:.0?}: {} of {COUNT} accepted, {} failed.\n",
        summary.elapsed,
        summary.sent,
        summary.failed_total()
    );
    if summary.failed_total() > 0 {
        summary.print();
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
