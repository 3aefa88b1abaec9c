//! A batch of messages sent through a stack, at most N at a time: how many
//! Graph accepted, and what came of the others.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tower::{BoxError, ServiceExt};
use tower_whatsapp_auth::{classify::GraphBody, graph::GraphError};

use super::sender::Stack;

/// Outcome of a batch.
#[derive(Debug, Default)]
pub struct Summary {
    /// Messages Graph accepted (a 2xx answer with a message id).
    pub sent: usize,
    /// What each of the others came to (the stack's error, Graph's
    /// refusal, or the answer) → how many.
    pub failed: BTreeMap<String, usize>,
    pub elapsed: Duration,
}

/// Sends `body` to `url` `count` times, at most `concurrency` in flight;
/// with `progress`, prints a line as each is done.
pub async fn send_batch(
    stack: Stack,
    url: &str,
    body: Bytes,
    count: usize,
    concurrency: usize,
    progress: bool,
) -> Summary {
    let started = Instant::now();
    let limit = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut tasks = JoinSet::new();
    for _ in 0..count {
        let permit = limit.clone().acquire_owned().await.expect("never closed");
        let req = Request::post(url)
            .header("content-type", "application/json")
            .body(Full::new(body.clone()))
            .expect("a valid request");
        let stack = stack.clone();
        tasks.spawn(async move {
            let outcome = accepted(stack.oneshot(req).await).await;
            drop(permit);
            outcome
        });
    }
    let mut summary = Summary::default();
    for done in 1..=count {
        match tasks.join_next().await.expect("one task a message") {
            Ok(Ok(())) => summary.sent += 1,
            Ok(Err(why)) => *summary.failed.entry(why).or_default() += 1,
            Err(panicked) => *summary.failed.entry(panicked.to_string()).or_default() += 1,
        }
        if progress {
            println!("progress: {done}/{count} done, {} sent", summary.sent);
        }
    }
    summary.elapsed = started.elapsed();
    summary
}

/// `Ok` when Graph accepted the message, else what happened instead.
async fn accepted(sent: Result<Response<GraphBody<Incoming>>, BoxError>) -> Result<(), String> {
    let res = sent.map_err(|e| e.to_string())?;
    let (status, refusal) = (res.status(), res.extensions().get::<GraphError>().cloned());
    let body = res.into_body().collect().await.map_err(|e| e.to_string())?;
    if let Some(refusal) = refusal {
        return Err(refusal.to_string());
    }
    let answer: serde_json::Value = serde_json::from_slice(&body.to_bytes()).unwrap_or_default();
    match answer["messages"][0]["id"].is_string() && status.is_success() {
        true => Ok(()),
        false => Err(format!("HTTP {status} without a message id")),
    }
}
