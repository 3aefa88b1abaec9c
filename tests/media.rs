//! Media through the stack against the fake on 127.0.0.1 (Graph on one
//! listener, the media host on a second): downloads and uploads of each
//! type; an expired URL retrieved afresh once (paused clock); a 190 on an
//! upload renewed and the upload sent again from its source; tenants: a
//! media id fetched only ever with its business's token. The media
//! host's hostile answers are in `media_hostile.rs`.
#![cfg(all(feature = "media", feature = "tenants"))]

#[path = "support/common/mod.rs"]
mod common;
#[path = "support/media.rs"]
mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::fake_graph::media::URL_LIFETIME;
use common::fake_graph::{FakeConfig, FakeGraph};
use common::full_stack::{fake_config, SECRET};
use common::sender::https_client;
use http_body_util::Full;
use support::{entries, file_of, folder, start, PHONE};
use tower::Layer;
use tower_whatsapp_auth::media::{FileSource, Media, MediaBody, MediaError, OpenedUpload};

#[tokio::test]
async fn each_type_uploads_and_downloads_with_the_bearer_and_its_checks() {
    let config = fake_config(None);
    let (fake, media) = start(config.clone()).await;
    let dir = folder("types");
    let kinds = [
        ("image/jpeg", "photo.jpg", 300_000),
        ("audio/ogg", "voice.ogg", 40_000),
        ("video/mp4", "clip.mp4", 1_500_000),
        ("application/pdf", "invoice.pdf", 2_000_000),
        ("image/webp", "sticker.webp", 90_000),
    ];
    for (n, (mime, name, len)) in kinds.into_iter().enumerate() {
        let file = file_of(len, n as u8 + 3);
        let source = dir.join(name);
        std::fs::write(&source, &file).unwrap();
        let id = media.upload(&FileSource::new(&source), mime).await.unwrap();
        let upload = fake.uploads().pop().unwrap();
        assert_eq!((upload.mime.as_str(), upload.phone.as_str()), (mime, PHONE));
        assert_eq!(
            upload.file, file,
            "{mime}: the form carried the file as it is"
        );

        let info = media.info(&id).await.unwrap();
        assert_eq!(
            (info.mime_type.as_str(), info.file_size),
            (mime, len as u64)
        );
        let out = dir.join(format!("out-{name}"));
        let got = media.download_to(&id, &out).await.unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), file);
        assert_eq!(got.sha256, fake.media_sha256(&id));
        assert_eq!(got.bytes, len as u64);
    }
    // Every download carried the bearer, and only the bearer: the media
    // host saw the token, the fake recorded no proof in its URL.
    let fetches = fake.media_fetches();
    assert_eq!(fetches.len(), kinds.len());
    assert!(fetches.iter().all(|(_, bearer)| *bearer == config.token));
    let mut expected: Vec<String> = kinds
        .iter()
        .flat_map(|(_, n, _)| [n.to_string(), format!("out-{n}")])
        .collect();
    expected.sort();
    assert_eq!(entries(&dir), expected, "no partial file left");
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn delete_and_an_unknown_id() {
    let (fake, media) = start(fake_config(None)).await;
    let id = fake.add_media(Bytes::from_static(b"%PDF-1.4"), "application/pdf", PHONE);
    media.delete(&id).await.unwrap();
    assert!(!fake.has_media(&id));
    let err = media.info(&id).await.unwrap_err();
    let graph = err.graph_error().expect("a Graph error");
    assert_eq!((graph.code(), graph.subcode()), (100, Some(33)), "{err}");
    assert!(matches!(
        media.info("../me").await,
        Err(MediaError::Config(_))
    ));
}

#[tokio::test]
async fn uploads_meta_would_refuse_are_not_sent() {
    let (fake, media) = start(fake_config(None)).await;
    let dir = folder("refuse");
    let big = dir.join("big.jpg");
    std::fs::write(&big, vec![0u8; 5 * 1024 * 1024 + 1]).unwrap();
    let gif = dir.join("a.gif");
    std::fs::write(&gif, b"GIF89a").unwrap();
    for (path, mime) in [(&big, "image/jpeg"), (&gif, "image/gif")] {
        let err = media
            .upload(&FileSource::new(path), mime)
            .await
            .unwrap_err();
        assert!(matches!(err, MediaError::Unsupported(_)), "{err}");
    }
    assert!(fake.uploads().is_empty());
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn an_upload_refused_with_190_is_sent_again_from_its_source_once_renewed() {
    let config = fake_config(None);
    let (fake, media) = start(config.clone()).await;
    // Validated once first, so the refusal comes on the upload itself.
    media
        .info(&fake.add_media(Bytes::from_static(b"x"), "text/plain", PHONE))
        .await
        .unwrap();
    let file = file_of(3 * 1024 * 1024, 7); // over the stack's 1 MiB replay buffer
    let opens = Arc::new(AtomicUsize::new(0));
    let source = {
        let (file, opens) = (file.clone(), opens.clone());
        move || {
            opens.fetch_add(1, Ordering::SeqCst);
            let body = MediaBody::new(Full::new(file.clone()));
            Ok(OpenedUpload {
                body,
                len: file.len() as u64,
                file_name: "report.pdf".into(),
            })
        }
    };
    fake.expire_all();
    let id = media.upload(&source, "application/pdf").await.unwrap();
    assert_eq!(
        opens.load(Ordering::SeqCst),
        2,
        "opened again after the renewal"
    );
    assert_eq!(fake.counters().exchanges, 1);
    let uploads = fake.uploads();
    assert_eq!(uploads.len(), 1);
    assert_ne!(
        uploads[0].token, config.token,
        "sent again with the renewed token"
    );
    assert_eq!(uploads[0].file, file);
    assert!(fake.has_media(&id));
}

#[tokio::test(start_paused = true)]
async fn an_expired_url_is_retrieved_afresh_once() {
    let (fake, media) = start(fake_config(None)).await;
    // Patient enough to wait for an answer slower than the URL's life.
    let media = media.idle_timeout(URL_LIFETIME * 2);
    let file = file_of(50_000, 5);
    let id = fake.add_media(file.clone(), "image/png", PHONE);
    // The URL is issued as the call comes in and answered past its life.
    fake.delay_next_info(URL_LIFETIME + Duration::from_secs(1));
    let mut got = Vec::new();
    let download = media.download(&id).await.unwrap();
    download
        .for_each_chunk(|c| got.extend_from_slice(&c))
        .await
        .unwrap();
    assert_eq!(got, file);
    assert_eq!(fake.media_info_calls(), 2);
    assert_eq!(fake.media_refusals(), vec![(404, "URL expired".to_owned())]);
}

#[tokio::test]
async fn a_tenants_media_goes_only_with_its_token() {
    use common::fake_graph::tenants::FakeTenant;
    use common::tenant_book::TenantBook;
    use tower_whatsapp_auth::tenants::WhatsAppTenantsLayer;

    let a = FakeTenant::new("100000000000001", "900000000000001", "EAAG-tenant-a");
    let b = FakeTenant::new("100000000000002", "900000000000002", "EAAG-tenant-b");
    let config = FakeConfig {
        app_secret: Some(SECRET.into()),
        tenants: vec![a.clone(), b.clone()],
        ..FakeConfig::default()
    };
    let fake = FakeGraph::start(config.clone()).await;
    let host = fake.start_media_host().await;
    let (base, app_id) = (fake.base_url(), config.app_id.clone());
    let stack = WhatsAppTenantsLayer::new(TenantBook::of(&[a.clone(), b.clone()]))
        .configure(move |auth| {
            auth.app_credentials(app_id, SECRET)
                .graph_base(base)
                .media_host(host.to_string())
        })
        .layer(https_client());
    let of_a = fake.add_media(file_of(70_000, 4), "image/jpeg", &a.phone);
    let media_a = Media::new(stack.clone()).phone_number_id(&a.phone);
    let media_b = Media::new(stack).phone_number_id(&b.phone);
    let mut got = 0;
    media_a
        .download(&of_a)
        .await
        .unwrap()
        .for_each_chunk(|c| got += c.len())
        .await
        .unwrap();
    assert_eq!(got, 70_000);
    // Asked for under B: Graph does not show it to B's number (100/33),
    // and the media host is never reached with B's token.
    let err = media_b.download(&of_a).await.unwrap_err();
    assert_eq!(err.graph_error().map(|g| g.code()), Some(100), "{err}");
    assert!(matches!(
        media_b.delete(&of_a).await,
        Err(MediaError::Graph(_))
    ));
    assert!(fake.has_media(&of_a));
    let fetches = fake.media_fetches();
    assert_eq!(fetches, vec![(of_a.clone(), a.token.clone())]);
    // Uploads go to the tenant's own number, with its token.
    let source = || {
        let body = MediaBody::new(Full::new(Bytes::from_static(b"hello")));
        Ok(OpenedUpload {
            body,
            len: 5,
            file_name: "a.txt".into(),
        })
    };
    media_b.upload(&source, "text/plain").await.unwrap();
    let upload = fake.uploads().pop().unwrap();
    assert_eq!(
        (upload.phone, upload.token),
        (b.phone.clone(), b.token.clone())
    );
}

#[tokio::test]
async fn a_download_with_an_expired_token_is_renewed_and_goes_on() {
    let config = fake_config(None);
    let (fake, media) = start(config.clone()).await;
    let warm = fake.add_media(file_of(10, 1), "image/png", PHONE);
    media.info(&warm).await.unwrap();
    let file = file_of(200_000, 6);
    let id = fake.add_media(file.clone(), "video/mp4", PHONE);
    fake.expire_all();
    let mut got = Vec::new();
    media
        .download(&id)
        .await
        .unwrap()
        .for_each_chunk(|c| got.extend_from_slice(&c))
        .await
        .unwrap();
    assert_eq!(got, file);
    assert_eq!(fake.counters().exchanges, 1, "one renewal");
    let fetches = fake.media_fetches();
    assert_eq!(fetches.len(), 1);
    assert_ne!(
        fetches[0].1, config.token,
        "the file came with the renewed token"
    );
}
