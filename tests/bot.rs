//! The `bot` example from outside: its environment, the handshake, signed
//! and forged deliveries, one reply per text message (duplicates answered
//! once) while its token expires, and a clean stop on SIGTERM.

#[path = "../examples/common/mod.rs"]
mod common;

use std::process::Stdio;
use std::time::Duration;

use common::fake_graph::{FakeConfig, FakeGraph};
use common::run::{env_for, example_binary, printed, run_example};
use common::webhooks::{deliver, handshake, status_delivery, text_delivery};
use http::StatusCode;
use tokio::io::{AsyncBufReadExt, BufReader};

const SECRET: &str = "fake-app-secret";
const VERIFY: &str = "my-verify-token";

fn bot_env(fake: &FakeGraph, config: &FakeConfig) -> Vec<(String, String)> {
    let mut envs = env_for(fake, config);
    envs.push(("WHATSAPP_VERIFY_TOKEN".into(), VERIFY.into()));
    envs.push(("PORT".into(), "0".into()));
    envs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_variable_exits_2_naming_it() {
    let config = FakeConfig {
        app_secret: Some(SECRET.into()),
        ..FakeConfig::default()
    };
    let fake = FakeGraph::start(config.clone()).await;
    for missing in [
        "META_APP_SECRET",
        "WHATSAPP_VERIFY_TOKEN",
        "WHATSAPP_TOKEN",
        "WHATSAPP_PHONE_NUMBER_ID",
    ] {
        let mut envs = bot_env(&fake, &config);
        envs.retain(|(k, _)| k != missing);
        let out = run_example("bot", &envs, &[]).await;
        assert_eq!(out.status.code(), Some(2), "{missing}");
        assert!(
            printed(&out).contains(missing),
            "{missing}: {}",
            printed(&out)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bot_answers_each_text_message_once_through_a_token_expiry() {
    let config = FakeConfig {
        app_secret: Some(SECRET.into()),
        token_uses: Some(4),
        ..FakeConfig::default()
    };
    let fake = FakeGraph::start(config.clone()).await;
    let mut child = tokio::process::Command::new(example_binary("bot"))
        .env_clear()
        .envs(bot_env(&fake, &config))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let listening = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let addr = listening
        .strip_prefix("listening on ")
        .expect(&listening)
        .to_owned();
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");
    let url = format!("http://{addr}/webhook");

    // The handshake: the right token gets the challenge back; others a 403.
    assert_eq!(
        handshake(&url, VERIFY, "1158201444").await,
        (StatusCode::OK, "1158201444".into())
    );
    assert_eq!(handshake(&url, "wrong", "1").await.0, StatusCode::FORBIDDEN);

    // Forged, unsigned and non-JSON deliveries.
    let phone = config.phone_number_id.as_str();
    let forged = text_delivery(phone, "15550001", "wamid.FORGED", "forged");
    assert_eq!(
        deliver(&url, Some("not-the-secret"), forged.clone())
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        deliver(&url, None, forged).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        deliver(&url, Some(SECRET), "not json".into()).await.0,
        StatusCode::BAD_REQUEST
    );
    // A status is acknowledged, not answered.
    let status = status_delivery(phone, "wamid.SENT", "delivered");
    assert_eq!(deliver(&url, Some(SECRET), status).await.0, StatusCode::OK);

    // Ten messages, the first three delivered twice (Meta retries).
    for i in 0..10 {
        let id = format!("wamid.IN{i:02}");
        let (status, _) = fake
            .deliver_text(&url, &format!("1555000{i:02}"), &id, &format!("hello {i}"))
            .await;
        assert_eq!(status, StatusCode::OK);
        if i < 3 {
            let (status, _) = fake
                .deliver_text(&url, &format!("1555000{i:02}"), &id, &format!("hello {i}"))
                .await;
            assert_eq!(status, StatusCode::OK, "a duplicate is acknowledged");
        }
    }
    // The replies go out in the background: wait for them.
    for _ in 0..300 {
        if fake.counters().messages_accepted >= 10 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let graph = fake.counters();
    assert_eq!(
        graph.messages_accepted, 10,
        "one reply per text message: {graph:?}"
    );
    assert_eq!(
        graph.exchanges, 1,
        "the token expired after 4 replies: {graph:?}"
    );
    let mut replies: Vec<serde_json::Value> = fake
        .bodies()
        .iter()
        .map(|b| serde_json::from_slice(b).unwrap())
        .collect();
    replies.dedup();
    for i in 0..10 {
        let to = format!("1555000{i:02}");
        let reply = replies.iter().find(|r| r["to"] == to.as_str()).expect(&to);
        assert_eq!(reply["text"]["body"], format!("echo: hello {i}"));
    }

    // SIGTERM: a clean stop.
    let pid = child.id().unwrap();
    std::process::Command::new("kill")
        .arg(pid.to_string())
        .status()
        .unwrap();
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status:?}");
    let rest: Vec<String> = {
        let mut rest = Vec::new();
        while let Ok(Some(line)) = lines.next_line().await {
            rest.push(line);
        }
        rest
    };
    assert!(rest.iter().any(|l| l == "stopped"), "{rest:?}");
    assert_eq!(
        rest.iter()
            .filter(|l| l.starts_with("already answered"))
            .count(),
        3,
        "{rest:?}"
    );
}
