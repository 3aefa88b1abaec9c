//! A budget shared by several replicas, from which each leases permits for
//! a number's sends: the seam between the shaper and Redis (cargo feature
//! `redis`), and what tests put in Redis's place.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use super::lease::Grant;

/// What a replica asks the shared budget for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ask {
    /// Permits wanted.
    pub(crate) count: u32,
    /// The number's pace, as the spacing of its sends (this replica's view
    /// of it, lowered after refusals).
    pub(crate) period: Duration,
    /// How much of the pace may go at once after an idle spell.
    pub(crate) burst: Duration,
    /// Grant nothing when the first permit would come later than this.
    pub(crate) max_wait: Duration,
}

/// A lease in flight.
pub(crate) type Leasing = Pin<Box<dyn Future<Output = Result<Grant, String>> + Send + 'static>>;

/// A number's budget, shared by every replica.
pub(crate) trait Budget: fmt::Debug + Send + Sync + 'static {
    /// Leases permits for `number`'s sends.
    fn lease(&self, number: &str, ask: Ask) -> Leasing;

    /// How long a lease may take before this replica paces alone.
    fn timeout(&self) -> Duration;

    /// The most permits leased at once.
    fn batch(&self) -> u32;

    /// Replicas assumed at least, for the share a replica paces at alone
    /// before the budget said how many there are.
    fn replicas(&self) -> u32;
}

#[cfg(test)]
#[path = "shared/tests.rs"]
pub(crate) mod tests;
