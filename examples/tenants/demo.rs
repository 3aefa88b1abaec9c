//! The demo, without `--db`: three businesses against the embedded Graph
//! fake, in a temporary database.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use tower_whatsapp_auth::DEFAULT_GRAPH_VERSION;

use crate::fake_graph::tenants::FakeTenant;
use crate::fake_graph::{FakeConfig, FakeGraph};
use crate::send::{print, send_all};
use crate::tenant_db::TenantDb;
use crate::{stack, Platform};

/// The demo: three businesses against the embedded fake, in a temporary
/// database; B's token nears its expiry (renewed, and written back), C's
/// is revoked once half its messages are out.
pub async fn run(count: usize, concurrency: usize) -> ExitCode {
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
