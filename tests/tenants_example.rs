//! The `tenants` example's interface, checked from the outside: its flags,
//! environment, printed lines and exit codes, over a real SQLite file and
//! the Graph fake holding many businesses.
#![cfg(feature = "tenants")]

#[path = "support/common/mod.rs"]
mod common;

use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

use common::fake_graph::tenants::FakeTenant;
use common::fake_graph::{FakeConfig, FakeGraph};
use common::run::{printed, run_example};
use common::tenant_db::TenantDb;

const SECRET: &str = "platform-app-secret";

fn businesses() -> Vec<FakeTenant> {
    vec![
        FakeTenant::new(
            "106540352240001",
            "200000000001",
            "EAAGexampleBusinessOne0000000000",
        ),
        // Near its expiry: renewed on the first run.
        FakeTenant::new(
            "106540352240002",
            "200000000002",
            "EAAGexampleBusinessTwo0000000000",
        )
        .expiring_in(Duration::from_secs(120)),
        FakeTenant::new(
            "106540352240003",
            "200000000003",
            "EAAGexampleBusinessThree00000000",
        ),
    ]
}

/// A fresh database file holding `tenants`.
fn database(name: &str, tenants: &[FakeTenant]) -> PathBuf {
    let path = std::env::temp_dir().join(format!(
        "tenants-example-{name}-{}.sqlite",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&path);
    let rows: Vec<(&str, &str, &str)> = tenants
        .iter()
        .map(|t| (t.phone.as_str(), t.token.as_str(), t.waba.as_str()))
        .collect();
    TenantDb::create(&path, &rows).unwrap();
    path
}

fn env(fake: &FakeGraph, config: &FakeConfig) -> Vec<(String, String)> {
    vec![
        ("META_APP_ID".into(), config.app_id.clone()),
        ("META_APP_SECRET".into(), SECRET.into()),
        ("GRAPH_API_BASE".into(), fake.base_url()),
    ]
}

/// A Graph fake that holds `tenants`, with the platform's app secret.
async fn fake_for(tenants: &[FakeTenant]) -> (FakeConfig, FakeGraph) {
    let config = FakeConfig {
        app_secret: Some(SECRET.into()),
        tenants: tenants.to_vec(),
        ..FakeConfig::default()
    };
    let fake = FakeGraph::start(config.clone()).await;
    (config, fake)
}

async fn run(envs: &[(String, String)], db: &std::path::Path, count: &str) -> Output {
    let db = db.to_str().unwrap();
    let args = [
        "--db",
        db,
        "--to",
        "15551234567",
        "--text",
        "hi",
        "--count",
        count,
        "--concurrency",
        "4",
    ];
    run_example("tenants", envs, &args).await
}

fn assert_no_secret(shown: &str, tenants: &[FakeTenant], more: &[&str]) {
    for t in tenants {
        assert!(!shown.contains(&t.token), "a token printed: {shown}");
    }
    for secret in more.iter().chain([&SECRET]) {
        assert!(!shown.contains(secret), "a secret printed: {shown}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_uses_the_renewed_token_and_exchanges_nothing() {
    let tenants = businesses();
    let (config, fake) = fake_for(&tenants).await;
    let db = database("twice", &tenants);
    let out = run(&env(&fake, &config), &db, "5").await;
    let shown = printed(&out);
    assert_eq!(out.status.code(), Some(0), "{shown}");
    for t in &tenants {
        assert!(
            shown.contains(&format!("{}: 5/5 accepted\n", t.phone)),
            "{shown}"
        );
        assert_eq!(fake.accepted_for(&t.phone), 5);
    }
    assert_eq!(fake.counters().exchanges, 1, "the one nearing expiry, once");
    let renewed = TenantDb::open(&db)
        .unwrap()
        .token(&tenants[1].phone)
        .unwrap();
    assert_ne!(renewed, tenants[1].token, "written back into access_token");
    assert_no_secret(&shown, &tenants, &[&renewed]);
    // The old token stops working: a second run goes only with the new one.
    fake.revoke(&tenants[1].token, 460);
    let out = run(&env(&fake, &config), &db, "5").await;
    let shown = printed(&out);
    assert_eq!(out.status.code(), Some(0), "{shown}");
    assert_eq!(fake.accepted_for(&tenants[1].phone), 10);
    assert_eq!(
        fake.counters().exchanges,
        1,
        "nothing exchanged the second time"
    );
    assert_eq!(fake.wrong_business(), 0);
    let _ = std::fs::remove_file(&db);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_business_is_reported_with_its_reason_and_fix_and_exits_1() {
    let tenants = businesses();
    let (config, fake) = fake_for(&tenants).await;
    fake.revoke(&tenants[2].token, 460);
    let db = database("revoked", &tenants);
    let out = run(&env(&fake, &config), &db, "3").await;
    let shown = printed(&out);
    assert_eq!(out.status.code(), Some(1), "{shown}");
    assert!(
        shown.contains(&format!("{}: 3/3 accepted\n", tenants[0].phone)),
        "{shown}"
    );
    let line = shown
        .lines()
        .find(|l| l.starts_with(&format!("{}: 0/3 accepted", tenants[2].phone)));
    let line = line.unwrap_or_else(|| panic!("{shown}"));
    // The fix is the business's to make (onboard again), not a user's log-in.
    assert!(
        line.contains("token revoked")
            && line.contains("fix: ")
            && line.contains("Embedded Signup"),
        "{line}"
    );
    assert_no_secret(&shown, &tenants, &[]);
    let _ = std::fs::remove_file(&db);
}

#[tokio::test]
async fn bad_arguments_a_missing_table_or_variable_exit_2() {
    let envs = vec![
        ("META_APP_ID".to_owned(), "1".to_owned()),
        ("META_APP_SECRET".to_owned(), "s".to_owned()),
    ];
    let out = run_example("tenants", &envs, &["--count", "zero"]).await;
    assert_eq!(out.status.code(), Some(2));
    let out = run_example("tenants", &envs, &["--db", "x.sqlite", "--count", "1"]).await;
    assert_eq!(out.status.code(), Some(2), "--to and --text are required");
    // A database without the table.
    let empty = std::env::temp_dir().join(format!(
        "tenants-example-empty-{}.sqlite",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&empty);
    let out = run(&envs, &empty, "1").await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        printed(&out).contains("no table tenants"),
        "{}",
        printed(&out)
    );
    // The platform's app is required.
    let db = database("env", &businesses());
    let out = run(&envs[..1], &db, "1").await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        printed(&out).contains("META_APP_SECRET"),
        "{}",
        printed(&out)
    );
    let _ = std::fs::remove_file(&db);
    let _ = std::fs::remove_file(&empty);
}

/// `cargo run --example tenants`, with nothing else: the demo.
#[tokio::test]
async fn without_a_database_it_runs_the_demo() {
    let out = run_example("tenants", &[], &[]).await;
    let shown = printed(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "one business is revoked mid-run: {shown}"
    );
    assert!(shown.contains("106540352242922: 20/20 accepted"), "{shown}");
    assert!(shown.contains("written back to the database"), "{shown}");
    assert!(!shown.contains("EAAGdemo"), "no token printed: {shown}");
}
