//! The client stack and batch sender shared by the `send` and `quickstart`
//! examples (and the tests): one hyper-util client, `WhatsAppAuthLayer`, and
//! a tower timeout, sending the same message N times at most M at a time.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tower::timeout::TimeoutLayer;
use tower::util::BoxCloneService;
use tower::{BoxError, ServiceBuilder, ServiceExt};
use tower_whatsapp_auth::{
    Error, GraphBody, GraphError, RefreshError, ReplayBody, TokenCell, WhatsAppAuthLayer,
};

/// The HTTP client under the stack: HTTPS for graph.facebook.com, plain HTTP
/// for a fake on 127.0.0.1.
pub type HttpsClient = Client<HttpsConnector<HttpConnector>, ReplayBody>;

/// What callers of the stack see.
pub type Stack = BoxCloneService<Request<Full<Bytes>>, Response<GraphBody<Incoming>>, BoxError>;

pub fn https_client() -> HttpsClient {
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1()
        .build();
    Client::builder(TokioExecutor::new()).build(connector)
}

/// hyper-util client + `auth` + a per-request timeout; returns the stack and
/// its token cell (for the examples' statistics).
pub fn build_stack(auth: WhatsAppAuthLayer, timeout: Duration) -> (Stack, TokenCell) {
    let service = ServiceBuilder::new()
        .layer(TimeoutLayer::new(timeout))
        .layer(auth)
        .service(https_client());
    let cell = service.get_ref().token_cell().clone();
    (BoxCloneService::new(service), cell)
}

/// The Cloud API text message body.
pub fn text_message(to: &str, text: &str) -> Bytes {
    let body = serde_json::json!({
        "messaging_product": "whatsapp",
        "to": to,
        "type": "text",
        "text": { "body": text },
    });
    Bytes::from(body.to_string())
}

/// Outcome of a batch.
#[derive(Debug, Default)]
pub struct Summary {
    pub sent: usize,
    /// reason → (count, remediation hint)
    pub failed: BTreeMap<String, (usize, String)>,
    /// Messages not attempted because the stack stopped sending, and why.
    pub stopped: Option<(usize, (String, String))>,
    pub elapsed: Duration,
}

impl Summary {
    pub fn failed_total(&self) -> usize {
        self.failed.values().map(|(n, _)| n).sum()
    }

    pub fn print(&self) {
        println!(
            "summary: {} sent, {} failed in {:.2?}",
            self.sent,
            self.failed_total(),
            self.elapsed
        );
        for (reason, (count, hint)) in &self.failed {
            println!("  {count:>6} × {reason}");
            if !hint.is_empty() {
                println!("           fix: {hint}");
            }
        }
        if let Some((left, (reason, hint))) = &self.stopped {
            println!(
                "  stopped: {left} message(s) not attempted, as every one would fail: {reason}"
            );
            if !hint.is_empty() {
                println!("           fix: {hint}");
            }
        }
    }
}

/// Sends `body` to `url` `count` times, at most `concurrency` in flight.
pub async fn send_batch(
    stack: Stack,
    url: &str,
    body: Bytes,
    count: usize,
    concurrency: usize,
    progress: bool,
) -> Summary {
    send_batch_until_blocked(stack, None, url, body, count, concurrency, progress).await
}

/// Whether `err` will fail every later request too, until an operator acts.
pub fn is_permanent(err: &Error) -> bool {
    matches!(
        err,
        Error::Misconfigured { .. }
            | Error::TokenDead { .. }
            | Error::PermissionMissing { .. }
            | Error::Config(_)
    )
}

/// [`send_batch`], stopping as soon as `cell` fails requests for a reason
/// that will not pass (a wrong app secret, a dead token): the rest are not
/// attempted.
pub async fn send_batch_until_blocked(
    stack: Stack,
    cell: Option<&TokenCell>,
    url: &str,
    body: Bytes,
    count: usize,
    concurrency: usize,
    progress: bool,
) -> Summary {
    let started = Instant::now();
    let limit = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut tasks = JoinSet::new();
    let mut summary = Summary::default();
    let step = (count / 10).max(1);
    let mut done = 0;
    let mut record = |summary: &mut Summary, outcome: Result<(), (String, String)>| {
        match outcome {
            Ok(()) => summary.sent += 1,
            Err((reason, hint)) => summary.failed.entry(reason).or_insert((0, hint)).0 += 1,
        }
        done += 1;
        if progress && (done % step == 0 || done == count) {
            println!(
                "progress: {done}/{count} done, {} sent, {} failed",
                summary.sent,
                summary.failed_total()
            );
        }
    };
    for launched in 0..count {
        let permit = limit.clone().acquire_owned().await.expect("semaphore open");
        if let Some(err) = cell.and_then(TokenCell::blocked).filter(is_permanent) {
            summary.stopped = Some((count - launched, describe(&err.into())));
            break;
        }
        let stack = stack.clone();
        let req = Request::post(url)
            .header("content-type", "application/json")
            .body(Full::new(body.clone()))
            .expect("valid request");
        tasks.spawn(async move {
            let outcome = send_one(stack, req).await;
            drop(permit);
            outcome
        });
        while let Some(joined) = tasks.try_join_next() {
            record(&mut summary, joined.expect("send task"));
        }
    }
    while let Some(joined) = tasks.join_next().await {
        record(&mut summary, joined.expect("send task"));
    }
    summary.elapsed = started.elapsed();
    summary
}

async fn send_one(stack: Stack, req: Request<Full<Bytes>>) -> Result<(), (String, String)> {
    let res = stack.oneshot(req).await.map_err(|e| describe(&e))?;
    let status = res.status();
    let graph = res.extensions().get::<GraphError>().cloned();
    let body = res
        .into_body()
        .collect()
        .await
        .map_err(|e| (format!("reading the answer failed: {e}"), String::new()))?
        .to_bytes();
    if let Some(err) = graph {
        return Err(graph_reason(&err));
    }
    if !status.is_success() {
        return Err((
            format!("HTTP {} (not a Graph error body)", status.as_u16()),
            "retry later; check Meta's status page".into(),
        ));
    }
    let accepted = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["messages"][0]["id"].as_str().map(str::to_owned));
    match accepted {
        Some(_) => Ok(()),
        None => Err(("HTTP 200 without a message id".into(), String::new())),
    }
}

fn graph_reason(err: &GraphError) -> (String, String) {
    let code = match err.subcode() {
        Some(sub) => format!("{}/{sub}", err.code()),
        None => err.code().to_string(),
    };
    (
        format!(
            "{} (Graph code {code}, HTTP {})",
            err.kind(),
            err.status().as_u16()
        ),
        err.hint().to_owned(),
    )
}

/// A short, groupable reason and a remediation hint for a failed request.
pub fn describe(err: &BoxError) -> (String, String) {
    if err.is::<tower::timeout::error::Elapsed>() {
        return (
            "timed out".into(),
            "Graph did not answer in time; retry later".into(),
        );
    }
    let Some(err) = err.downcast_ref::<Error>() else {
        return (
            format!("transport error: {err}"),
            "check network access to the Graph API base URL".into(),
        );
    };
    match err {
        Error::Graph(g) => graph_reason(g),
        Error::TokenDead { cause } => {
            let (reason, hint) = graph_reason(cause);
            (format!("not sent, token dead: {reason}"), hint)
        }
        Error::NotReplayed { source, .. } => {
            let (reason, hint) = graph_reason(source);
            (format!("not replayed (body too large): {reason}"), hint)
        }
        Error::Misconfigured { what, cause } => {
            let (reason, hint) = graph_reason(cause);
            (format!("not sent, {}: {reason}", what.describe()), hint)
        }
        Error::Refresh(RefreshError::BackingOff { last, .. }) => (
            format!("not sent, refresh backing off after: {last}"),
            last.graph_error()
                .map_or_else(String::new, |g| g.hint().to_owned()),
        ),
        Error::Refresh(r) => (format!("not sent, refresh failed: {r}"), String::new()),
        other => (other.to_string(), String::new()),
    }
}
