//! Sending a batch of messages through the stack, at most N at a time,
//! and what came of it: how many were accepted, the failures grouped by
//! reason with their fix, the messages whose outcome is unknown (never
//! retried: they may have been delivered), and where sending stopped.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tower::util::BoxCloneSyncService;
use tower::{BoxError, ServiceExt};
use tower_whatsapp_auth::{classify::GraphBody, graph::GraphError, Error, TokenCell};

use crate::describe::{describe, graph_reason, is_permanent};

/// The client stack, boxed: what [`send_messages`] sends through.
pub type Stack = BoxCloneSyncService<
    Request<Full<Bytes>>,
    http::Response<GraphBody<hyper::body::Incoming>>,
    BoxError,
>;

/// Outcome of a batch.
#[derive(Debug, Default)]
pub struct Summary {
    pub sent: usize,
    /// reason → (count, remediation hint)
    pub failed: BTreeMap<String, (usize, String)>,
    /// Messages (numbered from 1) whose outcome is unknown: a timeout, a
    /// 5xx without a Graph error. They were not retried, as they may have
    /// been delivered.
    pub unknown: Vec<usize>,
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
        if !self.unknown.is_empty() {
            let mut numbers = self.unknown.clone();
            numbers.sort_unstable();
            let list: Vec<String> = numbers.iter().map(|n| format!("#{n}")).collect();
            println!(
                "  outcome unknown, not retried (they may have been delivered: check before sending them again): {}",
                list.join(", ")
            );
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

/// Why one message failed.
struct Failure {
    reason: String,
    hint: String,
    unknown: bool,
}

impl Failure {
    fn from_error(err: &BoxError) -> Failure {
        let (reason, hint) = describe(err);
        Failure {
            reason,
            hint,
            // The stack's refusals and the shaper's were not sent; a
            // failure in the client was, unless the connection was refused;
            // a timeout outside the stack may have been.
            unknown: match err.downcast_ref::<Error>() {
                Some(Error::Transport(failure)) => !failure.not_sent(),
                Some(_) => false,
                None => true,
            },
        }
    }
}

/// Sends message `n` (from 1) with body `body(n)`, `count` of them, at most
/// `concurrency` in flight, printing progress every tenth; stops as soon as
/// the stack's token `cell` fails requests for a reason that will not pass
/// (a wrong app secret, a dead token), leaving the rest unattempted.
pub async fn send_messages(
    stack: Stack,
    cell: &TokenCell,
    url: &str,
    body: impl Fn(usize) -> Bytes,
    count: usize,
    concurrency: usize,
) -> Summary {
    let started = Instant::now();
    let limit = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut tasks = JoinSet::new();
    let mut summary = Summary::default();
    let step = (count / 10).max(1);
    let mut done = 0;
    let mut record = |summary: &mut Summary, (n, outcome): (usize, Result<(), Failure>)| {
        match outcome {
            Ok(()) => summary.sent += 1,
            Err(failure) => {
                if failure.unknown {
                    summary.unknown.push(n);
                }
                let entry = summary.failed.entry(failure.reason);
                entry.or_insert((0, failure.hint)).0 += 1;
            }
        }
        done += 1;
        if done % step == 0 || done == count {
            println!(
                "progress: {done}/{count} done, {} sent, {} failed",
                summary.sent,
                summary.failed_total()
            );
        }
    };
    for n in 1..=count {
        let permit = limit.clone().acquire_owned().await.expect("semaphore open");
        if let Some(err) = cell.blocked().filter(is_permanent) {
            summary.stopped = Some((count + 1 - n, describe(&err.into())));
            break;
        }
        let stack = stack.clone();
        let req = Request::post(url)
            .header("content-type", "application/json")
            .body(Full::new(body(n)))
            .expect("valid request");
        tasks.spawn(async move {
            let outcome = send_one(stack, req).await;
            drop(permit);
            (n, outcome)
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

async fn send_one(stack: Stack, req: Request<Full<Bytes>>) -> Result<(), Failure> {
    let res = stack
        .oneshot(req)
        .await
        .map_err(|e| Failure::from_error(&e))?;
    let status = res.status();
    let graph = res.extensions().get::<GraphError>().cloned();
    let body = res.into_body().collect().await.map_err(|e| Failure {
        reason: format!("reading the answer failed: {e}"),
        hint: String::new(),
        unknown: true,
    })?;
    if let Some(err) = graph {
        let (reason, hint) = graph_reason(&err);
        return Err(Failure {
            reason,
            hint,
            unknown: false,
        });
    }
    if !status.is_success() {
        return Err(Failure {
            reason: format!("HTTP {} (not a Graph error body)", status.as_u16()),
            hint: "the message may or may not have been delivered; check Meta's status page".into(),
            unknown: status.is_server_error(),
        });
    }
    let accepted = serde_json::from_slice::<serde_json::Value>(&body.to_bytes())
        .ok()
        .and_then(|v| v["messages"][0]["id"].as_str().map(str::to_owned));
    match accepted {
        Some(_) => Ok(()),
        None => Err(Failure {
            reason: "HTTP 200 without a message id".into(),
            hint: String::new(),
            unknown: true,
        }),
    }
}
