//! One phone number's pace, behind its lock, with hints the answer path
//! reads without it; and, when the pace is shared by several replicas, the
//! permits leased for it and the lease under way.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::futures::OwnedNotified;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::lease::{Grant, Permit, Permits};
use super::pace::{Pace, Ticket, Turn};
use super::path::recipient;
use super::schedule::period_of;
use super::shared::{Ask, Budget};
use super::verdict::Verdict;
use crate::error::ThrottleReason;

/// One phone number's pace.
#[derive(Debug)]
pub(crate) struct Number {
    id: Box<str>,
    state: Mutex<State>,
    /// Whether accepted messages must be counted (the pace is adapting).
    adapting: AtomicBool,
    /// Whether some recipient is under a pair-rate wait.
    pairs: AtomicBool,
    shared: Option<Shared>,
}

#[derive(Debug)]
struct State {
    pace: Pace,
    /// The permits leased from the shared budget (with one).
    permits: Option<Permits>,
}

/// The shared budget, and how waiting requests hear of a lease.
#[derive(Debug)]
struct Shared {
    budget: Arc<dyn Budget>,
    leased: Arc<Notify>,
}

/// What a message send is told.
pub(crate) enum Admit {
    Turn(Turn),
    /// Wait for the lease under way, then ask again.
    Lease(Waiter),
}

/// A request waiting for a lease: woken when it comes back. Dropping it
/// (served, refused or abandoned) takes it off the count of waiters.
pub(crate) struct Waiter {
    pub(crate) leased: std::pin::Pin<Box<OwnedNotified>>,
    number: Arc<Number>,
}

impl Drop for Waiter {
    fn drop(&mut self) {
        if let Some(permits) = &mut self.number.lock().permits {
            permits.done_waiting();
        }
    }
}

impl Number {
    pub(crate) fn new(
        id: &str,
        pace: Pace,
        budget: Option<Arc<dyn Budget>>,
        now: Instant,
    ) -> Number {
        let permits = budget.as_ref().map(|b| Permits::new(now, b.replicas()));
        Number {
            id: id.into(),
            state: Mutex::new(State { pace, permits }),
            adapting: AtomicBool::new(false),
            pairs: AtomicBool::new(false),
            shared: budget.map(|budget| Shared {
                budget,
                leased: Arc::new(Notify::new()),
            }),
        }
    }

    pub(crate) fn id(&self) -> &str {
        &self.id
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on the state, then refreshes the hints.
    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let mut state = self.lock();
        let out = f(&mut state);
        let hints = [
            (&self.adapting, state.pace.adapting()),
            (&self.pairs, state.pace.has_pairs()),
        ];
        for (hint, now) in hints {
            if hint.load(Ordering::Relaxed) != now {
                hint.store(now, Ordering::Relaxed);
            }
        }
        out
    }

    /// The turn of a message with `body` at `now`, allowed to wait
    /// `allowed` more. The body is read only while a recipient of this
    /// number is under a pair-rate wait.
    pub(crate) fn admit(
        self: &Arc<Self>,
        now: Instant,
        body: Option<&Bytes>,
        allowed: Duration,
    ) -> Admit {
        let to = match (self.pairs.load(Ordering::Relaxed), body) {
            (true, Some(body)) => recipient(body),
            _ => None,
        };
        self.with(|state| {
            if let Some(turn) = state.pace.recipient_turn(now, to.as_deref(), allowed) {
                return Admit::Turn(turn);
            }
            let Some(permits) = &mut state.permits else {
                return Admit::Turn(state.pace.take(now, allowed));
            };
            match permits.take(now, allowed) {
                Permit::Due(due) => Admit::Turn(Turn::Ticket(Ticket {
                    ticket: u64::MAX,
                    due,
                })),
                Permit::TooLong(wait) => Admit::Turn(Turn::TooLong {
                    reason: ThrottleReason::Pace,
                    wait,
                }),
                Permit::Alone { share } => {
                    state.pace.set_share(now, share);
                    Admit::Turn(state.pace.take(now, allowed))
                }
                Permit::Lease { start } => {
                    if start && tokio::runtime::Handle::try_current().is_err() {
                        // Nothing to run a lease on: pace alone.
                        permits.failed(now);
                        permits.done_waiting();
                        return Admit::Turn(state.pace.take(now, allowed));
                    }
                    let ask = start.then(|| Ask {
                        count: 0,
                        period: period_of(state.pace.rate(now)),
                        burst: state.pace.burst(),
                        max_wait: allowed,
                    });
                    self.wait_for_lease(state, ask)
                }
            }
        })
    }

    /// Registers a waiter for the lease (starting it with `ask`).
    fn wait_for_lease(self: &Arc<Self>, state: &mut State, ask: Option<Ask>) -> Admit {
        let shared = self.shared.as_ref().expect("permits come with a budget");
        // Registered under the lock: the lease's wake-up cannot be missed.
        let leased = Box::pin(shared.leased.clone().notified_owned());
        if let (Some(ask), Some(permits)) = (ask, &state.permits) {
            let count = permits.ask(shared.budget.batch());
            tokio::spawn(self.clone().lease(Ask { count, ..ask }));
        }
        Admit::Lease(Waiter {
            leased,
            number: self.clone(),
        })
    }

    /// Leases permits, bounded by the budget's timeout; wakes the waiters.
    async fn lease(self: Arc<Self>, ask: Ask) {
        let Some(shared) = &self.shared else {
            return;
        };
        let leasing = shared.budget.lease(&self.id, ask);
        let result = tokio::time::timeout(shared.budget.timeout(), leasing).await;
        let now = Instant::now();
        let failure = self.with(|state| {
            let permits = state.permits.as_mut()?;
            match result {
                Ok(Ok(grant)) => {
                    // Never more than asked, whatever the budget says.
                    let count = grant.count.min(ask.count);
                    permits.granted(now, Grant { count, ..grant });
                    None
                }
                Ok(Err(why)) => Some(why),
                Err(_) => Some(format!("no answer within {:?}", shared.budget.timeout())),
            }
            .inspect(|_| permits.failed(now))
        });
        if let Some(why) = failure {
            tracing::warn!(
                phone_number_id = %self.id,
                %why,
                "the shared throughput budget is unreachable: pacing this number alone, at this replica's share"
            );
        }
        shared.leased.notify_waiters();
    }

    /// `ticket` restated at `now`.
    pub(crate) fn restate(&self, ticket: Ticket, now: Instant) -> Ticket {
        self.with(|state| state.pace.restate(ticket, now))
    }

    /// The pace now, in messages a second.
    pub(crate) fn rate(&self, now: Instant) -> f64 {
        self.lock().pace.rate(now)
    }

    /// Whether nothing happened for `quiet`.
    pub(crate) fn idle(&self, now: Instant, quiet: Duration) -> bool {
        self.lock().pace.idle(now, quiet)
    }

    /// Graph answered a message with `body`, sent at `sent`, with `verdict`.
    pub(crate) fn answered(&self, verdict: Verdict, sent: Instant, body: Option<&Bytes>) {
        match verdict {
            Verdict::Accepted => {
                let pairs = self.pairs.load(Ordering::Relaxed);
                if !(pairs || self.adapting.load(Ordering::Relaxed)) {
                    return;
                }
                let to = body.filter(|_| pairs).and_then(|b| recipient(b));
                self.with(|state| state.pace.accepted(sent, to.as_deref()));
            }
            Verdict::Throughput => {
                let now = Instant::now();
                let lowered = self.with(|state| {
                    let rate = state.pace.refused(now, sent)?;
                    if let Some(permits) = &mut state.permits {
                        permits.forfeit();
                    }
                    Some(rate)
                });
                if let Some(rate) = lowered {
                    tracing::info!(
                        phone_number_id = %self.id,
                        messages_per_second = rate,
                        "Graph refused a message for throughput (130429): pace lowered"
                    );
                }
            }
            Verdict::PairRate => {
                let Some(to) = body.and_then(|b| recipient(b)) else {
                    return;
                };
                let now = Instant::now();
                let until = self.with(|state| state.pace.pair_refused(&to, now));
                tracing::debug!(
                    phone_number_id = %self.id,
                    wait = ?until.saturating_duration_since(now),
                    "Graph refused a message for the pair rate (131056): its recipient's messages wait"
                );
            }
            Verdict::Other => {}
        }
    }
}
