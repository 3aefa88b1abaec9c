//! The media host at its worst, against the fake on 127.0.0.1: each
//! hostile answer (a page, a body too short, too long or endless, other
//! bytes, a stall, no answer at all, a failure, a refusal) is a typed
//! error, leaves no file, and a fresh URL is asked for only when one
//! could help.
#![cfg(feature = "media")]

#[path = "support/common/mod.rs"]
mod common;
#[path = "support/media.rs"]
mod support;

use std::time::Duration;

use common::fake_graph::media::Hostile;
use common::full_stack::fake_config;
use common::sender::https_client;
use support::{entries, file_of, folder, start, PHONE};
use tower_whatsapp_auth::graph::ErrorKind;
use tower_whatsapp_auth::media::MediaError;

#[tokio::test]
async fn each_hostile_answer_is_a_typed_error_and_leaves_no_file() {
    let (fake, media) = start(fake_config(None)).await;
    let dir = folder("hostile");
    type Expect = fn(&MediaError) -> bool;
    let table: [(Hostile, Expect); 5] = [
        (Hostile::Html, |e| matches!(e, MediaError::NotMedia { .. })),
        (Hostile::Short, |e| matches!(e, MediaError::Body(_))),
        (Hostile::Long, |e| matches!(e, MediaError::Length { .. })),
        (Hostile::WrongBytes, |e| {
            matches!(e, MediaError::Checksum { .. })
        }),
        (Hostile::Endless, |e| matches!(e, MediaError::Length { .. })),
    ];
    for (hostile, expected) in table {
        let id = fake.add_large_media(2 * 1024 * 1024, "video/mp4", PHONE);
        fake.set_hostile(&id, hostile);
        let out = dir.join("clip.mp4");
        let err = media.download_to(&id, &out).await.unwrap_err();
        assert!(expected(&err), "{hostile:?}: {err}");
        assert_eq!(
            err.kind() == ErrorKind::Transient,
            matches!(err, MediaError::Body(_))
        );
        assert!(
            entries(&dir).is_empty(),
            "{hostile:?} left {:?}",
            entries(&dir)
        );
    }
    // A webhook's digest that is not the file's is refused too.
    let id = fake.add_media(file_of(1000, 9), "image/jpeg", PHONE);
    let other = fake.add_media(file_of(1000, 8), "image/jpeg", PHONE);
    let err = media
        .download(&id)
        .await
        .unwrap()
        .expect_sha256(&fake.media_sha256(&other))
        .unwrap()
        .to_file(dir.join("x.jpg"))
        .await
        .unwrap_err();
    assert!(matches!(err, MediaError::Checksum { .. }), "{err}");
    assert!(entries(&dir).is_empty());
    // A cap below the file's size: refused before the download.
    let small = media.clone().max_size(999);
    assert!(matches!(
        small.download(&id).await,
        Err(MediaError::TooLarge {
            size: 1000,
            limit: 999
        })
    ));
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_body_that_stalls_times_out() {
    let (fake, media) = start(fake_config(None)).await;
    let media = media.idle_timeout(Duration::from_secs(30));
    let dir = folder("stall");
    let id = fake.add_large_media(100_000, "audio/mpeg", PHONE);
    fake.set_hostile(&id, Hostile::Stall);
    let err = media.download_to(&id, dir.join("a.mp3")).await.unwrap_err();
    assert!(matches!(err, MediaError::Stalled(_)), "{err}");
    assert!(entries(&dir).is_empty());
    std::fs::remove_dir_all(dir).unwrap();
}

/// Real time (a paused clock would jump ahead while the info call waits
/// on its socket): the info answers, the media host never does.
#[tokio::test]
async fn a_host_that_never_answers_times_out() {
    let (fake, media) = start(fake_config(None)).await;
    let media = media.idle_timeout(Duration::from_millis(500));
    let dir = folder("mute");
    let id = fake.add_large_media(100_000, "audio/mpeg", PHONE);
    fake.set_hostile(&id, Hostile::Mute);
    let started = std::time::Instant::now();
    let err = media.download_to(&id, dir.join("a.mp3")).await.unwrap_err();
    assert!(matches!(err, MediaError::Stalled(_)), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(err.kind(), ErrorKind::Transient);
    assert_eq!(fake.media_info_calls(), 1, "the info answered");
    assert!(entries(&dir).is_empty());
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn a_failing_host_is_transient_and_the_url_is_not_asked_again() {
    let (fake, media) = start(fake_config(None)).await;
    let id = fake.add_media(file_of(1000, 3), "image/png", PHONE);
    fake.set_hostile(&id, Hostile::Unavailable);
    let err = media.download(&id).await.unwrap_err();
    assert!(
        matches!(err, MediaError::Unavailable { status: 503 }),
        "{err}"
    );
    assert_eq!(err.kind(), ErrorKind::Transient);
    assert_eq!(fake.media_info_calls(), 1);
    // A refusal of the first URL is no refusal of a fresh one.
    let err = MediaError::Refused {
        status: 400,
        retrieved_afresh: false,
    };
    assert!(!err.to_string().contains("afresh"), "{err}");
}

#[tokio::test]
async fn without_the_bearer_the_media_host_refuses() {
    let (fake, media) = start(fake_config(None)).await;
    let id = fake.add_media(file_of(10, 1), "image/jpeg", PHONE);
    let info = media.info(&id).await.unwrap();
    let res = https_client()
        .request(
            http::Request::get(&info.url)
                .body(tower_whatsapp_auth::ReplayBody::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn a_url_refused_twice_is_an_error_after_one_fresh_retrieval() {
    let (fake, media) = start(fake_config(None)).await;
    let id = fake.add_media(file_of(100, 2), "image/png", PHONE);
    fake.set_hostile(&id, Hostile::Refuse);
    let err = media.download(&id).await.unwrap_err();
    assert!(
        matches!(
            err,
            MediaError::Refused {
                status: 401,
                retrieved_afresh: true
            }
        ),
        "{err}"
    );
    assert_eq!(
        fake.media_info_calls(),
        2,
        "retrieved afresh once, not more"
    );
    assert_eq!(fake.media_refusals().len(), 2);
}
