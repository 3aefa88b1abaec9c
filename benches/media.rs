//! 7. Media download: a 100 MB file through the stack (`Media::download`:
//!    Graph's node, then the file from the URL it answers, streamed, its
//!    SHA-256 checked as the bytes pass) against the bare hyper client
//!    reading the same file with the bearer set by hand and hashing it as
//!    it passes (what checking a download takes without the crate), over
//!    loopback, in paired rounds; a bare client that does not hash is
//!    shown too. Then the process's peak memory (`VmHWM`) after a 10 MB and
//!    after a 100 MB download through the stack: the growth must stay under
//!    8 MiB, whatever the file's size (asserted in test mode too).
//!
//! ```text
//! cargo bench --bench media
//! ```

mod support;

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use http_body::{Body, Frame, SizeHint};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use sha2::{Digest, Sha256};
use tower::Layer;
use tower_whatsapp_auth::media::Media;
use tower_whatsapp_auth::{ReplayBody, WhatsAppAuth, WhatsAppAuthLayer};

const TOKEN: &str = "EAAGmediabenchtoken0000000000";
const BEARER: &str = "Bearer EAAGmediabenchtoken0000000000";
const MB: u64 = 1_000_000;
const BLOCK: usize = 64 * 1024;

/// The file's bytes: one 64 KiB block, repeated (the server holds no more).
fn block() -> Bytes {
    (0..BLOCK as u32).map(|i| (i * 31 + 7) as u8).collect()
}

/// The SHA-256 (hex) of a file of `len` bytes.
fn sha256_of(len: u64) -> String {
    let block = block();
    let mut hasher = Sha256::new();
    let mut left = len;
    while left > 0 {
        let n = left.min(BLOCK as u64) as usize;
        hasher.update(&block[..n]);
        left -= n as u64;
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A body of `left` bytes of the block, frame by frame (no copies).
struct Pattern {
    block: Bytes,
    left: u64,
}

impl Body for Pattern {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.left == 0 {
            return Poll::Ready(None);
        }
        let n = self.left.min(BLOCK as u64) as usize;
        self.left -= n as u64;
        Poll::Ready(Some(Ok(Frame::data(self.block.slice(..n)))))
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.left)
    }
}

/// Graph's media node (`/v25.0/{size}`: the id is the size in bytes) and
/// the file (`/file/{size}`), 401 without the bearer, on 127.0.0.1.
async fn server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let block = block();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let block = block.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let block = block.clone();
                    async move {
                        let authorized = req
                            .headers()
                            .get("authorization")
                            .is_some_and(|v| v == BEARER);
                        let path = req.uri().path().to_owned();
                        let body: http_body_util::combinators::BoxBody<Bytes, Infallible> =
                            if !authorized {
                                Empty::new().boxed()
                            } else if let Some(size) = path.strip_prefix("/file/") {
                                let left = size.parse().unwrap_or(0);
                                Pattern { block, left }.boxed()
                            } else {
                                let size: u64 =
                                    path.rsplit('/').next().unwrap_or("").parse().unwrap_or(0);
                                let json = format!(
                                    r#"{{"messaging_product":"whatsapp","url":"http://{addr}/file/{size}","mime_type":"video/mp4","sha256":"{}","file_size":"{size}","id":"{size}"}}"#,
                                    sha256_of(size)
                                );
                                http_body_util::Full::new(Bytes::from(json)).boxed()
                            };
                        let mut res = Response::new(body);
                        if !authorized {
                            *res.status_mut() = http::StatusCode::UNAUTHORIZED;
                        }
                        Ok::<_, Infallible>(res)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    format!("http://{addr}")
}

type Stack = WhatsAppAuth<Client<HttpConnector, ReplayBody>>;

fn media(base: &str) -> Media<Stack> {
    let client = Client::builder(TokioExecutor::new()).build_http();
    let host = base.trim_start_matches("http://");
    let stack = WhatsAppAuthLayer::new(TOKEN)
        .graph_base(base)
        .media_host(host)
        .without_validation()
        .layer(client);
    Media::new(stack)
}

/// Downloads `size` bytes through the stack, checked; gives the bytes.
async fn through_stack(media: &Media<Stack>, size: u64) -> u64 {
    let download = media.download(&size.to_string()).await.unwrap();
    download.for_each_chunk(|_| {}).await.unwrap().bytes
}

/// The same file with the bare client: the bearer set by hand, every byte
/// counted, and hashed when `hash`.
async fn bare(
    client: &Client<HttpConnector, Empty<Bytes>>,
    base: &str,
    size: u64,
    hash: bool,
) -> u64 {
    let req = Request::get(format!("{base}/file/{size}"))
        .header("authorization", BEARER)
        .body(Empty::new())
        .unwrap();
    let mut body = client.request(req).await.unwrap().into_body();
    let (mut got, mut hasher) = (0, Sha256::new());
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.unwrap().into_data() {
            got += data.len() as u64;
            if hash {
                hasher.update(&data);
            }
        }
    }
    if hash {
        assert_eq!(
            hasher
                .finalize()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>(),
            sha256_of(size)
        );
    }
    got
}

/// The process's peak resident memory, in bytes (Linux `VmHWM`).
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let base = rt.block_on(server());
    let media = media(&base);
    let client: Client<HttpConnector, Empty<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();

    // Memory: warmed up first, then 10 MB, then 100 MB, through the stack.
    rt.block_on(async {
        assert_eq!(through_stack(&media, MB).await, MB);
        assert_eq!(bare(&client, &base, MB, true).await, MB);
    });
    let warmed = peak_rss();
    let ten = rt.block_on(through_stack(&media, 10 * MB));
    let after_ten = peak_rss();
    let hundred = rt.block_on(through_stack(&media, 100 * MB));
    let after_hundred = peak_rss();
    assert_eq!((ten, hundred), (10 * MB, 100 * MB));
    if let (Some(warmed), Some(after_ten), Some(after_hundred)) = (warmed, after_ten, after_hundred)
    {
        let growth = after_hundred.saturating_sub(after_ten);
        println!(
            "media: peak memory {:.1} MiB warmed up, {:.1} MiB after 10 MB, {:.1} MiB after 100 MB: growth {:.2} MiB (limit 8 MiB)",
            warmed as f64 / 1048576.0,
            after_ten as f64 / 1048576.0,
            after_hundred as f64 / 1048576.0,
            growth as f64 / 1048576.0
        );
        assert!(
            growth < 8 * 1024 * 1024,
            "peak memory grew by {growth} bytes from 10 MB to 100 MB"
        );
    }
    if support::test_mode() {
        return;
    }
    let size = 100 * MB;
    let variants: Vec<support::Timed<'_>> = vec![
        (
            "bare client, hashing",
            support::timed(&rt, || async {
                assert_eq!(bare(&client, &base, size, true).await, size);
            }),
        ),
        (
            "whatsapp_auth Media::download",
            support::timed(&rt, || async {
                assert_eq!(through_stack(&media, size).await, size);
            }),
        ),
        (
            "bare client, not hashing",
            support::timed(&rt, || async {
                assert_eq!(bare(&client, &base, size, false).await, size);
            }),
        ),
    ];
    support::print_paired(
        "media, 100 MB over loopback",
        variants,
        ROUNDS,
        1,
        "downloads",
    );
    println!("throughput relative to the bare client = 1 / time ratio");
}

/// Paired rounds of one 100 MB download per variant (rounds spread by
/// about ±5% on a 2-core machine: 41 put the median within about 1.5%).
const ROUNDS: usize = 41;
