//! The retry decisions, as pure functions: what an answer says about
//! whether the request may be sent again, and how long to wait.

use std::time::{Duration, SystemTime};

use http::header::RETRY_AFTER;
use http::{HeaderMap, Method, Response, StatusCode};
use tower::BoxError;

use crate::error::Error;
use crate::graph::usage::Usage;
use crate::graph::{ErrorKind, GraphError};

/// What an answer says about sending the request again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Graph refused it and says the refusal is temporary: it was not
    /// processed, so sending it again cannot duplicate it.
    Refused { pair_limit: bool },
    /// The request never left (the connection was refused).
    NotSent,
    /// It may have been processed: a timeout, a transport error after
    /// sending, a 5xx or HTML page without a Graph error.
    Unknown,
    /// Done: success, or a refusal time will not change (auth, permission,
    /// spam limit, invalid request).
    Final,
}

/// What `result` says.
pub(crate) fn outcome<B>(result: &Result<Response<B>, BoxError>) -> Outcome {
    let res = match result {
        Ok(res) => res,
        Err(err) => return error_outcome(err.as_ref()),
    };
    match res.extensions().get::<GraphError>() {
        Some(err) => graph_outcome(err),
        // A 429 without a Graph error is a refusal too (a proxy's).
        None if res.status() == StatusCode::TOO_MANY_REQUESTS => {
            Outcome::Refused { pair_limit: false }
        }
        None if res.status().is_server_error() => Outcome::Unknown,
        None => Outcome::Final,
    }
}

fn graph_outcome(err: &GraphError) -> Outcome {
    match (err.kind(), err.code()) {
        // The spam limit is about the account's quality, not a moment; a
        // classification-violation limit (131064) and the registration
        // limit (133016, 72 hours) outlast any retry.
        (ErrorKind::RateLimited, 131048 | 131064 | 133016) => Outcome::Final,
        (ErrorKind::RateLimited, 131056) => Outcome::Refused { pair_limit: true },
        (ErrorKind::RateLimited | ErrorKind::Transient, _) => {
            Outcome::Refused { pair_limit: false }
        }
        _ => Outcome::Final,
    }
}

fn error_outcome(err: &(dyn std::error::Error + 'static)) -> Outcome {
    // The client's failures, as the stack reports them: not sent only
    // when the connection was refused. The stack's other errors are
    // refusals or local failures: final.
    match err.downcast_ref::<Error>() {
        Some(Error::Transport(failure)) if failure.not_sent() => return Outcome::NotSent,
        Some(Error::Throttled(_)) => return Outcome::NotSent,
        Some(Error::Transport(_)) => return Outcome::Unknown,
        Some(_) => return Outcome::Final,
        None => {}
    }
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cause {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::ConnectionRefused {
                return Outcome::NotSent;
            }
        }
        cause = e.source();
    }
    Outcome::Unknown
}

/// Methods that change nothing when repeated.
pub(crate) fn idempotent(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The knobs of the back-off.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Backoff {
    pub(crate) base: Duration,
    pub(crate) max_wait: Duration,
    pub(crate) pair_base: Duration,
}

/// The wait before retry number `retry` (1 for the first), with full
/// jitter (`draw` in [0, 1) picks it between zero and the exponential
/// bound), except for the pair limit, where Meta says to wait 4^n seconds:
/// at least that, plus up to a quarter more.
pub(crate) fn wait(backoff: &Backoff, retry: u32, pair_limit: bool, draw: f64) -> Duration {
    let draw = if draw.is_finite() {
        draw.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let exponent = retry.saturating_sub(1).min(30);
    if pair_limit {
        let bound = backoff
            .pair_base
            .saturating_mul(4u32.saturating_pow(exponent));
        return bound.saturating_add(bound.mul_f64(0.25 * draw));
    }
    let bound = backoff
        .base
        .saturating_mul(1 << exponent)
        .min(backoff.max_wait);
    bound.mul_f64(draw)
}

/// The least wait Graph (or a proxy) asked for: `Retry-After` (seconds or
/// an HTTP date), or the usage header's time to regain access.
pub(crate) fn asked_wait(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let retry_after = headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let v = v.trim();
            match v.parse::<u64>() {
                Ok(secs) => Some(Duration::from_secs(secs)),
                Err(_) => {
                    crate::clock::parse_http_date(v).and_then(|at| at.duration_since(now).ok())
                }
            }
        });
    let regain = Usage::from_headers(headers).and_then(|u| u.regain_access_in());
    retry_after.into_iter().chain(regain).max()
}

#[cfg(test)]
mod tests;
