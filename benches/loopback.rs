//! 2. Loopback throughput: a hyper-util client with the layer against a hyper
//!    server on 127.0.0.1, versus the same client without it, at 1 and 64
//!    requests in flight (64 requests per iteration); then in paired rounds
//!    beside a second bare client, whose drift from the first is the noise.
//!
//! ```text
//! cargo bench --bench loopback
//! ```

mod support;

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use criterion::{Criterion, Throughput};
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tower::util::BoxCloneService;
use tower::{BoxError, ServiceBuilder, ServiceExt};
use tower_whatsapp_auth::{ReplayBody, WhatsAppAuthLayer};

const BATCH: usize = 64;
const BODY: &[u8] =
    br#"{"messaging_product":"whatsapp","to":"15551234567","type":"text","text":{"body":"hi"}}"#;
const TOKEN: &str = "EAAGloopbacktoken000000000000";
const BEARER: &str = "Bearer EAAGloopbacktoken000000000000";
const SENT: &[u8] = br#"{"messaging_product":"whatsapp","contacts":[{"input":"15551234567","wa_id":"15551234567"}],"messages":[{"id":"wamid.LOOPBACK"}]}"#;

const NODE: &[u8] =
    br#"{"id":"1","display_phone_number":"+1 555-0100","verified_name":"Loopback"}"#;

type Stack = BoxCloneService<Request<Full<Bytes>>, Response<Bytes>, BoxError>;

async fn server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                // Answers 401 unless the request carries the bearer: a stack
                // that stopped authorizing would fail the bench, not speed up.
                // The validation read of the phone number node (a GET) is
                // answered as Graph does, so the token is validated once.
                let svc = hyper::service::service_fn(|req: Request<Incoming>| async move {
                    let authorized = req
                        .headers()
                        .get("authorization")
                        .is_some_and(|v| v == BEARER);
                    let read = req.method() == http::Method::GET;
                    let body = req.into_body().collect().await;
                    let whole = body.is_ok_and(|b| read || b.to_bytes() == BODY);
                    let status = if authorized && whole { 200 } else { 401 };
                    let answer = if read { NODE } else { SENT };
                    let mut res = Response::new(Full::new(Bytes::from_static(answer)));
                    *res.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
                    Ok::<_, Infallible>(res)
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    format!("http://{addr}")
}

/// A client without the layer, with its own connection pool: it sets the
/// header itself.
fn bare() -> Stack {
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let bare = client
        .map_request(|mut req: Request<Full<Bytes>>| {
            let bearer = http::HeaderValue::from_static(BEARER);
            req.headers_mut()
                .insert(http::header::AUTHORIZATION, bearer);
            req
        })
        .map_err(BoxError::from)
        .and_then(|res: Response<Incoming>| async move {
            let (parts, body) = res.into_parts();
            Ok(Response::from_parts(
                parts,
                body.collect().await?.to_bytes(),
            ))
        });
    BoxCloneService::new(bare)
}

/// The layered client, and its token cell.
fn layered(base: &str) -> (Stack, tower_whatsapp_auth::TokenCell) {
    let client: Client<HttpConnector, ReplayBody> =
        Client::builder(TokioExecutor::new()).build_http();
    let layered = ServiceBuilder::new()
        .layer(
            WhatsAppAuthLayer::new(TOKEN)
                .graph_base(base)
                .phone_number_id("1"),
        )
        .service(client);
    let cell = layered.token_cell().clone();
    let layered = ServiceExt::<Request<Full<Bytes>>>::and_then(
        layered,
        |res: Response<tower_whatsapp_auth::classify::GraphBody<Incoming>>| async move {
            let (parts, body) = res.into_parts();
            Ok(Response::from_parts(
                parts,
                body.collect().await?.to_bytes(),
            ))
        },
    );
    (BoxCloneService::new(layered), cell)
}

async fn batch(stack: Stack, url: String, in_flight: usize) {
    let send = |stack: Stack, url: String| async move {
        let req = Request::post(url)
            .body(Full::new(Bytes::from_static(BODY)))
            .unwrap();
        let res = stack.oneshot(req).await.unwrap();
        assert_eq!(res.status(), 200);
    };
    if in_flight == 1 {
        for _ in 0..BATCH {
            send(stack.clone(), url.clone()).await;
        }
    } else {
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..BATCH {
            tasks.spawn(send(stack.clone(), url.clone()));
        }
        while let Some(done) = tasks.join_next().await {
            done.unwrap();
        }
    }
}

const IDS: [&str; 4] = ["bare/1", "whatsapp_auth/1", "bare/64", "whatsapp_auth/64"];

fn loopback(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let base = rt.block_on(server());
    let url = format!("{base}/v24.0/1/messages");
    let bare_client = bare();
    // A second bare client, with its own pool: paired with the first, it
    // shows how far two identical clients drift apart on this machine.
    let bare_again = bare();
    let (layered, cell) = layered(&base);
    // Validate once and warm the pools; measured with the token validated
    // (not retrying a validation that found no verdict).
    rt.block_on(batch(layered.clone(), url.clone(), 1));
    assert_eq!(cell.stats().validations, 1, "validated");
    assert!(cell.blocked().is_none());
    let mut group = c.benchmark_group("loopback");
    group.throughput(Throughput::Elements(BATCH as u64));
    group
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(6));
    for (id, stack, in_flight) in [
        (IDS[0], &bare_client, 1),
        (IDS[1], &layered, 1),
        (IDS[2], &bare_client, 64),
        (IDS[3], &layered, 64),
    ] {
        group.bench_function(id, |b| {
            b.to_async(&rt)
                .iter(|| batch(stack.clone(), url.clone(), in_flight))
        });
    }
    group.finish();

    // `LOOPBACK_BATCHES=<bare|whatsapp_auth>:<in flight>:<n>`: only `n`
    // batches of one client, for an instruction count (see
    // benches/README.md).
    if let Ok(only) = std::env::var("LOOPBACK_BATCHES") {
        let mut parts = only.split(':');
        let stack = match parts.next() {
            Some("bare") => &bare_client,
            Some("whatsapp_auth") => &layered,
            _ => panic!("LOOPBACK_BATCHES=<bare|whatsapp_auth>:<in flight>:<batches>"),
        };
        let in_flight = parts
            .next()
            .and_then(|n| n.parse().ok())
            .expect("in flight");
        let n: usize = parts.next().and_then(|n| n.parse().ok()).expect("batches");
        for _ in 0..n {
            rt.block_on(batch(stack.clone(), url.clone(), in_flight));
        }
        return;
    }
    // The same batches again, paired round by round (see `support`), with
    // the second bare client beside them (an A/A pair: the drift between
    // two identical clients is the noise any ratio here carries).
    for (title, in_flight) in [
        ("loopback, 1 in flight", 1),
        ("loopback, 64 in flight", BATCH),
    ] {
        let variants = [
            ("bare", &bare_client),
            ("bare, a second client", &bare_again),
            ("whatsapp_auth", &layered),
        ]
        .into_iter()
        .map(|(id, stack)| {
            let (stack, url) = (stack.clone(), url.clone());
            let run = support::timed(&rt, move || batch(stack.clone(), url.clone(), in_flight));
            (id, run)
        })
        .collect();
        support::print_paired(title, variants, ROUNDS, BATCHES, "batches of 64");
    }
}

/// Paired rounds, and batches per variant in each round. Loopback rounds
/// spread by ±5% on a 2-core machine (client, server and the kernel share
/// it): 81 of them put the median within about 1% (41 left it near 1.5%).
const ROUNDS: usize = 81;
const BATCHES: u64 = 10;

fn main() {
    let started = std::time::SystemTime::now();
    let mut c = Criterion::default().configure_from_args();
    loopback(&mut c);
    c.final_summary();
    println!("\nthroughput relative to the bare client = 1 / time ratio");
    support::print_ratios(started, "loopback", "bare/1", &IDS[..2]);
    support::print_ratios(started, "loopback", "bare/64", &IDS[2..]);
}
