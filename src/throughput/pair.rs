//! The pair rate (131056): how long messages to one recipient wait after
//! Graph refused one for sending too many to that recipient, as pure
//! functions. Meta says to wait 4^n seconds, n counting the refusals in a
//! row; an accepted message to the recipient ends the count.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

/// Recipients kept per number at most; past it, the oldest blocks that
/// have expired are forgotten, and new ones are not kept (the refused
/// message itself is still the retry policy's to wait for).
const MOST: usize = 10_000;

/// How long a recipient's count of refusals is kept after its wait ends.
const KEPT: Duration = Duration::from_secs(600);

/// The wait after the `strikes`-th refusal in a row: `base × 4^(strikes-1)`
/// (1, 4, 16, 64 s… with a base of one second), saturating.
pub(crate) fn pair_wait(base: Duration, strikes: u32) -> Duration {
    let exponent = strikes.saturating_sub(1).min(31);
    base.saturating_mul(4u32.saturating_pow(exponent))
}

#[derive(Debug, Clone, Copy)]
struct Strikes {
    count: u32,
    until: Instant,
}

/// The recipients of one number that Graph refused with 131056.
#[derive(Debug, Default, Clone)]
pub(crate) struct Pairs {
    blocked: HashMap<Box<str>, Strikes>,
}

impl Pairs {
    pub(crate) fn is_empty(&self) -> bool {
        self.blocked.is_empty()
    }

    /// Until when messages to `recipient` wait, if they do at `now`.
    pub(crate) fn blocked_until(&self, recipient: &str, now: Instant) -> Option<Instant> {
        self.blocked
            .get(recipient)
            .map(|s| s.until)
            .filter(|until| *until > now)
    }

    /// A 131056 for `recipient` at `now`: its messages wait until the
    /// instant returned.
    pub(crate) fn refused(&mut self, recipient: &str, now: Instant, base: Duration) -> Instant {
        if self.blocked.len() >= MOST && !self.blocked.contains_key(recipient) {
            self.forget_expired(now);
        }
        let strikes = match self.blocked.get(recipient) {
            // A refusal of a message sent before the wait ended counts once.
            Some(s) if s.until > now => return s.until,
            Some(s) => s.count.saturating_add(1),
            None => 1,
        };
        // Waits past a day are past any maximum wait: capped there.
        let wait = pair_wait(base, strikes).min(Duration::from_secs(86_400));
        let until = now.checked_add(wait).unwrap_or(now);
        if self.blocked.len() < MOST || self.blocked.contains_key(recipient) {
            self.blocked.insert(
                recipient.into(),
                Strikes {
                    count: strikes,
                    until,
                },
            );
        }
        until
    }

    /// A message to `recipient` was accepted: its count starts over.
    pub(crate) fn accepted(&mut self, recipient: &str) {
        self.blocked.remove(recipient);
    }

    /// Forgets recipients whose wait ended long enough ago.
    pub(crate) fn forget_expired(&mut self, now: Instant) {
        self.blocked
            .retain(|_, s| s.until.checked_add(KEPT).is_none_or(|end| end > now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn waits_grow_as_four_to_the_n_seconds() {
        let waits: Vec<u64> = (1..=5).map(|n| pair_wait(S, n).as_secs()).collect();
        assert_eq!(waits, [1, 4, 16, 64, 256]);
        assert_eq!(pair_wait(S, 0), S);
        assert_eq!(pair_wait(Duration::MAX, 40), Duration::MAX);
        assert_eq!(pair_wait(S, u32::MAX), S.saturating_mul(u32::MAX));
    }

    #[test]
    fn a_refused_recipient_waits_and_others_do_not() {
        let t0 = Instant::now();
        let mut pairs = Pairs::default();
        assert!(pairs.is_empty());
        assert_eq!(pairs.refused("1555", t0, S), t0 + S);
        assert_eq!(pairs.blocked_until("1555", t0), Some(t0 + S));
        assert_eq!(pairs.blocked_until("1666", t0), None);
        assert_eq!(pairs.blocked_until("1555", t0 + S), None, "over");
        // Refusals of messages sent during the wait count once.
        assert_eq!(pairs.refused("1555", t0 + S / 2, S), t0 + S);
        // In a row: 4 s, then 16 s.
        let t1 = t0 + 2 * S;
        assert_eq!(pairs.refused("1555", t1, S), t1 + 4 * S);
        let t2 = t1 + 5 * S;
        assert_eq!(pairs.refused("1555", t2, S), t2 + 16 * S);
        // An accepted message starts the count over.
        pairs.accepted("1555");
        let t3 = t2 + 20 * S;
        assert_eq!(pairs.refused("1555", t3, S), t3 + S);
    }

    #[test]
    fn expired_recipients_are_forgotten_and_the_table_is_bounded() {
        let t0 = Instant::now();
        let mut pairs = Pairs::default();
        for n in 0..MOST {
            pairs.refused(&n.to_string(), t0, S);
        }
        // Full, nothing expired: a new recipient is not kept.
        pairs.refused("new", t0, S);
        assert_eq!(pairs.blocked.len(), MOST);
        assert_eq!(pairs.blocked_until("new", t0), None);
        // Later, the expired ones make room.
        let later = t0 + S + KEPT + S;
        assert_eq!(pairs.refused("new", later, S), later + S);
        assert_eq!(pairs.blocked.len(), 1);
    }
}
