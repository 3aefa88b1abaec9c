//! Sending from every tenant's number, tenants interleaved, and what each
//! tenant's messages came to.

use std::collections::BTreeMap;
use std::sync::Arc;

use http::Request;
use http_body_util::Full;
use tokio::task::JoinSet;
use tower::{BoxError, ServiceExt};
use tower_whatsapp_auth::graph::GraphError;
use tower_whatsapp_auth::{Error, RefreshError};

use crate::{text_message, Stack};

/// What one tenant's messages came to.
#[derive(Default)]
pub struct Tally {
    accepted: usize,
    failed: usize,
    /// The first failure's reason and fix.
    first: Option<(String, String)>,
}

pub async fn send_all(
    stack: Stack,
    phones: &[String],
    to: &str,
    text: &str,
    count: usize,
    concurrency: usize,
) -> BTreeMap<String, Tally> {
    let body = text_message(to, text);
    let limit = Arc::new(tokio::sync::Semaphore::new(concurrency));
    let mut tasks = JoinSet::new();
    for _ in 0..count {
        for phone in phones {
            let permit = limit.clone().acquire_owned().await.expect("never closed");
            let req = Request::post(format!("/{phone}/messages"))
                .header("content-type", "application/json")
                .body(Full::new(body.clone()))
                .expect("a valid request");
            let (stack, phone) = (stack.clone(), phone.clone());
            tasks.spawn(async move {
                let result = stack.oneshot(req).await;
                drop(permit);
                (phone, result)
            });
        }
    }
    let mut tallies: BTreeMap<String, Tally> = phones
        .iter()
        .map(|p| (p.clone(), Tally::default()))
        .collect();
    while let Some(done) = tasks.join_next().await {
        let Ok((phone, result)) = done else { continue };
        let tally = tallies.entry(phone).or_default();
        let failure = match result {
            Ok(res) if res.status().is_success() => None,
            Ok(res) => Some(
                match res
                    .extensions()
                    .get::<tower_whatsapp_auth::graph::GraphError>()
                {
                    Some(g) => (
                        format!(
                            "{} (Graph code {}, HTTP {})",
                            g.kind(),
                            g.code(),
                            res.status().as_u16()
                        ),
                        g.hint().to_owned(),
                    ),
                    None => (
                        format!("HTTP {}", res.status().as_u16()),
                        "see Graph's answer".into(),
                    ),
                },
            ),
            Err(err) => Some(describe(&err)),
        };
        match failure {
            None => tally.accepted += 1,
            Some(why) => {
                tally.failed += 1;
                tally.first.get_or_insert(why);
            }
        }
    }
    tallies
}

pub fn print(tallies: &BTreeMap<String, Tally>, count: usize) -> bool {
    let mut all = true;
    for (phone, tally) in tallies {
        match &tally.first {
            None => println!("{phone}: {}/{count} accepted", tally.accepted),
            Some((reason, fix)) => {
                all = false;
                let fix = if fix.is_empty() {
                    "see the reason"
                } else {
                    fix.as_str()
                };
                println!(
                    "{phone}: {}/{count} accepted, {} failed: {reason}; fix: {fix}",
                    tally.accepted, tally.failed
                );
            }
        }
    }
    all
}

/// Why the stack failed a request, and the fix.
fn describe(err: &BoxError) -> (String, String) {
    if err.is::<tower::timeout::error::Elapsed>() {
        let fix = "Graph did not answer in time; retry later";
        return ("timed out".into(), fix.into());
    }
    let Some(err) = err.downcast_ref::<Error>() else {
        let fix = "check network access to the Graph API base URL";
        return (format!("transport error: {err}"), fix.into());
    };
    // Graph's refusal, after `prefix`: its kind and codes; Graph's remedy.
    let graph = |prefix: &str, g: &GraphError| {
        let code = g
            .subcode()
            .map_or_else(|| g.code().to_string(), |sub| format!("{}/{sub}", g.code()));
        let status = g.status().as_u16();
        let reason = format!("{prefix}{} (Graph code {code}, HTTP {status})", g.kind());
        (reason, g.hint().to_owned())
    };
    match err {
        Error::Graph(g) => graph("", g),
        Error::TokenDead { cause } => graph("not sent, token dead: ", cause),
        Error::NotReplayed { source, .. } => graph("not replayed (body too large): ", source),
        Error::Misconfigured { what, cause } => {
            graph(&format!("not sent, {}: ", what.describe()), cause)
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
