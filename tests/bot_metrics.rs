//! The `bot` example's `GET /metrics` (feature `opentelemetry`), from
//! outside: after forged, unsigned, malformed and duplicate deliveries,
//! and text messages answered through a token expiry, the Prometheus text
//! shows each of them, named as the instruments are, and no secret.
#![cfg(all(
    feature = "opentelemetry",
    feature = "webhook",
    feature = "retry",
    feature = "media"
))]

#[path = "support/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use common::fake_graph::{FakeConfig, FakeGraph};
use common::run::{env_for, start_listening};
use common::webhooks::{deliver, send, status_delivery, text_delivery};
use http::{Request, StatusCode};
use http_body_util::Full;

const SECRET: &str = "fake-app-secret";
const VERIFY: &str = "my-verify-token";

/// The series of a Prometheus text page: `name{label="value",…}` (labels
/// sorted, the OpenTelemetry scope's left out) and its value.
fn series(page: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for line in page
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (key, value) = line.rsplit_once(' ').expect("name and value");
        let (name, labels) = match key.split_once('{') {
            Some((name, labels)) => (name, labels.trim_end_matches('}')),
            None => (key, ""),
        };
        let mut labels: Vec<&str> = labels
            .split(',')
            .filter(|l| !l.is_empty() && !l.starts_with("otel_scope_"))
            .collect();
        labels.sort();
        let key = match labels.is_empty() {
            true => name.to_owned(),
            false => format!("{name}{{{}}}", labels.join(",")),
        };
        out.insert(key, value.parse().expect("a number"));
    }
    out
}

/// Delivers text message `i` and waits until its reply reached the fake.
async fn message_answered(fake: &FakeGraph, url: &str, i: u64) {
    let id = format!("wamid.M{i}");
    let (status, _) = fake
        .deliver_text(url, &format!("1555000{i}"), &id, "hi")
        .await;
    assert_eq!(status, StatusCode::OK);
    for _ in 0..500 {
        if fake.counters().messages_accepted > i {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("no reply to message {i}: {:?}", fake.counters());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bot_shows_a_token_expiry_and_forged_deliveries_on_metrics() {
    let config = FakeConfig {
        app_secret: Some(SECRET.into()),
        token_uses: Some(4),
        ..FakeConfig::default()
    };
    let fake = FakeGraph::start(config.clone()).await;
    let mut envs = env_for(&fake, &config);
    envs.push(("WHATSAPP_VERIFY_TOKEN".into(), VERIFY.into()));
    envs.push(("PORT".into(), "0".into()));
    let bot = start_listening("bot", envs).await;
    let url = format!("http://{}/webhook", bot.addr);
    let phone = config.phone_number_id.as_str();

    let forged = text_delivery(phone, "15550009", "wamid.FORGED", "forged");
    assert_eq!(deliver(&url, Some("guess"), forged.clone()).await.0, 401);
    assert_eq!(deliver(&url, None, forged).await.0, 401);
    assert_eq!(deliver(&url, Some(SECRET), "not json".into()).await.0, 400);
    let status = status_delivery(phone, "wamid.SENT", "delivered");
    assert_eq!(deliver(&url, Some(SECRET), status).await.0, 200);
    // Six messages one after another: the fifth reply finds the token
    // expired (after four uses), waits for its renewal and is replayed.
    for i in 0..6 {
        message_answered(&fake, &url, i).await;
    }
    // Meta's retries of two of them.
    for i in [1, 4] {
        let (status, _) = fake
            .deliver_text(&url, &format!("1555000{i}"), &format!("wamid.M{i}"), "hi")
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    assert_eq!(fake.counters().exchanges, 1);

    let req = Request::get(format!("http://{}/metrics", bot.addr))
        .body(Full::new(Bytes::new()))
        .unwrap();
    let (status, page) = send(req).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let got = series(&page);
    let expected = [
        (
            "whatsapp_webhook_deliveries_total{outcome=\"accepted\"}",
            7.0,
        ),
        (
            "whatsapp_webhook_deliveries_total{outcome=\"bad_signature\"}",
            2.0,
        ),
        (
            "whatsapp_webhook_deliveries_total{outcome=\"malformed\"}",
            1.0,
        ),
        (
            "whatsapp_webhook_deliveries_total{outcome=\"duplicate\"}",
            2.0,
        ),
        ("whatsapp_token_validations_total{outcome=\"valid\"}", 1.0),
        ("whatsapp_graph_errors_total{kind=\"token_expired\"}", 1.0),
        ("whatsapp_token_renewals_total{outcome=\"renewed\"}", 1.0),
        ("whatsapp_requests_replayed_total", 1.0),
        ("whatsapp_request_token_wait_count", 2.0),
    ];
    for (name, value) in expected {
        assert_eq!(got.get(name), Some(&value), "{name} in\n{page}");
    }
    let counted: Vec<&String> = got
        .keys()
        .filter(|k| k.starts_with("whatsapp_") && k.contains("_total"))
        .collect();
    assert_eq!(counted.len(), 8, "no other counter series: {counted:?}");
    let left = got["whatsapp_token_expires_in"];
    assert!((5_183_000.0..=5_183_944.0).contains(&left), "{left}");
    let calls: f64 = got
        .iter()
        .filter(|(k, _)| k.starts_with("http_client_request_duration_count{"))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(calls, 2.0, "the validation and the exchange:\n{page}");
    let port = fake.base_url().rsplit(':').next().unwrap().to_owned();
    let call = format!(
        "http_client_request_duration_count{{http_request_method=\"POST\",http_response_status_code=\"200\",server_address=\"127.0.0.1\",server_port=\"{port}\"}}"
    );
    assert_eq!(got.get(&call), Some(&2.0), "{page}");
    for secret in [
        SECRET,
        VERIFY,
        config.token.as_str(),
        "EAAFake",
        "appsecret_proof",
    ] {
        assert!(!page.contains(secret), "{secret} in\n{page}");
    }
}
