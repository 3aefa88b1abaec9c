//! The decisions of the token lifecycle, as pure functions of the state and
//! the clock: what work is due next, and what a renewal's result does.
//! When to renew and how long to back off are in [`super::lifetime`].

use std::time::Duration;

use tokio::time::Instant;

use super::credential::{Credential, State};
use crate::error::{Error, RefreshError};
use crate::graph::GraphError;
use crate::source::FetchReason;

/// Work the cell's task does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Job {
    /// Once, before the first request: read the token store.
    Start,
    /// Ask the source for a first token.
    Fetch,
    /// Ask Graph whether the token is valid (and when it expires).
    Validate,
    /// Ask the source for a new token.
    Renew(FetchReason),
    /// A dead or blocked token: does the source have another one now?
    Recheck,
    /// The known expiry passed without a renewal: treat the token as refused.
    Expire,
}

/// What the cell's task does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    Run(Job),
    Sleep(Instant),
    Idle,
}

/// The next step for `cred` at `now`.
pub(crate) fn next_step(cred: &Credential, started: bool, now: Instant) -> Step {
    let due = |at: Instant, job: Job| {
        if now >= at {
            Step::Run(job)
        } else {
            Step::Sleep(at)
        }
    };
    match &cred.state {
        State::Pending { error: None, .. } => Step::Run(Job::Fetch),
        State::Pending { retry_at, .. } => due(*retry_at, Job::Fetch),
        _ if !started => Step::Run(Job::Start),
        State::Unvalidated => Step::Run(Job::Validate),
        State::Refused(_) => Step::Run(Job::Renew(FetchReason::Rejected)),
        State::BackingOff { until, .. } => due(*until, Job::Renew(FetchReason::Rejected)),
        State::Dead { recheck_at, .. } | State::Blocked { recheck_at, .. } => {
            due(*recheck_at, Job::Recheck)
        }
        State::Ready => {
            let s = cred.schedule;
            // In priority order: an expired token first, then renewal, then
            // validation (a renewed token needs no validation).
            let deadlines = [
                (s.expires_at, Job::Expire),
                (s.renew_at, Job::Renew(FetchReason::AheadOfExpiry)),
                (s.validate_at, Job::Validate),
            ];
            if let Some((_, job)) = deadlines
                .iter()
                .find(|(at, _)| at.is_some_and(|at| now >= at))
            {
                return Step::Run(*job);
            }
            deadlines
                .iter()
                .filter_map(|(at, _)| *at)
                .min()
                .map_or(Step::Idle, Step::Sleep)
        }
    }
}

/// What Graph refusing the exchange's POST form means: the deployment must
/// choose the documented GET.
pub(crate) fn exchange_method_refused(err: &GraphError) -> Error {
    Error::Config(format!(
        "Graph refused the token exchange sent as a POST form ({}): set \
         exchange_method(ExchangeMethod::GetQuery) to send it as Graph documents it, \
         a GET whose URL then carries the app secret (keep such URLs out of logs)",
        err.message()
    ))
}

/// What the source answered.
pub(crate) enum Fetched {
    New,
    Same,
    Failed(RefreshError),
}

/// What a renewal's result does to the cell.
#[derive(Debug, Clone)]
pub(crate) enum AfterFetch {
    Install,
    /// Only the operator can fix this: fail fast with the error.
    Block(Error),
    /// Keep the current token (it still works); try again after the delay.
    RetryLater(Duration),
    Dead(Option<GraphError>),
    BackOff(Duration),
    /// A dead or blocked token stays so until the next recheck.
    Recheck,
}

/// Decides what a renewal for `reason` that `fetched` this does, with
/// `time_left` on the current token and `failures` so far (this one included).
pub(crate) fn after_fetch(
    reason: FetchReason,
    fetched: &Fetched,
    time_left: bool,
    delay: Duration,
) -> AfterFetch {
    let refusal = match fetched {
        Fetched::Failed(RefreshError::Rejected(refusal)) => Some(refusal),
        _ => None,
    };
    match (fetched, reason) {
        (Fetched::New, _) => AfterFetch::Install,
        (_, FetchReason::Recover) => AfterFetch::Recheck,
        (Fetched::Failed(RefreshError::Rejected(refusal)), _)
            if refusal.misconfiguration().is_some() =>
        {
            AfterFetch::Block(Error::refused(refusal))
        }
        (Fetched::Failed(RefreshError::Rejected(refusal)), _) if refusal.is_unsupported_post() => {
            AfterFetch::Block(exchange_method_refused(refusal))
        }
        // Graph refused the token itself: it is dead, whatever time is left.
        _ if refusal.is_some_and(|r| r.kind().is_token_rejected()) => {
            AfterFetch::Dead(refusal.cloned())
        }
        (Fetched::Same, FetchReason::Rejected) => AfterFetch::Dead(None),
        (Fetched::Same, _) => AfterFetch::RetryLater(delay),
        (Fetched::Failed(_), FetchReason::AheadOfExpiry) if time_left => {
            AfterFetch::RetryLater(delay)
        }
        (Fetched::Failed(RefreshError::Rejected(refusal)), _) => {
            AfterFetch::Dead(Some(refusal.clone()))
        }
        (Fetched::Failed(error), _) if !error.is_transient() => AfterFetch::Dead(None),
        (Fetched::Failed(_), _) => AfterFetch::BackOff(delay),
    }
}

#[cfg(test)]
mod tests;
