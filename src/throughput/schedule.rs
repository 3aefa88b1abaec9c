//! When each send of one phone number may go: GCRA's virtual scheduling,
//! pure.
//!
//! The schedule keeps the time the next send is due (`next_at`, GCRA's
//! theoretical arrival time) and the spacing between sends. A send that
//! takes its turn is told when it is due and the schedule's `epoch`; after
//! an idle spell at most `burst` worth of sends are due at once.
//!
//! The pace only ever moves promised turns *later*: when it drops (a
//! refusal) every turn still ahead is stretched to the new spacing, from
//! the moment of the drop, and the epoch counts one more stretch; a waiting
//! send restates its turn through the stretches since its epoch. When the
//! pace speeds up (recovering), promised turns stay where they are and only
//! later ones come closer together: a waiting send is never late for a turn
//! that moved earlier than its timer.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

/// Stretches remembered: a send that waited through more drops than this
/// goes to the back of the queue.
const STRETCHES: usize = 32;

/// A promised turn: when it is due, and under which epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Turn {
    pub(crate) due: Instant,
    pub(crate) epoch: u64,
}

/// The pace dropped at `at` to a spacing of `period`: a turn due at
/// `d > at` moves to `at + period + (d - at) × factor`.
#[derive(Debug, Clone, Copy)]
struct Stretch {
    at: Instant,
    period: Duration,
    factor: f64,
}

impl Stretch {
    fn apply(&self, due: Instant) -> Instant {
        if due <= self.at {
            return due;
        }
        let ahead = due.saturating_duration_since(self.at).as_secs_f64() * self.factor;
        let ahead = Duration::try_from_secs_f64(ahead).unwrap_or(Duration::from_secs(86_400));
        self.at
            .checked_add(self.period.saturating_add(ahead))
            .unwrap_or(due)
    }
}

/// One number's schedule.
#[derive(Debug, Clone)]
pub(crate) struct Schedule {
    next_at: Instant,
    period: Duration,
    /// Whether any turn was taken: a new schedule starts idle.
    started: bool,
    epoch: u64,
    stretches: VecDeque<Stretch>,
}

impl Schedule {
    /// A schedule with nothing sent, spacing sends by `period`.
    pub(crate) fn new(now: Instant, period: Duration) -> Schedule {
        Schedule {
            next_at: now,
            period,
            started: false,
            epoch: 0,
            stretches: VecDeque::new(),
        }
    }

    pub(crate) fn period(&self) -> Duration {
        self.period
    }

    /// Takes the next turn, unless it would be due more than `allowed`
    /// after `now` (then `Err` with how long it would be). After an idle
    /// spell, up to `burst` worth of turns are due at once (at least one).
    pub(crate) fn take(
        &mut self,
        now: Instant,
        burst: Duration,
        allowed: Duration,
    ) -> Result<Turn, Duration> {
        let credit = burst.saturating_sub(self.period);
        let earliest = now.checked_sub(credit).unwrap_or(now);
        if !self.started || self.next_at < earliest {
            self.next_at = earliest;
        }
        let due = self.next_at;
        let wait = due.saturating_duration_since(now);
        if wait > allowed {
            return Err(wait);
        }
        let Some(next_at) = due.checked_add(self.period) else {
            return Err(Duration::MAX);
        };
        self.next_at = next_at;
        self.started = true;
        Ok(Turn {
            due,
            epoch: self.epoch,
        })
    }

    /// The pace dropped at `now` to a spacing of `period`: every turn
    /// still ahead moves to the new spacing, the first one at least one new
    /// period from now (no burst after a refusal: the remote budget needs
    /// a moment to refill).
    pub(crate) fn stretch(&mut self, now: Instant, period: Duration) {
        let factor = period.as_secs_f64() / self.period.as_secs_f64().max(1e-12);
        let stretch = Stretch {
            at: now,
            period,
            factor: if factor.is_finite() {
                factor.max(1.0)
            } else {
                1.0
            },
        };
        let soonest = now.checked_add(period).unwrap_or(now);
        self.next_at = if self.next_at > now {
            // One new period after the last promised turn, stretched.
            let last = self.next_at.checked_sub(self.period).unwrap_or(now);
            stretch
                .apply(last)
                .checked_add(period)
                .map_or(self.next_at, |next| next.max(soonest))
        } else {
            soonest
        };
        self.started = true;
        self.period = period;
        self.epoch += 1;
        if self.stretches.len() == STRETCHES {
            self.stretches.pop_front();
        }
        self.stretches.push_back(stretch);
    }

    /// The pace changed (sped up, recovering) to a spacing of `period`:
    /// turns already promised stay; later ones follow at the new spacing.
    pub(crate) fn respace(&mut self, now: Instant, period: Duration) {
        if self.next_at > now {
            let last = self.next_at.checked_sub(self.period).unwrap_or(now);
            self.next_at = last.checked_add(period).unwrap_or(self.next_at).max(now);
        }
        self.period = period;
    }

    /// `turn` restated through the stretches since it was promised (for a
    /// turn older than the stretches remembered: the back of the queue,
    /// later than it should be rather than earlier).
    pub(crate) fn restate(&self, turn: Turn) -> Turn {
        let missed = usize::try_from(self.epoch.saturating_sub(turn.epoch)).unwrap_or(usize::MAX);
        let due = match self.stretches.len().checked_sub(missed) {
            Some(skip) => self
                .stretches
                .iter()
                .skip(skip)
                .fold(turn.due, |due, s| s.apply(due)),
            None => self.next_at.max(turn.due),
        };
        Turn {
            due,
            epoch: self.epoch,
        }
    }

    /// Whether every promised turn was due `quiet` or longer before `now`.
    pub(crate) fn idle_since(&self, now: Instant, quiet: Duration) -> bool {
        self.next_at.checked_add(quiet).is_some_and(|t| t <= now)
    }
}

/// The period of `rate` sends a second (clamped to [1 ns, 1 h]).
pub(crate) fn period_of(rate: f64) -> Duration {
    if !(rate.is_finite() && rate > 0.0) {
        return Duration::from_secs(3600);
    }
    Duration::try_from_secs_f64(1.0 / rate)
        .unwrap_or(Duration::from_secs(3600))
        .clamp(Duration::from_nanos(1), Duration::from_secs(3600))
}

#[cfg(test)]
#[path = "schedule/tests.rs"]
mod tests;
