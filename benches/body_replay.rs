//! 4. Body replay: allocations and bytes allocated per request, and whether
//!    the body was ever copied, for a 1 KiB and a 1 MiB body, through the
//!    stack (no refusal, and refused once then renewed and replayed) against
//!    the bare service. Counted with a counting global allocator; bodies are
//!    checked by address at the service. Times are measured too.
//!
//! ```text
//! cargo bench --bench body_replay
//! ```

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use criterion::Criterion;
use http::Request;
use http_body_util::Full;
use support::graph::MemoryGraph;
use tower::{ServiceBuilder, ServiceExt};
use tower_whatsapp_auth::{ReplayBody, WhatsAppAuthLayer};

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
static ALLOCATED: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards every call to the system allocator unchanged; it only
// counts. (The crate itself forbids unsafe code; this is the bench binary.)
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        ALLOCATED.fetch_add(layout.size() as u64, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        ALLOCATED.fetch_add(new_size as u64, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const TOKEN: &str = "EAABenchInitial";
const URL: &str = "http://graph.invalid/v24.0/1/messages";

#[derive(Clone, Copy, PartialEq)]
enum Path {
    Bare,
    Stack,
    Replayed,
}

impl Path {
    fn name(self) -> &'static str {
        match self {
            Path::Bare => "bare",
            Path::Stack => "whatsapp_auth",
            Path::Replayed => "whatsapp_auth_replayed",
        }
    }
}

type Stack = tower::util::BoxCloneService<Request<Full<Bytes>>, http::StatusCode, tower::BoxError>;

/// The service for `path`, and the graph behind it (for the body addresses
/// it saw, when `record`: only in the checked pass, so the timed runs do not
/// grow a list without end).
fn stack(path: Path, record: bool) -> (Stack, MemoryGraph) {
    let graph = MemoryGraph::new(TOKEN, Duration::ZERO, path == Path::Replayed, record);
    let layered = ServiceBuilder::new()
        .layer(
            WhatsAppAuthLayer::new(TOKEN)
                .graph_base("http://graph.invalid")
                .allow_plain_http(true)
                .app_credentials("1234", "app-secret")
                .body_limit(2 * 1024 * 1024)
                .without_validation(),
        )
        .service(graph.clone());
    let stack = match path {
        Path::Bare => Stack::new(
            graph
                .clone()
                .map_request(|req: Request<Full<Bytes>>| {
                    // A client without the layer sets the header itself; the body
                    // goes as the same bytes.
                    let (mut parts, body) = req.into_parts();
                    parts.headers.insert(
                        "authorization",
                        http::HeaderValue::from_static("Bearer EAABenchInitial"),
                    );
                    Request::from_parts(parts, ReplayBody::from(full_bytes(body)))
                })
                .map_response(|res| res.status())
                .map_err(tower::BoxError::from),
        ),
        _ => Stack::new(ServiceExt::<Request<Full<Bytes>>>::map_response(
            layered,
            |res| res.status(),
        )),
    };
    (stack, graph)
}

/// The bytes of a `Full` body, taken without copying.
fn full_bytes(body: Full<Bytes>) -> Bytes {
    use http_body::Body;
    let mut body = std::pin::pin!(body);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match body.as_mut().poll_frame(&mut cx) {
        std::task::Poll::Ready(Some(Ok(frame))) => frame.into_data().unwrap_or_default(),
        _ => Bytes::new(),
    }
}

async fn send(stack: &Stack, body: &Bytes) {
    let req = Request::post(URL).body(Full::new(body.clone())).unwrap();
    assert_eq!(stack.clone().oneshot(req).await.unwrap(), 200);
}

const SIZES: [(&str, usize); 2] = [("1KiB", 1024), ("1MiB", 1024 * 1024)];
const PATHS: [Path; 3] = [Path::Bare, Path::Stack, Path::Replayed];

fn body_replay(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("body_replay");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for (size_name, size) in SIZES {
        let body = Bytes::from(vec![b'x'; size]);
        for path in PATHS {
            let body = body.clone();
            let (stack, _graph) = stack(path, false);
            group.bench_function(format!("{}/{size_name}", path.name()), |b| {
                b.to_async(&rt).iter(|| send(&stack, &body))
            });
        }
    }
    group.finish();

    println!(
        "\nbody_replay: per request (mean of 1,000), the body checked by address at the service"
    );
    println!(
        "  {:<34} {:>12} {:>16} {:>14}",
        "path/body", "allocations", "bytes allocated", "body copies"
    );
    for (size_name, size) in SIZES {
        let body = Bytes::from(vec![b'x'; size]);
        for path in PATHS {
            const N: u64 = 1000;
            let (stack, graph) = stack(path, true);
            rt.block_on(send(&stack, &body)); // the first request builds lazy state
            graph.state.body_ptrs.lock().unwrap().clear();
            let (a0, b0) = (
                ALLOCATIONS.load(Ordering::Relaxed),
                ALLOCATED.load(Ordering::Relaxed),
            );
            rt.block_on(async {
                for _ in 0..N {
                    send(&stack, &body).await;
                }
            });
            let (a1, b1) = (
                ALLOCATIONS.load(Ordering::Relaxed),
                ALLOCATED.load(Ordering::Relaxed),
            );
            let ptrs = graph.state.body_ptrs.lock().unwrap();
            let copies = ptrs
                .iter()
                .filter(|p| **p != body.as_ptr() as usize)
                .count();
            // Every body was seen (N of them): "0 copies" of nothing proves nothing.
            let expected = if path == Path::Replayed { 2 * N } else { N } as usize;
            assert_eq!(ptrs.len(), expected, "every body's address recorded");
            println!(
                "  {:<34} {:>12.1} {:>16.0} {:>14}",
                format!("{}/{size_name}", path.name()),
                (a1 - a0) as f64 / N as f64,
                (b1 - b0) as f64 / N as f64,
                format!("{copies} of {}", ptrs.len()),
            );
            assert_eq!(copies, 0, "the body was copied");
        }
    }
}

fn main() {
    let started = std::time::SystemTime::now();
    let mut c = Criterion::default().configure_from_args();
    body_replay(&mut c);
    c.final_summary();
    for (size, _) in SIZES {
        let ids: Vec<String> = PATHS
            .iter()
            .map(|p| format!("{}/{size}", p.name()))
            .collect();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        support::print_ratios(started, "body_replay", &format!("bare/{size}"), &ids);
    }
}
