//! Webhook verification over real sockets: a hyper server on 127.0.0.1 with
//! `VerifySignatureLayer` in front of a handler that records what it gets.
#![cfg(feature = "webhook")]

#[path = "support/common/mod.rs"]
mod common;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use common::webhooks::{deliver, handshake, send, text_delivery};
use http::{Request, Response, StatusCode};
use http_body::Frame;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tower::{service_fn, ServiceBuilder, ServiceExt};
use tower_whatsapp_auth::webhook::{
    sign, Deduplicator, Handshake, MemoryDeduplicator, VerifySignatureLayer,
};
use tower_whatsapp_auth::Secret;

const SECRET: &str = "app-secret";

/// Serves `VerifySignatureLayer(limit)` over a recording handler on a free
/// port; returns its address and what the handler received.
async fn serve(limit: usize) -> (SocketAddr, Arc<Mutex<Vec<Bytes>>>) {
    let received = Arc::new(Mutex::new(Vec::new()));
    let log = received.clone();
    let handler = service_fn(move |req: Request<Full<Bytes>>| {
        let log = log.clone();
        async move {
            let body = req.into_body().collect().await.unwrap().to_bytes();
            log.lock().unwrap().push(body);
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
        }
    });
    let svc = ServiceBuilder::new()
        .layer(
            VerifySignatureLayer::new(SECRET)
                .also_accept("rotated-secret")
                .limit(limit),
        )
        .service(handler);
    (listen(svc).await, received)
}

/// Serves `svc` over HTTP/1 on a free port of 127.0.0.1; returns the address.
async fn listen<S, B>(svc: S) -> SocketAddr
where
    S: tower::Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let svc = svc.clone();
            tokio::spawn(async move {
                let hyper_svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                    svc.clone().oneshot(req)
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), hyper_svc)
                    .await;
            });
        }
    });
    addr
}

async fn post(
    addr: SocketAddr,
    signature: Option<(&str, String)>,
    body: Bytes,
) -> (StatusCode, String) {
    let mut req = Request::post(format!("http://{addr}/webhook"));
    if let Some((name, value)) = signature {
        req = req.header(name, value);
    }
    send(req.body(Full::new(body)).unwrap()).await
}

#[tokio::test]
async fn only_deliveries_signed_with_the_app_secret_reach_the_handler_byte_identical() {
    let (addr, received) = serve(1024 * 1024).await;
    // Escapes as Meta sends them: the bytes, not a re-serialisation, are signed.
    let body = Bytes::from_static(br#"{"object":"whatsapp_business_account","entry":[{"changes":[{"value":{"messages":[{"text":{"body":"caf\u00e9 \ud83d\ude2e"}}]}}]}]}"#);
    let good = sign(&Secret::new(SECRET), &body);
    let (status, _) = post(
        addr,
        Some(("x-hub-signature-256", good.clone())),
        body.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(received.lock().unwrap()[0], body, "byte-identical");
    // A rotated secret is accepted too.
    let rotated = sign(&Secret::new("rotated-secret"), &body);
    assert_eq!(
        post(addr, Some(("x-hub-signature-256", rotated)), body.clone())
            .await
            .0,
        StatusCode::OK
    );

    let mut flipped_body = body.to_vec();
    flipped_body[40] ^= 1;
    let mut flipped_sig = good.clone().into_bytes();
    flipped_sig[30] = if flipped_sig[30] == b'a' { b'b' } else { b'a' };
    type Case<'a> = (&'a str, Option<(&'a str, String)>, Bytes);
    let cases: Vec<Case> = vec![
        (
            "one flipped byte in the body",
            Some(("x-hub-signature-256", good.clone())),
            Bytes::from(flipped_body),
        ),
        (
            "one flipped byte in the signature",
            Some((
                "x-hub-signature-256",
                String::from_utf8(flipped_sig).unwrap(),
            )),
            body.clone(),
        ),
        ("no signature", None, body.clone()),
        (
            "sha1= alone",
            Some((
                "x-hub-signature",
                "sha1=2fd4e1c67a2d28fced849ee1bb76e7391b93eb12".into(),
            )),
            body.clone(),
        ),
        (
            "a wrong secret",
            Some(("x-hub-signature-256", sign(&Secret::new("guess"), &body))),
            body.clone(),
        ),
        (
            "malformed",
            Some(("x-hub-signature-256", "sha256=zz".into())),
            body.clone(),
        ),
    ];
    for (name, signature, payload) in cases {
        let (status, reason) = post(addr, signature, payload).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}");
        assert!(
            reason.len() < 64 && !reason.is_empty(),
            "{name}: short reason {reason:?}"
        );
    }
    assert_eq!(
        received.lock().unwrap().len(),
        2,
        "the handler never ran for those"
    );
}

/// A body that streams `total` bytes in 16 KiB chunks, counting what was
/// pulled from it.
struct Counted {
    left: usize,
    pulled: Arc<AtomicUsize>,
}

impl http_body::Body for Counted {
    type Data = Bytes;
    type Error = Infallible;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.left == 0 {
            return Poll::Ready(None);
        }
        let n = self.left.min(16 * 1024);
        self.left -= n;
        self.pulled.fetch_add(n, Ordering::SeqCst);
        Poll::Ready(Some(Ok(Frame::data(Bytes::from(vec![b'x'; n])))))
    }
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_without_reading_on() {
    let (addr, received) = serve(64 * 1024).await;
    // Declared too large: refused before a byte is read.
    let big = Bytes::from(vec![b'x'; 200 * 1024]);
    let sig = sign(&Secret::new(SECRET), &big);
    let (status, _) = post(addr, Some(("x-hub-signature-256", sig)), big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    // Streamed with no declared size: refused once the limit is passed.
    let pulled = Arc::new(AtomicUsize::new(0));
    let client = Client::builder(TokioExecutor::new()).build_http::<Counted>();
    let req = Request::post(format!("http://{addr}/webhook"))
        .header("x-hub-signature-256", "sha256=00")
        .body(Counted {
            left: 64 * 1024 * 1024,
            pulled: pulled.clone(),
        })
        .unwrap();
    let answer = tokio::time::timeout(Duration::from_secs(20), client.request(req))
        .await
        .unwrap();
    if let Ok(res) = answer {
        assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }
    let pulled = pulled.load(Ordering::SeqCst);
    assert!(
        pulled < 16 * 1024 * 1024,
        "read on past the limit: {pulled} bytes of 64 MiB"
    );
    assert!(received.lock().unwrap().is_empty());
}

#[tokio::test]
async fn the_handshake_answers_the_right_token_only() {
    let addr = listen(Handshake::new("s3cret")).await;
    let url = format!("http://{addr}/webhook");
    assert_eq!(
        handshake(&url, "s3cret", "1158201444").await,
        (StatusCode::OK, "1158201444".into())
    );
    assert_eq!(handshake(&url, "s3cre", "1").await.0, StatusCode::FORBIDDEN);
    assert_eq!(
        handshake(&url, "s3crett", "1").await.0,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn the_same_message_delivered_twice_is_processed_once() {
    let seen = MemoryDeduplicator::new(1000, Duration::from_secs(3600));
    let delivery = text_delivery("1", "15551234567", "wamid.ONCE", "hi");
    let mut processed = 0;
    for _ in 0..2 {
        let parsed = tower_whatsapp_auth::webhook::Notification::parse(&delivery).unwrap();
        for (_, message) in parsed.messages() {
            if seen.first_sighting(&message.id).await.unwrap() {
                processed += 1;
            }
        }
    }
    assert_eq!(processed, 1);
    // And over a real socket through the layer (the duplicate is acknowledged).
    let (addr, received) = serve(1024 * 1024).await;
    let url = format!("http://{addr}/webhook");
    for _ in 0..2 {
        assert_eq!(
            deliver(&url, Some(SECRET), delivery.clone()).await.0,
            StatusCode::OK
        );
    }
    assert_eq!(
        received.lock().unwrap().len(),
        2,
        "both acknowledged; the handler dedupes"
    );
}
