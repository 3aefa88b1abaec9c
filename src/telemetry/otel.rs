//! The instruments, with the `opentelemetry` feature: made once per recipe
//! ([`Telemetry`], kept in the configuration) from its meter, shared by
//! every cell made from it; each cell's [`Metrics`] adds its own extra
//! attributes and its own expiry to observe.

use std::sync::{Arc, OnceLock};

use http::{Method, Uri};
use opentelemetry::metrics::{Counter, Histogram, Meter};
use opentelemetry::{global, InstrumentationScope, KeyValue};
use tokio::time::Instant;

use super::otel_call::CallTimer;
use super::otel_expiry::{Expiries, Expiry};
#[cfg(feature = "webhook")]
use super::DeliveryOutcome;
use super::{kind_label, Renewal, Save, Validation, SCOPE};
use crate::graph::ErrorKind;

/// Bucket bounds of `whatsapp.request.token_wait`, in seconds: token work
/// takes from milliseconds (a validation) to its timeout (10 s by default).
const WAIT_BOUNDS: [f64; 14] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// The bucket bounds OpenTelemetry's semantic conventions advise for
/// `http.client.request.duration`.
const CALL_BOUNDS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// How a stack's instruments are made: from an explicit meter, or from
/// the global provider's when the first cell needs them; with extra
/// attributes (a tenant's, when asked for) on every measurement.
#[derive(Clone, Default)]
pub(crate) struct Telemetry {
    meter: Option<Meter>,
    /// Made once, by the first cell, and shared by all made after it.
    root: Arc<OnceLock<Arc<Root>>>,
    attributes: Vec<KeyValue>,
}

impl Telemetry {
    /// This recipe with its instruments from `meter`.
    pub(crate) fn with_meter(self, meter: Meter) -> Telemetry {
        Telemetry {
            meter: Some(meter),
            root: Arc::default(),
            attributes: self.attributes,
        }
    }

    /// This recipe with `key = value` on every measurement of the cells
    /// made from it (the tenant-aware stack adds the tenant this way, when
    /// the user opts in). The instruments stay shared.
    #[cfg_attr(not(feature = "tenants"), allow(dead_code))]
    pub(crate) fn with_attribute(mut self, key: &'static str, value: impl Into<String>) -> Self {
        self.attributes.push(KeyValue::new(key, value.into()));
        self
    }

    fn meter(&self) -> Meter {
        self.meter.clone().unwrap_or_else(|| {
            let scope = InstrumentationScope::builder(SCOPE)
                .with_version(env!("CARGO_PKG_VERSION"))
                .build();
            global::meter_with_scope(scope)
        })
    }

    /// The instruments of one cell.
    pub(crate) fn metrics(&self) -> Metrics {
        let root = self
            .root
            .get_or_init(|| Arc::new(Root::new(&self.meter())))
            .clone();
        Metrics::new(root, self.attributes.clone().into())
    }

    /// The webhook deliveries counter.
    #[cfg(feature = "webhook")]
    pub(crate) fn deliveries(&self) -> Deliveries {
        let counter = self
            .meter()
            .u64_counter("whatsapp.webhook.deliveries")
            .with_description("Webhook deliveries read, by outcome")
            .with_unit("{delivery}")
            .build();
        Deliveries {
            counter,
            attributes: self.attributes.clone().into(),
        }
    }
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys: Vec<&str> = self.attributes.iter().map(|kv| kv.key.as_str()).collect();
        f.debug_struct("Telemetry")
            .field(
                "meter",
                &if self.meter.is_some() {
                    "given"
                } else {
                    "global"
                },
            )
            .field("attributes", &keys)
            .finish()
    }
}

/// The instruments every cell of a recipe shares.
struct Root {
    validations: Counter<u64>,
    renewals: Counter<u64>,
    saves: Counter<u64>,
    graph_errors: Counter<u64>,
    replayed: Counter<u64>,
    token_wait: Histogram<f64>,
    calls: Histogram<f64>,
    expiries: Arc<Expiries>,
}

impl Root {
    fn new(meter: &Meter) -> Root {
        let counter = |name: &'static str, description: &'static str, unit: &'static str| {
            meter
                .u64_counter(name)
                .with_description(description)
                .with_unit(unit)
                .build()
        };
        let expiries = Arc::new(Expiries::default());
        let observed = expiries.clone();
        // One callback per recipe, whatever the number of cells: callbacks
        // cannot be unregistered, so none is made per cell.
        meter
            .f64_observable_gauge("whatsapp.token.expires_in")
            .with_description("Seconds until the token in use expires, as last known")
            .with_unit("s")
            .with_callback(move |gauge| observed.observe(gauge))
            .build();
        Root {
            validations: counter(
                "whatsapp.token.validations",
                "Verdicts on the token, by outcome",
                "{validation}",
            ),
            renewals: counter(
                "whatsapp.token.renewals",
                "Token renewals, by outcome",
                "{renewal}",
            ),
            saves: counter(
                "whatsapp.token.saves",
                "Attempts to save a renewed token where it is kept, by outcome",
                "{save}",
            ),
            graph_errors: counter(
                "whatsapp.graph.errors",
                "Graph error answers, by kind",
                "{error}",
            ),
            replayed: counter(
                "whatsapp.requests.replayed",
                "Requests replayed after a token renewal",
                "{request}",
            ),
            token_wait: meter
                .f64_histogram("whatsapp.request.token_wait")
                .with_description("How long requests waited on token work")
                .with_unit("s")
                .with_boundaries(WAIT_BOUNDS.to_vec())
                .build(),
            calls: meter
                .f64_histogram("http.client.request.duration")
                .with_description("Duration of the stack's own Graph calls")
                .with_unit("s")
                .with_boundaries(CALL_BOUNDS.to_vec())
                .build(),
            expiries,
        }
    }
}

/// One cell's instruments: the shared ones, its extra attributes, and the
/// expiry the gauge reads for it.
#[derive(Clone)]
pub(crate) struct Metrics {
    root: Arc<Root>,
    attributes: Arc<[KeyValue]>,
    expiry: Arc<Expiry>,
}

impl Metrics {
    fn new(root: Arc<Root>, attributes: Arc<[KeyValue]>) -> Metrics {
        let expiry = root.expiries.register(attributes.clone());
        Metrics {
            root,
            attributes,
            expiry,
        }
    }

    /// Calls `f` with `own` followed by the extra attributes.
    fn with<R>(&self, own: &[KeyValue], f: impl FnOnce(&[KeyValue]) -> R) -> R {
        with_extra(own, &self.attributes, f)
    }

    pub(crate) fn validation(&self, outcome: Validation) {
        let own = [KeyValue::new("outcome", outcome.label())];
        self.with(&own, |a| self.root.validations.add(1, a));
    }

    pub(crate) fn renewal(&self, outcome: Renewal) {
        let own = [KeyValue::new("outcome", outcome.label())];
        self.with(&own, |a| self.root.renewals.add(1, a));
    }

    pub(crate) fn save(&self, outcome: Save) {
        let own = [KeyValue::new("outcome", outcome.label())];
        self.with(&own, |a| self.root.saves.add(1, a));
    }

    pub(crate) fn graph_error(&self, kind: ErrorKind) {
        let own = [KeyValue::new("kind", kind_label(kind))];
        self.with(&own, |a| self.root.graph_errors.add(1, a));
    }

    pub(crate) fn replayed(&self) {
        self.with(&[], |a| self.root.replayed.add(1, a));
    }

    /// A wait on token work that began at `since` ended now.
    pub(crate) fn token_wait(&self, since: Stopwatch) {
        let seconds = since.elapsed().as_secs_f64();
        self.with(&[], |a| self.root.token_wait.record(seconds, a));
    }

    /// The token in use expires at `at` (`None`: never, or not known).
    pub(crate) fn expires_at(&self, at: Option<Instant>) {
        self.expiry.set(at);
    }

    /// Times a Graph call of the stack's own, to `method` `uri`.
    pub(crate) fn call(&self, method: &Method, uri: &Uri) -> CallTimer {
        CallTimer::start(self.root.calls.clone(), method, uri, &self.attributes)
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("attributes", &self.attributes.len())
            .finish_non_exhaustive()
    }
}

/// Calls `f` with `own` then `extra`, copying only when there are extras.
pub(super) fn with_extra<R>(
    own: &[KeyValue],
    extra: &[KeyValue],
    f: impl FnOnce(&[KeyValue]) -> R,
) -> R {
    if extra.is_empty() {
        return f(own);
    }
    let all: Vec<KeyValue> = own.iter().chain(extra).cloned().collect();
    f(&all)
}

/// When a wait began, on the runtime's clock.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stopwatch(Instant);

impl Stopwatch {
    pub(crate) fn start() -> Stopwatch {
        Stopwatch(Instant::now())
    }

    /// The time since it started.
    pub(crate) fn elapsed(self) -> std::time::Duration {
        self.0.elapsed()
    }
}

/// The webhook deliveries counter, with the layer's extra attributes.
#[cfg(feature = "webhook")]
#[derive(Clone)]
pub(crate) struct Deliveries {
    counter: Counter<u64>,
    attributes: Arc<[KeyValue]>,
}

#[cfg(feature = "webhook")]
impl Deliveries {
    pub(crate) fn record(&self, outcome: DeliveryOutcome) {
        let own = [KeyValue::new("outcome", outcome.as_str())];
        with_extra(&own, &self.attributes, |a| self.counter.add(1, a));
    }
}

#[cfg(feature = "webhook")]
impl std::fmt::Debug for Deliveries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Deliveries")
    }
}
