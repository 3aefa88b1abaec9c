//! Nonsense configuration (NaN or out-of-range fractions and jitter,
//! endless durations, a zero timeout): `check()` refuses each value with
//! `Error::Config`, and a layer run with them anyway clamps them and never
//! panics.

#[path = "support/common/mod.rs"]
mod common;

use std::time::Duration;

use common::fake_graph::{FakeConfig, FakeGraph};
use common::full_stack::{config, HOUR};
use common::sender::message;
use tower::ServiceExt;
use tower_whatsapp_auth::{Error, WhatsAppAuthLayer};

#[test]
fn nonsense_configuration_is_a_check_error() {
    let base = || WhatsAppAuthLayer::new("EAAG-token");
    let cases: Vec<(&str, WhatsAppAuthLayer)> = vec![
        (
            "NaN fraction",
            base().refresh_window(Duration::from_secs(300), f64::NAN),
        ),
        (
            "negative fraction",
            base().refresh_window(Duration::from_secs(300), -0.5),
        ),
        (
            "fraction over 1",
            base().refresh_window(Duration::from_secs(300), 2.0),
        ),
        ("NaN jitter", base().refresh_jitter(f64::NAN)),
        ("negative jitter", base().refresh_jitter(-1.0)),
        (
            "endless interval",
            base().validation_interval(Duration::MAX),
        ),
        ("endless window", base().refresh_window(Duration::MAX, 0.1)),
        ("endless timeout", base().refresh_timeout(Duration::MAX)),
        (
            "endless back-off",
            base().refresh_backoff(Duration::MAX, Duration::MAX),
        ),
        ("endless recheck", base().dead_recheck(Duration::MAX)),
        ("zero timeout", base().validation_timeout(Duration::ZERO)),
    ];
    for (name, layer) in cases {
        assert!(matches!(layer.check(), Err(Error::Config(_))), "{name}");
    }
    assert!(base().check().is_ok());
}

/// The same nonsense values at run time: clamped, never a panic.
#[tokio::test(start_paused = true)]
async fn nonsense_configuration_never_panics_at_run_time() {
    let config = FakeConfig {
        token_lifetime: Some(HOUR),
        token_uses: Some(3),
        ..config()
    };
    let fake = FakeGraph::start(config.clone()).await;
    let layer = fake
        .layer(&config)
        .refresh_window(Duration::MAX, f64::NAN)
        .refresh_jitter(-1.0)
        .validation_interval(Duration::MAX)
        .dead_recheck(Duration::MAX)
        .refresh_backoff(Duration::MAX, Duration::MAX)
        .validation_retry(Duration::MAX);
    let (stack, cell) = common::sender::build_stack(layer, Duration::from_secs(30));
    for _ in 0..6 {
        let res = stack.clone().oneshot(message(&fake)).await.unwrap();
        assert_eq!(res.status(), 200);
    }
    tokio::time::advance(2 * HOUR).await;
    let _ = stack.clone().oneshot(message(&fake)).await;
    assert!(cell.stats().generation >= 1);
}
