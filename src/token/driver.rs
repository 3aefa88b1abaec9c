//! The task that looks after a cell: it sleeps until the next deadline (or
//! until a request needs work), runs the job that is due to completion or to
//! its own timeout, publishes the result, and sleeps again.
//!
//! One task per cell, so at most one validation and one renewal are ever in
//! flight. It holds only a weak reference while it sleeps, so a stack that
//! is dropped takes its task with it. If its runtime shuts down, the cell is
//! marked unattended and the next request starts a new task where it runs.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use super::lifetime;
use super::schedule::{self, Job, Step};
use super::transition::Transition;
use super::{Shared, TokenCell};
use crate::error::Error;

/// What the task keeps between jobs.
pub(crate) struct Plan {
    /// Consecutive failed fetches.
    pub(crate) failures: u32,
    /// Fingerprint of the configured token the current one descends from.
    pub(crate) lineage: String,
    /// The store generation of the current token (see `StoredToken`).
    pub(crate) store_generation: u64,
    /// Whether the store was read (or there is none).
    pub(crate) started: bool,
    /// The token in use was put in place by hand: the store's read at
    /// start-up learns its generation and adopts nothing.
    pub(crate) keep_own: bool,
}

impl Plan {
    pub(crate) fn new(lineage: String, started: bool) -> Plan {
        Plan {
            failures: 0,
            lineage,
            store_generation: 0,
            started,
            keep_own: false,
        }
    }
}

/// The longest single sleep: far deadlines are reached in steps, which
/// keeps timers in range whatever the configuration says.
const MAX_SLEEP: Duration = Duration::from_secs(24 * 3600);

/// Starts the cell's task if none runs.
pub(super) fn ensure(shared: &Arc<Shared>) -> Result<(), Error> {
    if shared.driven.swap(true, Ordering::AcqRel) {
        return Ok(());
    }
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        shared.driven.store(false, Ordering::Release);
        return Err(Error::Config(
            "the token needs work and there is no tokio runtime to do it in".into(),
        ));
    };
    runtime.spawn(drive(Arc::downgrade(shared), shared.wake.clone()));
    Ok(())
}

/// Marks the cell unattended when the task ends, however it ends (its
/// runtime shutting down included), so that requests start another.
struct Attendance(Weak<Shared>);

impl Drop for Attendance {
    fn drop(&mut self) {
        let Some(shared) = self.0.upgrade() else {
            return;
        };
        shared.driven.store(false, Ordering::Release);
        TokenCell { shared }.apply(Transition::Detached);
    }
}

async fn drive(weak: Weak<Shared>, wake: Arc<Notify>) {
    let _attendance = Attendance(weak.clone());
    loop {
        let wake_at = {
            let Some(shared) = weak.upgrade() else { return };
            let cell = TokenCell { shared };
            cell.apply(Transition::Attached);
            let started = cell.shared.plan.lock().await.started;
            match schedule::next_step(&cell.current(), started, Instant::now()) {
                Step::Run(job) => {
                    tracing::debug!(?job, "token work");
                    cell.run_isolated(job).await;
                    continue;
                }
                Step::Sleep(at) => Some(at),
                Step::Idle => None,
            }
            // The strong reference ends here: a sleeping task keeps nothing alive.
        };
        let limit = Instant::now() + MAX_SLEEP;
        let until = wake_at.map_or(limit, |at| at.min(limit));
        // Woken by a request, or the deadline passes: either way, look again.
        let _ = tokio::time::timeout_at(until, wake.notified()).await;
    }
}

impl TokenCell {
    /// Runs `job` in a task of its own and applies what it changed: a
    /// panic in it (in a token source or the client) is a failed job,
    /// backed off like any other, never a dead cell or a loop.
    async fn run_isolated(&self, job: Job) {
        let worker = self.clone();
        let done = tokio::spawn(async move {
            let mut plan = worker.shared.plan.lock().await;
            let transition = worker.run(job, &mut plan).await;
            worker.apply(transition);
        })
        .await;
        if let Err(failure) = done {
            if failure.is_panic() {
                let transition = self.after_panic(job).await;
                self.apply(transition);
            }
        }
    }

    /// What a panicked `job` leaves: its work retried after the back-off
    /// (a store read at start-up is not retried).
    async fn after_panic(&self, job: Job) -> Transition {
        let mut plan = self.shared.plan.lock().await;
        let config = self.config();
        plan.failures += 1;
        if job == Job::Start {
            plan.started = true;
        }
        let delay = lifetime::backoff(
            plan.failures,
            config.refresh_backoff,
            config.refresh_backoff_max,
        );
        Transition::Panicked { job, delay }
    }

    async fn run(&self, job: Job, plan: &mut Plan) -> Transition {
        match job {
            Job::Start => self.start(plan).await,
            Job::Fetch => self.fetch_first(plan).await,
            Job::Validate => self.validate().await,
            Job::Renew(reason) => self.renew(reason, plan).await,
            Job::Recheck => self.recheck(plan).await,
            Job::Expire => self.expire(),
        }
    }
}
