//! A number's pace shared by several replicas: permits leased in small
//! batches from a budget every replica draws on (a GCRA kept in Redis),
//! and what a replica does when that budget cannot be reached. Pure: the
//! leasing itself is [`Budget`](super::shared::Budget)'s.

use std::time::Duration;

use tokio::time::Instant;

/// After a failed lease, how long a replica paces alone before it tries
/// the shared budget again.
pub(crate) const RETRY_SHARED: Duration = Duration::from_secs(1);

/// Permits granted by the shared budget: `count` of them, the first due
/// `wait` after the budget's clock read (already past when negative), then
/// one every `period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Grant {
    /// Microseconds from the budget's now to the first permit (negative:
    /// it is due already).
    pub(crate) wait_us: i64,
    pub(crate) period: Duration,
    pub(crate) count: u32,
    /// Replicas that leased permits for this number lately (this one too).
    pub(crate) replicas: u32,
}

/// One number's leased permits and the shared budget's health.
#[derive(Debug, Clone)]
pub(crate) struct Permits {
    next: Instant,
    period: Duration,
    left: u32,
    /// A lease is under way.
    pub(crate) leasing: bool,
    /// Requests waiting for a lease.
    pub(crate) waiting: u32,
    /// Until when the budget counts as unreachable (this replica paces
    /// alone, at its share).
    alone_until: Option<Instant>,
    /// Replicas seen at the last lease (at least one: this one).
    replicas: u32,
}

/// What a request is told when the number's pace is shared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Permit {
    /// A permit, due then.
    Due(Instant),
    /// The next leased permit comes only this long from now: past the wait
    /// allowed.
    TooLong(Duration),
    /// No permit left: wait for a lease (`start`: this request starts it).
    Lease { start: bool },
    /// The budget is unreachable: pace alone, at `1 / share` of the rate.
    Alone { share: u32 },
}

impl Permits {
    pub(crate) fn new(now: Instant, replicas: u32) -> Permits {
        Permits {
            next: now,
            period: Duration::ZERO,
            left: 0,
            leasing: false,
            waiting: 0,
            alone_until: None,
            replicas: replicas.max(1),
        }
    }

    /// The permit of a request at `now`, allowed to wait `allowed`.
    pub(crate) fn take(&mut self, now: Instant, allowed: Duration) -> Permit {
        if self.alone_until.is_some_and(|until| now < until) {
            return Permit::Alone {
                share: self.replicas,
            };
        }
        if self.left == 0 {
            if self.alone_until.is_some() && self.leasing {
                // Trying the budget again: keep pacing alone meanwhile.
                return Permit::Alone {
                    share: self.replicas,
                };
            }
            let start = !self.leasing;
            self.leasing = true;
            self.waiting = self.waiting.saturating_add(1);
            return Permit::Lease { start };
        }
        let due = self.next;
        let wait = due.saturating_duration_since(now);
        if wait > allowed {
            return Permit::TooLong(wait);
        }
        self.next = due.checked_add(self.period).unwrap_or(due);
        self.left -= 1;
        Permit::Due(due)
    }

    /// How many permits to ask for: one per request waiting, at most `most`.
    pub(crate) fn ask(&self, most: u32) -> u32 {
        self.waiting.clamp(1, most.max(1))
    }

    /// A lease came back at `now` (the reply's arrival: later than the
    /// budget's clock read, so the permits are if anything late).
    pub(crate) fn granted(&mut self, now: Instant, grant: Grant) {
        self.leasing = false;
        self.alone_until = None;
        self.replicas = grant.replicas.max(1);
        let ahead = Duration::from_micros(grant.wait_us.unsigned_abs());
        self.next = if grant.wait_us >= 0 {
            now.checked_add(ahead).unwrap_or(now)
        } else {
            now.checked_sub(ahead).unwrap_or(now)
        };
        self.period = grant.period;
        self.left = grant.count;
    }

    /// The lease failed at `now` (unreachable, or past the store timeout):
    /// pace alone for a while.
    pub(crate) fn failed(&mut self, now: Instant) {
        self.leasing = false;
        self.left = 0;
        self.alone_until = Some(now.checked_add(RETRY_SHARED).unwrap_or(now));
    }

    /// A waiting request stopped waiting (served, refused or dropped).
    pub(crate) fn done_waiting(&mut self) {
        self.waiting = self.waiting.saturating_sub(1);
    }

    /// The pace dropped: permits leased at the old pace are given up.
    pub(crate) fn forfeit(&mut self) {
        self.left = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn grant(wait_us: i64, count: u32) -> Grant {
        Grant {
            wait_us,
            period: 10 * MS,
            count,
            replicas: 2,
        }
    }

    #[test]
    fn permits_are_leased_once_for_everyone_waiting_then_spent_in_order() {
        let t0 = Instant::now();
        let mut permits = Permits::new(t0, 1);
        assert_eq!(permits.take(t0, MS), Permit::Lease { start: true });
        assert_eq!(permits.take(t0, MS), Permit::Lease { start: false });
        assert_eq!(permits.ask(8), 2);
        assert_eq!(permits.ask(1), 1);
        permits.granted(t0, grant(-5_000, 3));
        permits.done_waiting();
        permits.done_waiting();
        let allowed = Duration::from_secs(1);
        assert_eq!(permits.take(t0, allowed), Permit::Due(t0 - 5 * MS));
        assert_eq!(permits.take(t0, allowed), Permit::Due(t0 + 5 * MS));
        assert_eq!(permits.take(t0, 10 * MS), Permit::TooLong(15 * MS));
        assert_eq!(permits.take(t0, allowed), Permit::Due(t0 + 15 * MS));
        assert_eq!(permits.take(t0, allowed), Permit::Lease { start: true });
        // A permit past the wait allowed is kept for another request.
        permits.granted(t0, grant(50_000, 2));
        assert_eq!(permits.take(t0, 10 * MS), Permit::TooLong(50 * MS));
        assert_eq!(permits.take(t0, allowed), Permit::Due(t0 + 50 * MS));
    }

    #[test]
    fn an_unreachable_budget_means_pacing_alone_at_a_share_then_trying_again() {
        let t0 = Instant::now();
        let mut permits = Permits::new(t0, 3);
        assert_eq!(permits.take(t0, MS), Permit::Lease { start: true });
        permits.failed(t0);
        permits.done_waiting();
        assert_eq!(permits.take(t0, MS), Permit::Alone { share: 3 });
        // A second later: one request tries the budget; the rest go on alone.
        let later = t0 + RETRY_SHARED;
        assert_eq!(permits.take(later, MS), Permit::Lease { start: true });
        assert_eq!(permits.take(later, MS), Permit::Alone { share: 3 });
        permits.granted(later, grant(0, 1));
        assert_eq!(permits.take(later, MS), Permit::Due(later));
        // Back to sharing: no permit left means waiting for a lease.
        assert_eq!(permits.take(later, MS), Permit::Lease { start: true });
    }

    #[test]
    fn a_drop_forfeits_the_permits_leased_at_the_old_pace() {
        let t0 = Instant::now();
        let mut permits = Permits::new(t0, 1);
        permits.take(t0, MS);
        permits.granted(t0, grant(0, 8));
        permits.forfeit();
        assert_eq!(permits.take(t0, MS), Permit::Lease { start: true });
    }
}
