//! Without the `opentelemetry` feature: the same types as `otel.rs`, each
//! zero-sized, each method empty and inlined, so the call sites need no
//! `#[cfg]` and compile to nothing.

use std::time::Duration;

use http::{Method, StatusCode, Uri};
use tokio::time::Instant;

#[cfg(feature = "webhook")]
use super::DeliveryOutcome;
use super::{Renewal, Save, Validation};
use crate::graph::ErrorKind;

/// How a stack's instruments are made: nothing to make. Neither `Copy`
/// nor a unit struct, as the OpenTelemetry types are not: the call sites
/// clone and default them the same way under either feature.
#[derive(Debug, Clone, Default)]
pub(crate) struct Telemetry {}

impl Telemetry {
    /// Every cell made from this recipe would carry `key = value`.
    #[allow(dead_code)]
    #[inline]
    pub(crate) fn with_attribute(self, _key: &'static str, _value: impl Into<String>) -> Self {
        self
    }

    #[inline]
    pub(crate) fn metrics(&self) -> Metrics {
        Metrics {}
    }

    #[cfg(feature = "webhook")]
    #[inline]
    pub(crate) fn deliveries(&self) -> Deliveries {
        Deliveries {}
    }
}

/// A cell's instruments: none.
#[derive(Debug, Clone, Default)]
pub(crate) struct Metrics {}

impl Metrics {
    #[inline]
    pub(crate) fn validation(&self, _outcome: Validation) {}

    #[inline]
    pub(crate) fn renewal(&self, _outcome: Renewal) {}

    #[inline]
    pub(crate) fn save(&self, _outcome: Save) {}

    #[inline]
    pub(crate) fn graph_error(&self, _kind: ErrorKind) {}

    #[inline]
    pub(crate) fn replayed(&self) {}

    #[inline]
    pub(crate) fn token_wait(&self, _since: Stopwatch) {}

    #[inline]
    pub(crate) fn expires_at(&self, _at: Option<Instant>) {}

    #[inline]
    pub(crate) fn call(&self, _method: &Method, _uri: &Uri) -> CallTimer {
        CallTimer
    }
}

/// A Graph call being timed: not timed.
#[derive(Debug)]
pub(crate) struct CallTimer;

impl CallTimer {
    #[inline]
    pub(crate) fn answered(self, _status: StatusCode) {}

    #[inline]
    pub(crate) fn failed(self, _status: Option<StatusCode>, _error_type: &'static str) {}
}

/// When a wait began: not read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stopwatch;

impl Stopwatch {
    #[inline]
    pub(crate) fn start() -> Stopwatch {
        Stopwatch
    }

    /// Always zero: nothing was read.
    #[allow(dead_code)]
    #[inline]
    pub(crate) fn elapsed(self) -> Duration {
        Duration::ZERO
    }
}

/// The webhook deliveries counter: none.
#[cfg(feature = "webhook")]
#[derive(Debug, Clone, Default)]
pub(crate) struct Deliveries {}

#[cfg(feature = "webhook")]
impl Deliveries {
    #[inline]
    pub(crate) fn record(&self, _outcome: DeliveryOutcome) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Nothing to carry, so nothing to move or drop on any path.
    #[test]
    fn every_type_is_zero_sized() {
        use std::mem::size_of;
        let sizes = [
            size_of::<Telemetry>(),
            size_of::<Metrics>(),
            size_of::<CallTimer>(),
            size_of::<Stopwatch>(),
        ];
        assert_eq!(sizes, [0; 4]);
        #[cfg(feature = "webhook")]
        assert_eq!(size_of::<Deliveries>(), 0);
    }
}
