//! One phone number's pace: its ticket schedule, its adaptation to
//! refusals, and its recipients under a pair-rate wait. Pure: every
//! decision takes the instant it is made at.

use std::time::Duration;

use tokio::time::Instant;

use super::adapt::{Adapt, Tuning};
use super::pair::Pairs;
pub(crate) use super::schedule::Turn as Ticket;
use super::schedule::{period_of, Schedule};
use crate::error::ThrottleReason;

/// What a message send is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Turn {
    /// Its turn (go when it is due).
    Ticket(Ticket),
    /// Its recipient is under a pair-rate wait until then: ask again then.
    Recipient { until: Instant },
    /// Its turn would come only this long from now, past what it may wait.
    TooLong {
        reason: ThrottleReason,
        wait: Duration,
    },
}

/// The fixed part of a pace: what it was configured with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Shape {
    /// After an idle spell, this much of the pace goes at once.
    pub(crate) burst: Duration,
    /// The first wait of the pair rate (131056), times 4^(n-1).
    pub(crate) pair_base: Duration,
    /// `None`: the pace never adapts.
    pub(crate) tuning: Option<Tuning>,
}

/// One number's pace.
#[derive(Debug, Clone)]
pub(crate) struct Pace {
    schedule: Schedule,
    adapt: Adapt,
    shape: Shape,
    pairs: Pairs,
    /// The pace is this replica's share of the number's (1: all of it).
    share: u32,
}

impl Pace {
    /// A pace of `rate` messages a second, idle at `now`.
    pub(crate) fn new(now: Instant, rate: f64, shape: Shape) -> Pace {
        Pace {
            schedule: Schedule::new(now, period_of(rate)),
            adapt: Adapt::new(now, rate),
            shape,
            pairs: Pairs::default(),
            share: 1,
        }
    }

    /// Whether accepted messages count (the pace is adapting).
    pub(crate) fn adapting(&self) -> bool {
        self.adapt.adapting()
    }

    /// Whether some recipient is (or was lately) under a pair-rate wait.
    pub(crate) fn has_pairs(&self) -> bool {
        !self.pairs.is_empty()
    }

    /// The number's pace now, in messages a second, whoever sends.
    pub(crate) fn rate(&self, now: Instant) -> f64 {
        match &self.shape.tuning {
            Some(tuning) => self.adapt.rate_at(tuning, now),
            None => self.adapt.target(),
        }
    }

    /// The spacing of this replica's sends at `rate`.
    fn period(&self, rate: f64) -> Duration {
        period_of(rate / f64::from(self.share))
    }

    /// Keeps the schedule's spacing in step with the recovering pace and
    /// this replica's share.
    fn refresh(&mut self, now: Instant) {
        let Some(tuning) = &self.shape.tuning else {
            return;
        };
        if !self.adapt.adapting() {
            return;
        }
        let period = self.period(self.adapt.rate_at(tuning, now));
        if period != self.schedule.period() {
            self.schedule.respace(now, period);
        }
        self.adapt.settle(tuning, now);
    }

    /// Paces this replica at `1 / share` of the number's pace (the others
    /// take the rest), from `now` on.
    pub(crate) fn set_share(&mut self, now: Instant, share: u32) {
        let share = share.max(1);
        if share != self.share {
            self.share = share;
            let period = self.period(self.rate(now));
            self.schedule.respace(now, period);
        }
    }

    /// The turn of a message send to `recipient` (if known) at `now`,
    /// which may wait at most `allowed` more.
    #[cfg(test)]
    pub(crate) fn admit(
        &mut self,
        now: Instant,
        recipient: Option<&str>,
        allowed: Duration,
    ) -> Turn {
        self.recipient_turn(now, recipient, allowed)
            .unwrap_or_else(|| self.take(now, allowed))
    }

    /// The turn of a message to `recipient` while it is under a pair-rate
    /// wait, `None` when it is not.
    pub(crate) fn recipient_turn(
        &self,
        now: Instant,
        recipient: Option<&str>,
        allowed: Duration,
    ) -> Option<Turn> {
        let until = self.pairs.blocked_until(recipient?, now)?;
        let wait = until.saturating_duration_since(now);
        Some(if wait > allowed {
            Turn::TooLong {
                reason: ThrottleReason::PairRate,
                wait,
            }
        } else {
            Turn::Recipient { until }
        })
    }

    /// The next turn of the number's schedule.
    pub(crate) fn take(&mut self, now: Instant, allowed: Duration) -> Turn {
        self.refresh(now);
        match self.schedule.take(now, self.shape.burst, allowed) {
            Ok(ticket) => Turn::Ticket(ticket),
            Err(wait) => Turn::TooLong {
                reason: ThrottleReason::Pace,
                wait,
            },
        }
    }

    /// The burst after an idle spell.
    pub(crate) fn burst(&self) -> Duration {
        self.shape.burst
    }

    /// `ticket` restated, now that the pace may have dropped.
    pub(crate) fn restate(&mut self, ticket: Ticket, now: Instant) -> Ticket {
        self.refresh(now);
        self.schedule.restate(ticket)
    }

    /// Graph refused a message sent at `sent` for the number's throughput
    /// (130429), at `now`. Returns the new pace when it dropped.
    pub(crate) fn refused(&mut self, now: Instant, sent: Instant) -> Option<f64> {
        let tuning = self.shape.tuning?;
        let rate = self.adapt.refused(&tuning, now, sent)?;
        let period = self.period(rate);
        self.schedule.stretch(now, period);
        Some(rate)
    }

    /// Graph refused a message to `recipient` for the pair rate (131056)
    /// at `now`: later ones to it wait until the instant returned.
    pub(crate) fn pair_refused(&mut self, recipient: &str, now: Instant) -> Instant {
        self.pairs.refused(recipient, now, self.shape.pair_base)
    }

    /// Graph accepted a message sent at `sent` to `recipient`.
    pub(crate) fn accepted(&mut self, sent: Instant, recipient: Option<&str>) {
        self.adapt.accepted(sent);
        if let Some(recipient) = recipient {
            self.pairs.accepted(recipient);
        }
    }

    /// Whether nothing happened for `quiet`: the pace can be forgotten
    /// (a new one would start the same).
    pub(crate) fn idle(&mut self, now: Instant, quiet: Duration) -> bool {
        self.refresh(now);
        self.pairs.forget_expired(now);
        !self.adapt.adapting() && self.pairs.is_empty() && self.schedule.idle_since(now, quiet)
    }
}

#[cfg(test)]
#[path = "pace/tests.rs"]
mod tests;
