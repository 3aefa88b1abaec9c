//! The host rule over real sockets: a request to a host that is neither
//! Graph's nor a media host fails unsent, and that host (a listener on
//! 127.0.0.1 recording every request) never sees it, let alone an
//! `Authorization` header; a media host gets the bearer and no
//! `appsecret_proof`. Both stacks, the one-token and the tenant-aware one.
#![cfg(all(feature = "tenants", feature = "media"))]

#[path = "support/common/mod.rs"]
mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use common::fake_graph::tenants::FakeTenant;
use common::fake_graph::{FakeConfig, FakeGraph};
use common::full_stack::{crate_error, fake_config, start, SECRET};
use common::sender::https_client;
use common::tenant_book::TenantBook;
use http::{Request, Response};
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tower::{Layer, ServiceExt};
use tower_whatsapp_auth::tenants::{TenantId, WhatsAppTenantsLayer};
use tower_whatsapp_auth::Error;

/// What a recording listener got: each request's URI and `Authorization`.
type Seen = Arc<Mutex<Vec<(String, Option<String>)>>>;

/// A listener on 127.0.0.1 that answers 200 to anything and records it.
async fn recorder() -> (SocketAddr, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen: Seen = Arc::default();
    let record = seen.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let record = record.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req: Request<hyper::body::Incoming>| {
                    let auth = req
                        .headers()
                        .get("authorization")
                        .map(|v| v.to_str().unwrap_or("?").to_owned());
                    record.lock().unwrap().push((req.uri().to_string(), auth));
                    async { Ok::<_, hyper::Error>(Response::new(Full::new(Bytes::from("ok")))) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    (addr, seen)
}

fn get(url: String) -> Request<Full<Bytes>> {
    Request::get(url).body(Full::new(Bytes::new())).unwrap()
}

#[tokio::test]
async fn a_foreign_host_is_refused_unsent_and_a_media_host_gets_only_the_bearer() {
    let (other, other_seen) = recorder().await;
    let (media, media_seen) = recorder().await;
    let (fake, stack, _cell) = start(fake_config(None), |l| l.media_host(media.to_string())).await;
    let _ = &fake;
    for url in [
        format!("http://{other}/cat.jpg"),
        format!("http://{other}/v25.0/106540352242922/messages"),
        format!("http://localhost:{}/m", media.port()),
    ] {
        let err = stack.clone().oneshot(get(url.clone())).await.unwrap_err();
        match crate_error(&err) {
            Error::HostNotAllowed { host } => assert!(url.contains(host.as_str()), "{host}"),
            other => panic!("{url}: {other}"),
        }
        assert!(!err.to_string().contains("EAAFake"), "{err}");
    }
    assert!(
        other_seen.lock().unwrap().is_empty(),
        "the other host saw a request"
    );
    // A plain-http host off loopback is refused before any connection.
    let err = stack
        .clone()
        .oneshot(get("http://lookaside.fbsbx.com/x".into()))
        .await
        .unwrap_err();
    assert!(
        matches!(crate_error(&err), Error::PlainHttp { .. }),
        "{err}"
    );
    // The media host: the bearer, the URL as it came (no proof).
    let url = format!("http://{media}/whatsapp_business/attachments/?mid=1&hash=2");
    let res = stack.clone().oneshot(get(url)).await.unwrap();
    assert_eq!(res.status(), 200);
    let seen = media_seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].0, "/whatsapp_business/attachments/?mid=1&hash=2");
    assert_eq!(
        seen[0].1.as_deref(),
        Some("Bearer EAAFakeInitialToken0000000000000000")
    );
}

#[tokio::test]
async fn the_tenant_stack_keeps_the_same_rule() {
    let tenant = FakeTenant::new("100200300400", "900800700", "EAAG-tenant-a");
    let config = FakeConfig {
        app_secret: Some(SECRET.into()),
        tenants: vec![tenant.clone()],
        ..FakeConfig::default()
    };
    let fake = FakeGraph::start(config.clone()).await;
    let (other, other_seen) = recorder().await;
    let (media, media_seen) = recorder().await;
    let book = TenantBook::of(std::slice::from_ref(&tenant));
    let asked = book.clone();
    let base = fake.base_url();
    let app_id = config.app_id.clone();
    let layer = WhatsAppTenantsLayer::new(book).configure(move |auth| {
        auth.app_credentials(app_id, SECRET)
            .graph_base(base)
            .media_host(media.to_string())
    });
    let stack = layer.layer(https_client());
    // With the tenant named, and without: refused, naming the host.
    for named in [true, false] {
        let mut req = get(format!("http://{other}/file"));
        if named {
            req.extensions_mut().insert(TenantId::new(&tenant.phone));
        }
        let err = stack.clone().oneshot(req).await.unwrap_err();
        assert!(
            matches!(crate_error(&err), Error::HostNotAllowed { host } if *host == other.to_string()),
            "{err}"
        );
    }
    // A foreign URL whose path names the tenant: refused before the
    // tenant is looked up, so the source is never asked for it.
    let err = stack
        .clone()
        .oneshot(get(format!("http://{other}/{}/messages", tenant.phone)))
        .await
        .unwrap_err();
    assert!(
        matches!(crate_error(&err), Error::HostNotAllowed { .. }),
        "{err}"
    );
    assert_eq!(asked.lookups(), 0, "no lookup for a refused host");
    assert!(other_seen.lock().unwrap().is_empty());
    let mut req = get(format!("http://{media}/m?mid=1"));
    req.extensions_mut().insert(TenantId::new(&tenant.phone));
    assert_eq!(stack.clone().oneshot(req).await.unwrap().status(), 200);
    let seen = media_seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        vec![(
            "/m?mid=1".to_owned(),
            Some(format!("Bearer {}", tenant.token))
        )]
    );
}
