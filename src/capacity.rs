//! Giving back what `poll_ready` reserved. tower services release the
//! capacity a `poll_ready` reserved (a concurrency permit, a buffer slot)
//! when the ready service is dropped; a clone starts out not ready. A
//! request that must wait (for its body, for token work) before it can be
//! sent swaps the ready service for a clone, so that it holds nothing
//! while it waits, and polls a clone ready again when it can go.

/// Drops the ready `service`, leaving an unready clone in its place.
pub(crate) fn give_back<S: Clone>(service: &mut S) {
    let unready = service.clone();
    *service = unready;
}

/// [`give_back`], and another clone to send with once the wait is over
/// (after polling it ready).
pub(crate) fn give_back_for_later<S: Clone>(service: &mut S) -> S {
    give_back(service);
    service.clone()
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::*;

    /// A service that holds a permit while ready, as tower's limits do.
    struct Permit {
        held: Arc<AtomicUsize>,
        ready: bool,
    }

    impl Clone for Permit {
        fn clone(&self) -> Self {
            Permit {
                held: self.held.clone(),
                ready: false,
            }
        }
    }

    impl Drop for Permit {
        fn drop(&mut self) {
            if self.ready {
                self.held.fetch_sub(1, Ordering::SeqCst);
            }
        }
    }

    #[test]
    fn the_ready_service_is_dropped_and_clones_hold_nothing() {
        let held = Arc::new(AtomicUsize::new(1));
        let mut ready = Permit {
            held: held.clone(),
            ready: true,
        };
        give_back(&mut ready);
        assert_eq!(held.load(Ordering::SeqCst), 0);
        assert!(!ready.ready);
        held.store(1, Ordering::SeqCst);
        ready.ready = true;
        let later = give_back_for_later(&mut ready);
        assert_eq!(held.load(Ordering::SeqCst), 0);
        assert!(!ready.ready && !later.ready);
    }
}
