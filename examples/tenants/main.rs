//! Sends `--count` text messages to `--to` from every tenant's phone
//! number, tenants interleaved, at most `--concurrency` in flight in all,
//! each as `POST /{phone_number_id}/messages` through one tenant-aware
//! stack.
//!
//! ```text
//! META_APP_ID=… META_APP_SECRET=… \
//!   cargo run --release --example tenants -- --db PATH --to NUMBER --text TEXT --count N --concurrency C
//! ```
//!
//! PATH is a SQLite file with a table `tenants(phone_number_id TEXT PRIMARY
//! KEY, access_token TEXT NOT NULL)` (an optional `waba_id` column has each
//! token checked against its account); renewed tokens are written back
//! into `access_token`. Environment: `META_APP_ID`, `META_APP_SECRET` (the
//! platform's app: `/debug_token`, renewal and `appsecret_proof` for every
//! tenant), `GRAPH_API_BASE` (default `https://graph.facebook.com`),
//! `GRAPH_API_VERSION`.
//!
//! Prints one line per tenant: `{phone_number_id}: {accepted}/{N} accepted`,
//! followed, for a tenant with failures, by the reason and the fix. No
//! token or secret is printed. Exit codes: 0 every message of every tenant
//! accepted, 1 otherwise, 2 bad arguments (or no `tenants` table).
//!
//! Without `--db`: a demo against the embedded Graph fake, with a few
//! businesses in a temporary database, one of them revoked mid-run.

#[path = "../../tests/support/common/fake_graph/mod.rs"]
mod fake_graph;

mod demo;
mod send;
mod tenant_db;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use send::{print, send_all};
use tenant_db::TenantDb;
use tower::timeout::TimeoutLayer;
use tower::util::BoxCloneSyncService;
use tower::{BoxError, ServiceBuilder};
use tower_whatsapp_auth::classify::GraphBody;
use tower_whatsapp_auth::tenants::{TenantMap, WhatsAppTenantsLayer};
use tower_whatsapp_auth::{ReplayBody, DEFAULT_GRAPH_BASE, DEFAULT_GRAPH_VERSION};

const USAGE: &str = "usage: tenants [--db PATH --to NUMBER --text TEXT] [--count N (1)] [--concurrency C (1)]\n       (without --db: a demo against the embedded Graph fake)";

struct Args {
    db: Option<PathBuf>,
    to: Option<String>,
    text: Option<String>,
    count: Option<usize>,
    concurrency: usize,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut parsed = Args {
        db: None,
        to: None,
        text: None,
        count: None,
        concurrency: 1,
    };
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        let number = |v: String, name: &str| {
            v.parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("{name} takes a whole number of at least 1"))
        };
        match flag.as_str() {
            "--db" => parsed.db = Some(PathBuf::from(value()?)),
            "--to" => parsed.to = Some(value()?),
            "--text" => parsed.text = Some(value()?),
            "--count" => parsed.count = Some(number(value()?, "--count")?),
            "--concurrency" => parsed.concurrency = number(value()?, "--concurrency")?,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if parsed.db.is_some() && (parsed.to.is_none() || parsed.text.is_none()) {
        return Err("--to and --text are required with --db".into());
    }
    Ok(parsed)
}

/// Where the stack points, and with which app.
pub struct Platform {
    pub db: TenantDb,
    pub base: String,
    pub version: String,
    pub app_id: String,
    pub app_secret: String,
}

/// The stack, boxed: what [`send_all`] sends through.
pub type Stack = BoxCloneSyncService<Request<Full<Bytes>>, Response<GraphBody<Incoming>>, BoxError>;

/// The tenant-aware stack: a 30 s timeout per request, outside the tenants
/// layer (each phone number's token, from the database, renewed with the
/// platform's app), over a hyper client that speaks TLS (plain HTTP only
/// to loopback, for the demo's fake).
pub fn stack(platform: &Platform) -> (Stack, TenantMap) {
    let (base, version) = (platform.base.clone(), platform.version.clone());
    let (app_id, app_secret) = (platform.app_id.clone(), platform.app_secret.clone());
    let layer = WhatsAppTenantsLayer::new(platform.db.clone()).configure(move |auth| {
        auth.app_credentials(app_id, app_secret)
            .graph_base(base)
            .graph_version(version)
    });
    let tenants = layer.tenants();
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1()
        .build();
    let client: Client<_, ReplayBody> = Client::builder(TokioExecutor::new()).build(connector);
    let stack = ServiceBuilder::new()
        .layer(TimeoutLayer::new(Duration::from_secs(30)))
        .layer(layer)
        .service(client);
    (BoxCloneSyncService::new(stack), tenants)
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
    let Some(path) = &args.db else {
        return demo::run(args.count.unwrap_or(20), args.concurrency.max(4)).await;
    };
    let db = match TenantDb::open(path) {
        Ok(db) => db,
        Err(why) => {
            eprintln!("error: {why}");
            return ExitCode::from(2);
        }
    };
    let platform = match platform_from_env(db) {
        Ok(platform) => platform,
        Err(code) => return code,
    };
    let phones = match platform.db.phone_numbers() {
        Ok(phones) => phones,
        Err(e) => {
            eprintln!("error: reading the tenants table: {e}");
            return ExitCode::from(2);
        }
    };
    let (stack, tenants) = stack(&platform);
    let count = args.count.unwrap_or(1);
    let (to, text) = (args.to.unwrap_or_default(), args.text.unwrap_or_default());
    let tallies = send_all(stack, &phones, &to, &text, count, args.concurrency).await;
    // A renewal the last messages started reaches the database first.
    let _ = tokio::time::timeout(Duration::from_secs(15), tenants.finish_work()).await;
    match print(&tallies, count) {
        true => ExitCode::SUCCESS,
        false => ExitCode::FAILURE,
    }
}

fn platform_from_env(db: TenantDb) -> Result<Platform, ExitCode> {
    let (Some(app_id), Some(app_secret)) = (var("META_APP_ID"), var("META_APP_SECRET")) else {
        for name in ["META_APP_ID", "META_APP_SECRET"] {
            if var(name).is_none() {
                eprintln!("error: environment variable {name} is required but not set");
            }
        }
        return Err(ExitCode::from(2));
    };
    Ok(Platform {
        db,
        base: var("GRAPH_API_BASE").unwrap_or_else(|| DEFAULT_GRAPH_BASE.to_owned()),
        version: var("GRAPH_API_VERSION").unwrap_or_else(|| DEFAULT_GRAPH_VERSION.to_owned()),
        app_id,
        app_secret,
    })
}

/// A non-empty environment variable.
fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The Cloud API text message body.
fn text_message(to: &str, text: &str) -> Bytes {
    let body = serde_json::json!({
        "messaging_product": "whatsapp",
        "to": to,
        "type": "text",
        "text": { "body": text },
    });
    Bytes::from(body.to_string())
}
