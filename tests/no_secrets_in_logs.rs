//! A full refresh cycle, with every event the crate logs captured: no token,
//! app secret or proof may appear in the logs or in any error. In a test
//! binary of its own, because the capturing subscriber is process-wide.

#[path = "support/common/mod.rs"]
mod common;

use std::time::Duration;

use common::fake_graph::{ExchangeMode, FakeConfig, FakeGraph};
use common::logs::Captured;
use common::sender::{build_stack, status};
use tower_whatsapp_auth::{Secret, WhatsAppAuthLayer};

const SECRET: &str = "fake-app-secret";
const HOUR: Duration = Duration::from_secs(3600);

fn config(lifetime: Option<Duration>) -> FakeConfig {
    FakeConfig {
        app_secret: Some(SECRET.into()),
        token_lifetime: lifetime,
        ..FakeConfig::default()
    }
}

fn layer(fake: &FakeGraph, config: &FakeConfig) -> WhatsAppAuthLayer {
    fake.layer(config)
        .refresh_jitter(0.0)
        .validation_interval(10 * HOUR)
}

async fn advance(d: Duration) {
    tokio::time::advance(d).await;
}

#[tokio::test(start_paused = true)]
async fn a_full_refresh_cycle_logs_and_reports_no_secret() {
    let captured = Captured::default();
    captured.install_globally();

    let config = FakeConfig {
        token_uses: Some(2),
        ..config(Some(HOUR))
    };
    let fake = FakeGraph::start(config.clone()).await;
    let auth = layer(&fake, &config);
    let (stack, cell) = build_stack(auth.clone(), Duration::from_secs(30));
    let mut errors: Vec<String> = Vec::new();
    for _ in 0..4 {
        assert_eq!(status(&stack, &fake).await.unwrap(), 200); // includes a 190, an exchange, a replay
    }
    advance(Duration::from_secs(55 * 60)).await; // renewal ahead of expiry
    assert_eq!(status(&stack, &fake).await.unwrap(), 200);
    fake.set_exchange_mode(ExchangeMode::ServerError);
    fake.expire_all();
    for _ in 0..2 {
        let err = status(&stack, &fake).await.unwrap_err(); // failed exchange, then back-off
        errors.push(format!("{err} {err:?}"));
    }
    advance(Duration::from_secs(120)).await;
    fake.set_exchange_mode(ExchangeMode::Refuse);
    let err = status(&stack, &fake).await.unwrap_err(); // refused exchange: dead
    errors.push(format!("{err} {err:?}"));
    let err = status(&stack, &fake).await.unwrap_err();
    errors.push(format!("{err} {err:?}"));
    assert!(cell.stats().refreshes >= 3);

    let logs = captured.text();
    assert!(
        logs.contains("renewing access token"),
        "events were captured: {logs}"
    );
    assert!(logs.contains("token renewal failed"));
    assert!(logs.contains("access token is dead"));
    let everything = format!("{logs}\n{}\n{auth:?}\n{cell:?}", errors.join("\n"));
    let mut secrets = vec![
        Secret::new(config.token.as_str()),
        Secret::new(SECRET),
        Secret::new(format!("{}|{SECRET}", config.app_id)),
    ];
    for n in 1..=3 {
        secrets.push(Secret::new(format!(
            "EAAFakeRefreshed{n:04}{}",
            "x".repeat(24)
        )));
    }
    for secret in &secrets {
        let proof = tower_whatsapp_auth::appsecret_proof(&Secret::new(SECRET), secret);
        assert!(
            !everything.contains(secret.expose()),
            "a token or secret leaked"
        );
        assert!(!everything.contains(&proof), "a proof leaked");
    }
    assert!(!everything.contains("EAAFake"), "no token prefix either");
}
