//! The `bot` example's media: each image, audio, video, document and
//! sticker delivered is downloaded through its stack (Graph's node, then
//! the fake's media host on a second listener, named in
//! `WHATSAPP_MEDIA_HOSTS`), checked against the webhook's SHA-256, and
//! answered with its type and size; a file whose bytes are not the
//! webhook's digest is not answered.
#![cfg(all(feature = "webhook", feature = "retry", feature = "media"))]

#[path = "support/common/mod.rs"]
mod common;

use std::time::Duration;

use bytes::Bytes;
use common::fake_graph::{FakeConfig, FakeGraph};
use common::run::{env_for, start_listening, Running};
use common::webhooks::{deliver, media_delivery};
use http::StatusCode;
use sha2::{Digest, Sha256};

const SECRET: &str = "fake-app-secret";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bot_downloads_each_media_kind_and_answers_its_type_and_size() {
    let config = FakeConfig {
        app_secret: Some(SECRET.into()),
        ..FakeConfig::default()
    };
    let fake = FakeGraph::start(config.clone()).await;
    let host = fake.start_media_host().await;
    let mut envs = env_for(&fake, &config);
    envs.push(("WHATSAPP_VERIFY_TOKEN".into(), "v".into()));
    envs.push(("PORT".into(), "0".into()));
    envs.push(("WHATSAPP_MEDIA_HOSTS".into(), host.to_string()));
    let Running {
        mut child,
        lines: _stdout,
        addr,
    } = start_listening("bot", envs).await;
    let url = format!("http://{addr}/webhook");
    let phone = config.phone_number_id.as_str();
    let kinds = [
        ("image", "image/jpeg", 48_213),
        ("audio", "audio/ogg; codecs=opus", 7_000),
        ("video", "video/mp4", 1_200_000),
        ("document", "application/pdf", 300_000),
        ("sticker", "image/webp", 20_000),
    ];
    for (n, (kind, mime, len)) in kinds.into_iter().enumerate() {
        let file: Bytes = (0..len).map(|i: usize| (i * (n + 3)) as u8).collect();
        let id = fake.add_media(file.clone(), mime, phone);
        let sha: [u8; 32] = Sha256::digest(&file).into();
        let body = media_delivery(
            phone,
            "15550001",
            &format!("wamid.M{n}"),
            kind,
            (&id, mime, &sha),
        );
        assert_eq!(deliver(&url, Some(SECRET), body).await.0, StatusCode::OK);
    }
    // A document whose bytes are not the webhook's digest: not answered.
    let file = Bytes::from_static(b"%PDF-1.7 not what the webhook said");
    let id = fake.add_media(file, "application/pdf", phone);
    let body = media_delivery(
        phone,
        "15550001",
        "wamid.BAD",
        "document",
        (&id, "application/pdf", &[7; 32]),
    );
    assert_eq!(deliver(&url, Some(SECRET), body).await.0, StatusCode::OK);

    for _ in 0..300 {
        if fake.counters().messages_accepted >= 5 && fake.media_fetches().len() >= 6 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let replies: Vec<String> = fake
        .bodies()
        .iter()
        .map(|b| {
            serde_json::from_slice::<serde_json::Value>(b).unwrap()["text"]["body"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let mut expected: Vec<String> = kinds
        .iter()
        .map(|(kind, mime, len)| format!("received {kind} ({mime}, {len} bytes)"))
        .collect();
    let mut got = replies.clone();
    got.sort();
    expected.sort();
    if got != expected {
        child.kill().await.unwrap();
        let mut err = String::new();
        use tokio::io::AsyncReadExt;
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .await
            .unwrap();
        panic!("{got:?} != {expected:?}; the bot said: {err}");
    }
    assert_eq!(
        fake.media_fetches().len(),
        6,
        "the bad one was downloaded, then refused"
    );
    assert!(fake
        .media_fetches()
        .iter()
        .all(|(_, bearer)| *bearer == config.token));
    child.kill().await.unwrap();
}
