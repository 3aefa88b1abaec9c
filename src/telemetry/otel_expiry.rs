//! `whatsapp.token.expires_in`: an observable gauge, so the value is the
//! time left when it is read, not when the expiry was learnt. One callback
//! per recipe reads every live cell's expiry from a registry of weak
//! references: a cell that goes away (a tenant evicted) stops being
//! observed, and nothing is registered per cell with the meter provider.

use std::sync::{Arc, Mutex, MutexGuard, Weak};

use opentelemetry::metrics::AsyncInstrument;
use opentelemetry::KeyValue;
use tokio::runtime::Handle;
use tokio::time::Instant;

/// The expiries of a recipe's cells.
#[derive(Default)]
pub(super) struct Expiries {
    slots: Mutex<Slots>,
}

#[derive(Default)]
struct Slots {
    live: Vec<Weak<Expiry>>,
    /// At this many entries the dead ones are dropped (amortized, so a
    /// provider that never reads still keeps the list bounded).
    prune_at: usize,
}

/// One cell's token expiry, with the cell's extra attributes.
pub(super) struct Expiry {
    attributes: Arc<[KeyValue]>,
    deadline: Mutex<Option<Deadline>>,
}

/// An instant on a runtime's clock, and that runtime, so that it is
/// compared with the same clock wherever the gauge is read (a reader's
/// thread has no runtime; tests pause the clock).
struct Deadline {
    at: Instant,
    clock: Option<Handle>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl Expiries {
    /// A new cell's expiry (unknown until [`Expiry::set`]).
    pub(super) fn register(&self, attributes: Arc<[KeyValue]>) -> Arc<Expiry> {
        let expiry = Arc::new(Expiry {
            attributes,
            deadline: Mutex::new(None),
        });
        let mut slots = lock(&self.slots);
        if slots.live.len() >= slots.prune_at {
            slots.live.retain(|w| w.strong_count() > 0);
            slots.prune_at = (slots.live.len() * 2).max(16);
        }
        slots.live.push(Arc::downgrade(&expiry));
        expiry
    }

    /// Observes the seconds left for every live cell whose expiry is known.
    pub(super) fn observe(&self, gauge: &dyn AsyncInstrument<f64>) {
        let live: Vec<Arc<Expiry>> = {
            let mut slots = lock(&self.slots);
            slots.live.retain(|w| w.strong_count() > 0);
            slots.live.iter().filter_map(Weak::upgrade).collect()
        };
        for expiry in live {
            if let Some(left) = expiry.seconds_left() {
                gauge.observe(left, &expiry.attributes);
            }
        }
    }
}

impl Expiry {
    /// The token in use expires at `at` (`None`: never, or not known).
    pub(super) fn set(&self, at: Option<Instant>) {
        let deadline = at.map(|at| Deadline {
            at,
            clock: Handle::try_current().ok(),
        });
        *lock(&self.deadline) = deadline;
    }

    /// Seconds until the expiry (0 once passed), when one is known.
    fn seconds_left(&self) -> Option<f64> {
        let deadline = lock(&self.deadline);
        let deadline = deadline.as_ref()?;
        let now = match &deadline.clock {
            Some(runtime) => {
                let _entered = runtime.enter();
                Instant::now()
            }
            None => Instant::now(),
        };
        Some(deadline.at.saturating_duration_since(now).as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Dead cells are dropped from the registry, also when nothing reads it.
    #[test]
    fn the_registry_forgets_cells_that_went_away() {
        let expiries = Expiries::default();
        let kept = expiries.register(Arc::from([]));
        for _ in 0..100 {
            drop(expiries.register(Arc::from([])));
        }
        assert!(lock(&expiries.slots).live.len() <= 33);
        kept.set(Some(Instant::now() + Duration::from_secs(60)));
        let left = kept.seconds_left().unwrap();
        assert!((59.0..=60.0).contains(&left), "{left}");
        kept.set(None);
        assert_eq!(kept.seconds_left(), None);
    }
}
