//! The `media` example's interface, checked from outside: its commands,
//! flags, environment (`WHATSAPP_MEDIA_HOSTS` among it), printed lines and
//! exit codes, run against the fake and its media host on 127.0.0.1.
#![cfg(feature = "media")]

#[path = "support/common/mod.rs"]
mod common;

use std::process::Output;

use bytes::Bytes;
use common::fake_graph::{FakeConfig, FakeGraph};
use common::run::{env_for, printed, run_example};

async fn fake() -> (FakeGraph, FakeConfig, Vec<(String, String)>) {
    let config = FakeConfig {
        app_secret: Some("s3cret".into()),
        ..FakeConfig::default()
    };
    let fake = FakeGraph::start(config.clone()).await;
    let host = fake.start_media_host().await;
    let mut envs = env_for(&fake, &config);
    envs.push((
        "WHATSAPP_MEDIA_HOSTS".into(),
        format!(" {host} ,cdn.example.com"),
    ));
    (fake, config, envs)
}

async fn run(envs: &[(String, String)], args: &[&str]) -> Output {
    run_example("media", envs, args).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downloads_and_uploads_printing_what_it_did() {
    let (fake, config, envs) = fake().await;
    let dir = std::env::temp_dir().join(format!("twa-media-example-{:x}", fastrand::u64(..)));
    std::fs::create_dir_all(&dir).unwrap();
    let file: Bytes = (0..123_456u32).map(|i| (i % 251) as u8).collect();
    let id = fake.add_media(file.clone(), "image/jpeg", &config.phone_number_id);
    let out = dir.join("photo.jpg");
    let got = run(&envs, &["download", &id, "--out", out.to_str().unwrap()]).await;
    let shown = printed(&got);
    assert_eq!(got.status.code(), Some(0), "{shown}");
    let line = format!(
        "downloaded 123456 bytes image/jpeg sha256 {}\n",
        fake.media_sha256(&id)
    );
    assert_eq!(String::from_utf8_lossy(&got.stdout), line);
    assert_eq!(std::fs::read(&out).unwrap(), file);

    let got = run(
        &envs,
        &["upload", out.to_str().unwrap(), "--type", "image/jpeg"],
    )
    .await;
    let shown = printed(&got);
    assert_eq!(got.status.code(), Some(0), "{shown}");
    let uploaded = fake.uploads().pop().unwrap();
    assert_eq!(uploaded.file, file);
    let stdout = String::from_utf8_lossy(&got.stdout).into_owned();
    let new_id = stdout.strip_prefix("uploaded ").unwrap().trim();
    assert!(fake.has_media(new_id), "{stdout}");
    assert!(!shown.contains("s3cret") && !shown.contains(&config.token));
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_exits_1_naming_its_kind_and_bad_arguments_exit_2() {
    let (fake, _config, envs) = fake().await;
    let dir = std::env::temp_dir().join(format!("twa-media-example-{:x}", fastrand::u64(..)));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("x");
    // An id Graph does not know: 100/33.
    let got = run(
        &envs,
        &["download", "999999", "--out", out.to_str().unwrap()],
    )
    .await;
    let shown = printed(&got);
    assert_eq!(got.status.code(), Some(1), "{shown}");
    assert!(
        shown.contains("error: ") && shown.contains("code 100"),
        "{shown}"
    );
    assert!(!out.exists());
    // A revoked token: its kind and the fix.
    fake.expire_all();
    fake.revoke("EAAFakeInitialToken0000000000000000", 460);
    let id = fake.add_media(Bytes::from_static(b"x"), "text/plain", "106540352242922");
    let got = run(&envs, &["download", &id, "--out", out.to_str().unwrap()]).await;
    let shown = printed(&got);
    assert_eq!(got.status.code(), Some(1), "{shown}");
    assert!(shown.contains("fix: "), "{shown}");
    let txt = dir.join("a.gif");
    std::fs::write(&txt, b"GIF89a").unwrap();
    for args in [
        &[][..],
        &["download"],
        &["download", "12x", "--out", "a"],
        &["download", "12"],
        &["upload", "/no/such/file", "--type", "image/png"],
        &["upload", txt.to_str().unwrap()],
        &["fetch", "1"],
        &["download", "1", "--out", "a", "--type", "b"],
    ] {
        let got = run(&envs, args).await;
        assert_eq!(got.status.code(), Some(2), "{args:?}: {}", printed(&got));
        assert!(printed(&got).contains("usage: media"), "{args:?}");
    }
    let mut bad = envs.clone();
    bad.push(("WHATSAPP_MEDIA_HOSTS".into(), "https://x/".into()));
    let got = run(&bad, &["download", "1", "--out", "a"]).await;
    assert_eq!(got.status.code(), Some(2), "{}", printed(&got));
    std::fs::remove_dir_all(dir).unwrap();
}
