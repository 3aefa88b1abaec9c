//! The paces of every phone number seen: one `Number` each, created on
//! first use and forgotten once idle. Only the numbers' own state is
//! locked per send; the map is read-mostly (written when a number is first
//! seen). Idle numbers cost memory only: no timer, no task.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use tokio::time::Instant;

use super::number::Number;
use super::pace::Pace;
use super::Settings;
use crate::ids::IdMap;

/// The map is swept of idle numbers when it reaches this size (then twice
/// the size it kept).
const SWEEP_AT: usize = 1024;

/// Every number's pace.
#[derive(Debug)]
pub(crate) struct Table {
    pub(crate) settings: Settings,
    numbers: RwLock<IdMap<Box<str>, Arc<Number>>>,
    sweep_at: AtomicUsize,
}

impl Table {
    pub(crate) fn new(settings: Settings) -> Table {
        Table {
            settings,
            numbers: RwLock::new(IdMap::default()),
            sweep_at: AtomicUsize::new(SWEEP_AT),
        }
    }

    /// The pace of `id`, created at `now` if new.
    pub(crate) fn number(&self, id: &str, now: Instant) -> Arc<Number> {
        let numbers = self.numbers.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(number) = numbers.get(id) {
            return number.clone();
        }
        drop(numbers);
        let mut numbers = self.numbers.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(number) = numbers.get(id) {
            return number.clone();
        }
        if numbers.len() >= self.sweep_at.load(Ordering::Relaxed) {
            let quiet = self.settings.idle_after;
            // A number still referenced has a send waiting or in flight.
            numbers.retain(|_, n| Arc::strong_count(n) > 1 || !n.idle(now, quiet));
            let next = numbers.len().saturating_mul(2).max(SWEEP_AT);
            self.sweep_at.store(next, Ordering::Relaxed);
        }
        let rate = self.settings.rate_of(id);
        let pace = Pace::new(now, rate, self.settings.shape(rate));
        let number = Arc::new(Number::new(id, pace, self.settings.shared.clone(), now));
        numbers.insert(id.into(), number.clone());
        number
    }

    /// The pace of `id` now, if it is kept.
    pub(crate) fn current_rate(&self, id: &str) -> Option<f64> {
        let numbers = self.numbers.read().unwrap_or_else(PoisonError::into_inner);
        let number = numbers.get(id)?.clone();
        drop(numbers);
        Some(number.rate(Instant::now()))
    }

    /// How many numbers are kept.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.numbers
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn idle_numbers_are_forgotten_once_the_map_grows() {
        let t0 = Instant::now();
        let table = Table::new(Settings::new(80));
        let kept = table.number("busy", t0);
        // The first sweep, at 1,024 numbers, finds none idle: the next one
        // comes at twice as many.
        for n in 1..2 * SWEEP_AT {
            table.number(&n.to_string(), t0);
        }
        assert_eq!(table.len(), 2 * SWEEP_AT);
        // A minute later, the next new number sweeps the idle ones; the
        // one still referenced (a send in flight) stays.
        let later = t0 + Duration::from_secs(61);
        table.number("new", later);
        assert_eq!(table.len(), 2);
        assert!(Arc::ptr_eq(&kept, &table.number("busy", later)));
        assert_eq!(table.current_rate("new"), Some(80.0));
        assert_eq!(table.current_rate("gone"), None);
    }
}
