//! When each send of one phone number may go: GCRA's virtual scheduling,
//! pure.
//!
//! The schedule keeps the time the next send is due (`next_at`, GCRA's
//! theoretical arrival time) and the spacing between sends; after an idle
//! spell at most `burst` worth of sends are due at once. A send that must
//! wait gets a ticket, and the schedule keeps the due time of every ticket
//! still ahead, in order.
//!
//! Turns only ever move *later*, so a waiting send is never late for one:
//! when the pace drops (a refusal) the turns still ahead are spaced again
//! at the new period from that moment, whatever spacing they had; when it
//! speeds up (recovering), turns already given stay, and only later ones
//! come closer together.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

/// A send's turn: its ticket and when it is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Turn {
    pub(crate) ticket: u64,
    pub(crate) due: Instant,
}

/// One number's schedule.
#[derive(Debug, Clone)]
pub(crate) struct Schedule {
    next_at: Instant,
    period: Duration,
    /// Whether any turn was taken: a new schedule starts idle.
    started: bool,
    /// The ticket of `ahead[0]` (or of the next ticket, when none is ahead).
    first: u64,
    /// The due times of the tickets still ahead, in ticket order.
    ahead: VecDeque<Instant>,
}

impl Schedule {
    /// A schedule with nothing sent, spacing sends by `period`.
    pub(crate) fn new(now: Instant, period: Duration) -> Schedule {
        Schedule {
            next_at: now,
            period,
            started: false,
            first: 0,
            ahead: VecDeque::new(),
        }
    }

    pub(crate) fn period(&self) -> Duration {
        self.period
    }

    /// Forgets the tickets due by `now`.
    fn prune(&mut self, now: Instant) {
        while self.ahead.front().is_some_and(|due| *due <= now) {
            self.ahead.pop_front();
            self.first += 1;
        }
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
        self.prune(now);
        // Idle (behind by more than the burst's credit): the credit, and
        // no more, is due at once.
        let credit = burst.saturating_sub(self.period);
        if !self.started || now.saturating_duration_since(self.next_at) > credit {
            self.next_at = now.checked_sub(credit).unwrap_or(now);
        }
        let due = self.next_at;
        if due > now {
            let wait = due.saturating_duration_since(now);
            if wait > allowed {
                return Err(wait);
            }
        }
        let Some(next_at) = due.checked_add(self.period) else {
            return Err(Duration::MAX);
        };
        self.next_at = next_at;
        self.started = true;
        let ticket = self.first + self.ahead.len() as u64;
        if due > now {
            self.ahead.push_back(due);
        } else {
            // Due at once (nothing can be ahead of it): nothing to keep.
            self.first += 1;
        }
        Ok(Turn { ticket, due })
    }

    /// The pace dropped at `now` to a spacing of `period`: the turns still
    /// ahead are spaced again at it, the first one at least one new period
    /// from now (no burst after a refusal: the remote budget needs a moment
    /// to refill), and none earlier than it was.
    pub(crate) fn stretch(&mut self, now: Instant, period: Duration) {
        self.prune(now);
        let mut last = now;
        for due in self.ahead.iter_mut() {
            *due = (*due).max(last.checked_add(period).unwrap_or(*due));
            last = *due;
        }
        self.next_at = last.checked_add(period).unwrap_or(last);
        self.started = true;
        self.period = period;
    }

    /// The pace changed (sped up, recovering) to a spacing of `period`:
    /// turns already given stay; later ones follow at the new spacing.
    pub(crate) fn respace(&mut self, now: Instant, period: Duration) {
        let last = match self.ahead.back() {
            Some(last) => Some(*last),
            None if self.next_at > now => self.next_at.checked_sub(self.period),
            None => None,
        };
        if let Some(last) = last {
            self.next_at = last.checked_add(period).unwrap_or(self.next_at).max(now);
        }
        self.period = period;
    }

    /// `turn` as it stands now (later than given, if the pace dropped).
    pub(crate) fn restate(&self, turn: Turn) -> Turn {
        let due = turn
            .ticket
            .checked_sub(self.first)
            .and_then(|i| self.ahead.get(usize::try_from(i).ok()?))
            .copied()
            .unwrap_or(turn.due);
        Turn { due, ..turn }
    }

    /// Whether every turn given was due `quiet` or longer before `now`.
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
