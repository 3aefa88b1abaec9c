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

#[path = "../tests/support/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::sender::{describe, https_client, text_message};
use common::setup::env;
use common::tenant_db::TenantDb;
use http::Request;
use http_body_util::Full;
use tokio::task::JoinSet;
use tower::timeout::TimeoutLayer;
use tower::util::BoxCloneSyncService;
use tower::{BoxError, ServiceBuilder, ServiceExt};
use tower_whatsapp_auth::tenants::{TenantMap, WhatsAppTenantsLayer};
use tower_whatsapp_auth::{DEFAULT_GRAPH_BASE, DEFAULT_GRAPH_VERSION};

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
struct Platform {
    db: TenantDb,
    base: String,
    version: String,
    app_id: String,
    app_secret: String,
}

type Stack = BoxCloneSyncService<
    Request<Full<Bytes>>,
    http::Response<tower_whatsapp_auth::classify::GraphBody<hyper::body::Incoming>>,
    BoxError,
>;

fn stack(platform: &Platform) -> (Stack, TenantMap) {
    let (base, version) = (platform.base.clone(), platform.version.clone());
    let (app_id, app_secret) = (platform.app_id.clone(), platform.app_secret.clone());
    let layer = WhatsAppTenantsLayer::new(platform.db.clone()).configure(move |auth| {
        auth.app_credentials(app_id, app_secret)
            .graph_base(base)
            .graph_version(version)
    });
    let tenants = layer.tenants();
    let stack = ServiceBuilder::new()
        .layer(TimeoutLayer::new(Duration::from_secs(30)))
        .layer(layer)
        .service(https_client());
    (BoxCloneSyncService::new(stack), tenants)
}

/// What one tenant's messages came to.
#[derive(Default)]
struct Tally {
    accepted: usize,
    failed: usize,
    /// The first failure's reason and fix.
    first: Option<(String, String)>,
}

async fn send_all(
    stack: Stack,
    phones: &[String],
    to: &str,
    text: &str,
    count: usize,
    concurrency: usize,
) -> BTreeMap<String, Tally> {
    let body = text_message(to, text);
    let limit = Arc::new(tokio::sync::Semaphore::new(concurrency));
    let mut tasks = JoinSet::new();
    for _ in 0..count {
        for phone in phones {
            let permit = limit.clone().acquire_owned().await.expect("never closed");
            let req = Request::post(format!("/{phone}/messages"))
                .header("content-type", "application/json")
                .body(Full::new(body.clone()))
                .expect("a valid request");
            let (stack, phone) = (stack.clone(), phone.clone());
            tasks.spawn(async move {
                let result = stack.oneshot(req).await;
                drop(permit);
                (phone, result)
            });
        }
    }
    let mut tallies: BTreeMap<String, Tally> = phones
        .iter()
        .map(|p| (p.clone(), Tally::default()))
        .collect();
    while let Some(done) = tasks.join_next().await {
        let Ok((phone, result)) = done else { continue };
        let tally = tallies.entry(phone).or_default();
        let failure = match result {
            Ok(res) if res.status().is_success() => None,
            Ok(res) => Some(
                match res
                    .extensions()
                    .get::<tower_whatsapp_auth::graph::GraphError>()
                {
                    Some(g) => (
                        format!(
                            "{} (Graph code {}, HTTP {})",
                            g.kind(),
                            g.code(),
                            res.status().as_u16()
                        ),
                        g.hint().to_owned(),
                    ),
                    None => (
                        format!("HTTP {}", res.status().as_u16()),
                        "see Graph's answer".into(),
                    ),
                },
            ),
            Err(err) => Some(describe(&err)),
        };
        match failure {
            None => tally.accepted += 1,
            Some(why) => {
                tally.failed += 1;
                tally.first.get_or_insert(why);
            }
        }
    }
    tallies
}

fn print(tallies: &BTreeMap<String, Tally>, count: usize) -> bool {
    let mut all = true;
    for (phone, tally) in tallies {
        match &tally.first {
            None => println!("{phone}: {}/{count} accepted", tally.accepted),
            Some((reason, fix)) => {
                all = false;
                let fix = if fix.is_empty() {
                    "see the reason"
                } else {
                    fix.as_str()
                };
                println!(
                    "{phone}: {}/{count} accepted, {} failed: {reason}; fix: {fix}",
                    tally.accepted, tally.failed
                );
            }
        }
    }
    all
}

fn platform_from_env(db: TenantDb) -> Result<Platform, ExitCode> {
    let (Some(app_id), Some(app_secret)) = (env("META_APP_ID"), env("META_APP_SECRET")) else {
        for name in ["META_APP_ID", "META_APP_SECRET"] {
            if env(name).is_none() {
                eprintln!("error: environment variable {name} is required but not set");
            }
        }
        return Err(ExitCode::from(2));
    };
    Ok(Platform {
        db,
        base: env("GRAPH_API_BASE").unwrap_or_else(|| DEFAULT_GRAPH_BASE.to_owned()),
        version: env("GRAPH_API_VERSION").unwrap_or_else(|| DEFAULT_GRAPH_VERSION.to_owned()),
        app_id,
        app_secret,
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
    let Some(path) = &args.db else {
        return demo(args.count.unwrap_or(20), args.concurrency.max(4)).await;
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

/// The demo: three businesses against the embedded fake, in a temporary
/// database; B's token nears its expiry (renewed, and written back), C's
/// is revoked once half its messages are out.
async fn demo(count: usize, concurrency: usize) -> ExitCode {
    use common::fake_graph::tenants::FakeTenant;
    use common::fake_graph::{FakeConfig, FakeGraph};
    let businesses = [
        FakeTenant::new(
            "106540352242922",
            "102290129340398",
            "EAAGdemoBusinessA000000000000000",
        ),
        FakeTenant::new(
            "106540352243033",
            "102290129340409",
            "EAAGdemoBusinessB000000000000000",
        )
        .expiring_in(Duration::from_secs(120)),
        FakeTenant::new(
            "106540352244044",
            "102290129340410",
            "EAAGdemoBusinessC000000000000000",
        ),
    ];
    let config = FakeConfig {
        app_secret: Some("demo-app-secret".into()),
        tenants: businesses.to_vec(),
        ..FakeConfig::default()
    };
    let fake = Arc::new(FakeGraph::start(config.clone()).await);
    let path = std::env::temp_dir().join(format!("tenants-demo-{}.sqlite", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let rows: Vec<(&str, &str, &str)> = businesses
        .iter()
        .map(|b| (b.phone.as_str(), b.token.as_str(), b.waba.as_str()))
        .collect();
    let db = match TenantDb::create(&path, &rows)
        .map_err(|e| e.to_string())
        .and_then(|()| TenantDb::open(&path))
    {
        Ok(db) => db,
        Err(why) => {
            eprintln!("error: the demo database: {why}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!(
        "demo: {} businesses in {}, against the embedded Graph fake; B's token expires in 2 minutes, C's is revoked mid-run",
        businesses.len(),
        path.display()
    );
    let platform = Platform {
        db: db.clone(),
        base: fake.base_url(),
        version: DEFAULT_GRAPH_VERSION.to_owned(),
        app_id: config.app_id.clone(),
        app_secret: "demo-app-secret".to_owned(),
    };
    let (stack, tenants) = stack(&platform);
    let revoked = businesses[2].clone();
    let revoker = tokio::spawn({
        let fake = fake.clone();
        async move {
            while fake.accepted_for(&revoked.phone) < (count as u64).div_ceil(2) {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            fake.revoke(&revoked.token, 460);
        }
    });
    let phones: Vec<String> = businesses.iter().map(|b| b.phone.clone()).collect();
    let tallies = send_all(
        stack,
        &phones,
        "15551234567",
        "hello from the tenants demo",
        count,
        concurrency,
    )
    .await;
    revoker.abort();
    let _ = tokio::time::timeout(Duration::from_secs(15), tenants.finish_work()).await;
    let all = print(&tallies, count);
    let renewed = db
        .token(&businesses[1].phone)
        .is_some_and(|t| t != businesses[1].token);
    eprintln!(
        "demo: B's token was renewed ahead of its expiry ({} exchange) and {} the database",
        fake.exchanges_for(&businesses[1].waba),
        if renewed {
            "written back to"
        } else {
            "not yet written back to"
        }
    );
    let _ = std::fs::remove_file(&path);
    match all {
        true => ExitCode::SUCCESS,
        false => ExitCode::FAILURE,
    }
}
