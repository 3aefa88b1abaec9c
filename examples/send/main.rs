//! Sends the same WhatsApp text message `--count` times through one client
//! stack: hyper-util client, `WhatsAppAuthLayer`, a per-attempt timeout,
//! `ThroughputLayer` pacing the number's sends at `--mps` messages a second
//! (Meta's default 80; 0 turns pacing off), and tower's `RetryLayer` with
//! `GraphRetry` outside it (up to `--max-retries` retries of what Graph
//! refused as temporary: rate limits, transient errors; never a message
//! whose outcome is unknown). A message Graph refused for throughput is
//! retried through the pace, which that refusal lowered.
//!
//! ```text
//! WHATSAPP_TOKEN=… WHATSAPP_PHONE_NUMBER_ID=… \
//!   cargo run --release --example send -- --to 15551234567 --text "hi" --count 200 --concurrency 16 [--max-retries 3] [--mps 80]
//! ```
//!
//! Each message carries `biz_opaque_callback_data` naming it (`send <run> #n`),
//! which Graph returns in its status webhooks.
//!
//! Environment: `WHATSAPP_TOKEN` and `WHATSAPP_PHONE_NUMBER_ID` (required),
//! `META_APP_ID` and `META_APP_SECRET` (optional: token refresh and
//! `appsecret_proof`), `GRAPH_API_BASE` (default `https://graph.facebook.com`),
//! `GRAPH_API_VERSION` (default the crate's current version).
//!
//! Before sending, the token's permissions are checked: without
//! `whatsapp_business_messaging` nothing is sent.
//!
//! Exit codes: 0 every message accepted, 1 some failed (or nothing could be
//! sent; messages whose outcome is unknown are listed by number), 2 bad
//! arguments or environment.

mod batch;
mod describe;

use std::process::ExitCode;
use std::time::Duration;

use batch::{send_messages, Stack};
use bytes::Bytes;
use describe::{describe, is_permanent};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tower::retry::RetryLayer;
use tower::timeout::TimeoutLayer;
use tower::ServiceBuilder;
use tower_whatsapp_auth::retry::GraphRetry;
use tower_whatsapp_auth::throughput::ThroughputLayer;
use tower_whatsapp_auth::{
    permissions::Permission, Error, ReplayBody, WhatsAppAuthLayer, DEFAULT_GRAPH_BASE,
    DEFAULT_GRAPH_VERSION,
};

const USAGE: &str = "usage: send --to <E.164 digits> --text <message> [--count N (1)] [--concurrency N (1)] [--max-retries N (3; 0 turns retries off)] [--mps N (80 messages a second; 0 turns pacing off)]";

struct Args {
    to: String,
    text: String,
    count: usize,
    concurrency: usize,
    max_retries: u32,
    mps: u32,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let (mut to, mut text, mut count, mut concurrency, mut max_retries) = (None, None, 1, 1, 3);
    let mut mps = tower_whatsapp_auth::throughput::DEFAULT_MESSAGES_PER_SECOND;
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--to" => to = Some(value()?),
            "--text" => text = Some(value()?),
            "--count" => {
                count = value()?
                    .parse()
                    .map_err(|_| "--count takes a whole number".to_owned())?
            }
            "--concurrency" => {
                concurrency = value()?
                    .parse()
                    .map_err(|_| "--concurrency takes a whole number".to_owned())?;
                if concurrency == 0 {
                    return Err("--concurrency must be at least 1".into());
                }
            }
            "--max-retries" => {
                max_retries = value()?
                    .parse()
                    .map_err(|_| "--max-retries takes a whole number".to_owned())?
            }
            "--mps" => {
                mps = value()?
                    .parse()
                    .map_err(|_| "--mps takes a whole number".to_owned())?
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(Args {
        to: to.ok_or("--to is required")?,
        text: text.ok_or("--text is required")?,
        count,
        concurrency,
        max_retries,
        mps,
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(why) => {
            if !why.is_empty() {
                eprintln!("error: {why}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let auth = match layer_from_env() {
        Ok(auth) => auth,
        Err(code) => return code,
    };
    let auth = auth.require_permissions(&[Permission::WhatsappBusinessMessaging]);
    let url = auth.messages_url().expect("a phone number id is set");
    let cell = auth.cell();

    // The client stack, outside in: retries of what Graph refused as
    // temporary (`GraphRetry`), the pace of the number's sends, a timeout
    // per attempt, the auth layer, and a hyper client that speaks TLS
    // (plain HTTP only to loopback, for a local fake). A message refused
    // for throughput is retried through the pace that refusal lowered.
    let retry = (args.max_retries > 0)
        .then(|| RetryLayer::new(GraphRetry::new().max_retries(args.max_retries)));
    let pace = (args.mps > 0).then(|| ThroughputLayer::new(args.mps));
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1()
        .build();
    let client: Client<_, ReplayBody> = Client::builder(TokioExecutor::new()).build(connector);
    let stack = Stack::new(
        ServiceBuilder::new()
            .option_layer(retry)
            .option_layer(pace)
            .layer(TimeoutLayer::new(Duration::from_secs(30)))
            .layer(auth)
            .service(client),
    );
    // Fail before sending anything when the token cannot send messages.
    let needed = [Permission::WhatsappBusinessMessaging];
    let checked = match cell.check_permissions().await {
        Ok(report) => Ok(report.missing(&needed)),
        // The stack requires the permission: its first validation found it missing.
        Err(Error::PermissionMissing { missing }) => Ok(missing),
        Err(e) => Err(e),
    };
    match checked {
        Ok(missing) => {
            for (permission, status) in &missing {
                eprintln!(
                    "error: the token cannot send messages: permission {permission} is {status}"
                );
                eprintln!("       to grant it: {}", permission.how_to_grant());
            }
            if !missing.is_empty() {
                println!("nothing sent");
                return ExitCode::FAILURE;
            }
        }
        // Graph refused the app's configuration: nothing can be sent.
        Err(e @ Error::Misconfigured { .. }) => return nothing_sent(&e),
        // A refused token may still be renewed: the readiness check below says.
        Err(e) if e.kind().is_token_rejected() => {
            println!(
                "Graph refused the token ({}); checking whether it can be renewed",
                e.kind()
            )
        }
        Err(e) => println!("could not check permissions up front ({e}); sending anyway"),
    }
    // Validation, and a renewal if the token is refused: when neither leaves
    // a usable token, no message would go out. Say why instead of trying.
    if let Err(e) = cell.ready().await {
        if is_permanent(&e) {
            return nothing_sent(&e);
        }
    }
    println!(
        "sending {} message(s) to {}, {} in flight",
        args.count, args.to, args.concurrency
    );
    let run = run_id();
    let summary = send_messages(
        stack,
        &cell,
        &url,
        |n| text_message(&args.to, &args.text, &format!("send {run} #{n}")),
        args.count,
        args.concurrency,
    )
    .await;
    summary.print();
    let stats = cell.stats();
    println!(
        "token: generation {}, {} renewal(s), {} validation(s)",
        stats.generation, stats.refreshes, stats.validations
    );
    if summary.sent == args.count {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Reports why nothing can be sent (the cause, and the fix that fits the
/// configuration) and gives the exit code for it.
fn nothing_sent(err: &Error) -> ExitCode {
    let (reason, fix) = describe(&err.clone().into());
    eprintln!("error: {reason}");
    if !fix.is_empty() {
        eprintln!("       fix: {fix}");
    }
    println!("nothing sent");
    ExitCode::FAILURE
}

/// A short id for this run, so the tracking data of its messages differ
/// from another run's.
fn run_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    format!("{:08x}", hasher.finish() as u32)
}

/// A non-empty environment variable.
fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The layer the environment describes, saying what the app credentials
/// enable. A missing required variable or a bad value is printed and gives
/// exit code 2.
fn layer_from_env() -> Result<WhatsAppAuthLayer, ExitCode> {
    let required = ["WHATSAPP_TOKEN", "WHATSAPP_PHONE_NUMBER_ID"];
    let [Some(token), Some(phone)] = required.map(var) else {
        for name in required.iter().filter(|name| var(name).is_none()) {
            eprintln!("error: environment variable {name} is required but not set");
        }
        return Err(ExitCode::from(2));
    };
    let mut auth = WhatsAppAuthLayer::new(token)
        .phone_number_id(phone)
        .graph_base(var("GRAPH_API_BASE").unwrap_or_else(|| DEFAULT_GRAPH_BASE.into()))
        .graph_version(var("GRAPH_API_VERSION").unwrap_or_else(|| DEFAULT_GRAPH_VERSION.into()));
    if let Some(waba) = var("WHATSAPP_BUSINESS_ACCOUNT_ID") {
        auth = auth.business_account_id(waba);
    }
    let (auth, enabled) = match (var("META_APP_ID"), var("META_APP_SECRET")) {
        (Some(id), Some(secret)) => (
            auth.app_credentials(id, secret),
            "app credentials set: token refresh and appsecret_proof enabled",
        ),
        (None, Some(secret)) => (
            auth.app_secret(secret),
            "META_APP_SECRET set without META_APP_ID: appsecret_proof enabled, token refresh disabled",
        ),
        (Some(_), None) => (auth, "META_APP_ID set without META_APP_SECRET: token refresh disabled"),
        (None, None) => (auth, "no app credentials: an expiring token will not be refreshed"),
    };
    println!("{enabled}");
    if let Err(e) = auth.check() {
        eprintln!("error: {e}");
        return Err(ExitCode::from(2));
    }
    Ok(auth)
}

/// A text message whose `biz_opaque_callback_data` is `tracking`: Graph
/// hands it back in the message's status webhooks.
fn text_message(to: &str, text: &str, tracking: &str) -> Bytes {
    let body = serde_json::json!({
        "messaging_product": "whatsapp",
        "to": to,
        "type": "text",
        "text": { "body": text },
        "biz_opaque_callback_data": tracking,
    });
    Bytes::from(body.to_string())
}
