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

use super::schedule::{self, Job, Step};
use super::{Shared, TokenCell};
use crate::Error;

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
}

impl Plan {
    pub(crate) fn new(lineage: String, started: bool) -> Plan {
        Plan {
            failures: 0,
            lineage,
            store_generation: 0,
            started,
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
        let cell = TokenCell { shared };
        cell.update(|cur| cur.attached.then(|| detached(cur)));
    }
}

fn detached(cur: &super::Credential) -> super::Credential {
    let mut next = cur.clone();
    next.attached = false;
    next
}

async fn drive(weak: Weak<Shared>, wake: Arc<Notify>) {
    let _attendance = Attendance(weak.clone());
    loop {
        let wake_at = {
            let Some(shared) = weak.upgrade() else { return };
            let cell = TokenCell { shared };
            cell.update(|cur| {
                (!cur.attached).then(|| {
                    let mut next = cur.clone();
                    next.attached = true;
                    next
                })
            });
            let mut plan = cell.shared.plan.lock().await;
            let step = schedule::next_step(&cell.current(), plan.started, Instant::now());
            match step {
                Step::Run(job) => {
                    tracing::debug!(?job, "token work");
                    cell.run(job, &mut plan).await;
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
    async fn run(&self, job: Job, plan: &mut Plan) {
        match job {
            Job::Start => self.start(plan).await,
            Job::Fetch => self.fetch_first(plan).await,
            Job::Validate => self.validate(plan).await,
            Job::Renew(reason) => self.renew(reason, plan).await,
            Job::Recheck => self.recheck(plan).await,
            Job::Expire => self.expire(),
        }
    }
}
