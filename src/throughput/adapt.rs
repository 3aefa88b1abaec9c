//! How a number's pace adapts to Graph's refusals, as pure functions.
//!
//! A 130429 means the number's real limit is below the pace. The pace
//! drops (by half, or to just under the limit measured between two
//! refusals) and then recovers by itself, additively: fast while far from
//! the limit last measured, slowly near it, so a number whose real limit is
//! lower than configured is found in a few refusals and then probed gently.
//!
//! The measurement: at a refusal the number's budget at Graph is empty. If
//! it is empty again at the next refusal, every message accepted in
//! between was paid for by the budget's refill, so the accepted count over
//! the time between is the refill rate (a lower bound when the budget
//! filled up meanwhile). Only messages sent after the first refusal count.

use std::time::Duration;

use tokio::time::Instant;

/// The knobs of the adaptation (see `ThroughputLayer` for their meaning).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Tuning {
    /// Factor applied on a refusal without a measurement (0.5: halve).
    pub(crate) decrease: f64,
    /// Recovery, in messages a second gained per second, away from the
    /// measured limit.
    pub(crate) fast: f64,
    /// Recovery near the measured limit (within `band` of it).
    pub(crate) slow: f64,
    /// How near counts as near, as a fraction of the measured limit.
    pub(crate) band: f64,
    /// Where the pace goes under a measured limit (0.95: 5% below).
    pub(crate) margin: f64,
    /// The lowest pace, in messages a second.
    pub(crate) floor: f64,
    /// The shortest and longest spell between refusals that measures the
    /// limit.
    pub(crate) window: (Duration, Duration),
}

impl Tuning {
    /// The defaults for a configured pace of `rate` messages a second:
    /// recovery of an eighth of it per second away from the measured
    /// limit, a thirty-second near it; a floor of a sixteenth.
    pub(crate) fn for_rate(rate: f64) -> Tuning {
        Tuning {
            decrease: 0.5,
            fast: rate / 8.0,
            slow: rate / 32.0,
            band: 0.1,
            margin: 0.95,
            floor: (rate / 16.0).max(0.1),
            window: (Duration::from_millis(500), Duration::from_secs(10)),
        }
    }
}

/// One number's adaptive pace.
#[derive(Debug, Clone)]
pub(crate) struct Adapt {
    /// The configured pace: the most it recovers to.
    target: f64,
    /// The pace at `since`, recovering from there.
    rate: f64,
    since: Instant,
    /// The last refusal that lowered the pace: refusals of messages sent
    /// before it do not lower it again.
    lowered_at: Option<Instant>,
    /// The limit last measured between two refusals.
    measured: Option<f64>,
    /// Since the last refusal: when, and how many accepted messages sent
    /// after it.
    accepted: Option<(Instant, u64)>,
}

impl Adapt {
    pub(crate) fn new(now: Instant, target: f64) -> Adapt {
        Adapt {
            target,
            rate: target,
            since: now,
            lowered_at: None,
            measured: None,
            accepted: None,
        }
    }

    /// The configured pace.
    pub(crate) fn target(&self) -> f64 {
        self.target
    }

    /// Whether the pace is below its target or still measuring: only then
    /// do accepted messages need counting.
    pub(crate) fn adapting(&self) -> bool {
        self.accepted.is_some()
    }

    /// The pace at `now`: the last one set, plus what it recovered since.
    pub(crate) fn rate_at(&self, tuning: &Tuning, now: Instant) -> f64 {
        if self.rate >= self.target {
            return self.target;
        }
        let mut rate = self.rate;
        let mut left = now.saturating_duration_since(self.since).as_secs_f64();
        // At most three segments: fast below the band, slow in it, fast above.
        for _ in 0..4 {
            if left <= 0.0 || rate >= self.target {
                break;
            }
            let (slope, until) = self.segment(tuning, rate);
            if !(slope > 0.0 && until > rate) {
                break;
            }
            let needed = (until - rate) / slope;
            if needed >= left {
                rate += slope * left;
                break;
            }
            rate = until;
            left -= needed;
        }
        rate.min(self.target)
    }

    /// The recovery slope at `rate`, and the pace where it changes.
    fn segment(&self, tuning: &Tuning, rate: f64) -> (f64, f64) {
        let Some(limit) = self.measured else {
            return (tuning.fast, self.target);
        };
        let (low, high) = (limit * (1.0 - tuning.band), limit * (1.0 + tuning.band));
        if rate < low {
            (tuning.fast, low.min(self.target))
        } else if rate < high {
            (tuning.slow, high.min(self.target))
        } else {
            (tuning.fast, self.target)
        }
    }

    /// Counts an accepted message sent at `sent`.
    pub(crate) fn accepted(&mut self, sent: Instant) {
        if let Some((since, count)) = &mut self.accepted {
            if sent >= *since {
                *count = count.saturating_add(1);
            }
        }
    }

    /// A refusal at `now` of a message sent at `sent`. Returns the new
    /// pace when it dropped; `None` when the message was sent before the
    /// last drop took effect (that drop already answered it).
    pub(crate) fn refused(&mut self, tuning: &Tuning, now: Instant, sent: Instant) -> Option<f64> {
        if self.lowered_at.is_some_and(|at| sent < at) {
            return None;
        }
        let rate = self.rate_at(tuning, now);
        let measured = self.accepted.and_then(|(since, count)| {
            let spell = now.saturating_duration_since(since);
            let (shortest, longest) = tuning.window;
            (spell >= shortest && spell <= longest && count > 0)
                .then(|| count as f64 / spell.as_secs_f64())
        });
        let lowered = match measured {
            // Just under the measured limit, but at least halved at most
            // and lowered at least a little.
            // Just under the measured limit, and at least a little lower.
            Some(limit) => (limit * tuning.margin).min(rate * tuning.margin),
            None => rate * tuning.decrease,
        };
        let lowered = lowered.max(tuning.floor).min(self.target);
        if measured.is_some() {
            self.measured = measured;
        }
        self.rate = lowered;
        self.since = now;
        self.lowered_at = Some(now);
        self.accepted = Some((now, 0));
        Some(lowered)
    }

    /// Forgets the adaptation once the pace is back at its target and no
    /// refusal came for the longest measuring spell.
    pub(crate) fn settle(&mut self, tuning: &Tuning, now: Instant) {
        let quiet = self
            .lowered_at
            .is_none_or(|at| now.saturating_duration_since(at) > tuning.window.1);
        if quiet && self.rate_at(tuning, now) >= self.target {
            self.rate = self.target;
            self.accepted = None;
            self.measured = None;
        }
    }
}

#[cfg(test)]
#[path = "adapt/tests.rs"]
mod tests;
