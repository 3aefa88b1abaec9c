//! The OpenTelemetry SDK with its in-memory exporter, for the metrics
//! tests: a meter to give the stack, and what it recorded, read back as
//! plain values (`name{key=value,…}`, attributes sorted by key).
#![allow(dead_code)]

use std::collections::BTreeMap;

use opentelemetry::metrics::{Meter, MeterProvider as _};
use opentelemetry::KeyValue;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};

/// A provider whose metrics are exported in memory.
pub struct Exported {
    provider: SdkMeterProvider,
    exporter: InMemoryMetricExporter,
}

/// `name{key=value,…}` with the attributes sorted by key (no braces
/// without attributes).
fn series<'a>(name: &str, attributes: impl Iterator<Item = &'a KeyValue>) -> String {
    let mut pairs: Vec<String> = attributes
        .map(|kv| format!("{}={}", kv.key, kv.value))
        .collect();
    pairs.sort();
    if pairs.is_empty() {
        name.to_owned()
    } else {
        format!("{name}{{{}}}", pairs.join(","))
    }
}

/// Expected counts, as a map.
pub fn counts(rows: &[(&str, u64)]) -> BTreeMap<String, u64> {
    rows.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

impl Exported {
    pub fn new() -> Exported {
        let exporter = InMemoryMetricExporter::default();
        let provider = SdkMeterProvider::builder()
            .with_reader(PeriodicReader::builder(exporter.clone()).build())
            .build();
        Exported { provider, exporter }
    }

    pub fn meter(&self) -> Meter {
        self.provider.meter("tower-whatsapp-auth")
    }

    /// Everything recorded so far (cumulative: the last export holds it
    /// all; with nothing recorded, nothing is exported).
    pub fn collect(&self) -> Snapshot {
        self.provider.force_flush().unwrap();
        let mut batches = self.exporter.get_finished_metrics().unwrap();
        Snapshot(batches.pop().into_iter().collect())
    }
}

/// The last export, if any.
pub struct Snapshot(Vec<ResourceMetrics>);

impl Snapshot {
    /// Every counter's series with its value, zeros left out.
    pub fn counters(&self) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        for scope in self.0.iter().flat_map(ResourceMetrics::scope_metrics) {
            for metric in scope.metrics() {
                if let AggregatedMetrics::U64(MetricData::Sum(sum)) = metric.data() {
                    for point in sum.data_points().filter(|p| p.value() > 0) {
                        out.insert(series(metric.name(), point.attributes()), point.value());
                    }
                }
            }
        }
        out
    }

    /// How many values the histogram `name` recorded with all of `with`
    /// among their attributes.
    pub fn histogram_count(&self, name: &str, with: &[(&str, &str)]) -> u64 {
        let mut count = 0;
        for scope in self.0.iter().flat_map(ResourceMetrics::scope_metrics) {
            for metric in scope.metrics().filter(|m| m.name() == name) {
                let AggregatedMetrics::F64(MetricData::Histogram(h)) = metric.data() else {
                    panic!("{name} is not an f64 histogram");
                };
                for point in h.data_points() {
                    let attributes: Vec<(String, String)> = point
                        .attributes()
                        .map(|kv| (kv.key.to_string(), kv.value.to_string()))
                        .collect();
                    let matches = with
                        .iter()
                        .all(|(k, v)| attributes.iter().any(|(key, value)| key == k && value == v));
                    if matches {
                        count += point.count();
                    }
                }
            }
        }
        count
    }

    /// Every series of every histogram, as `name{key=value,…}`.
    pub fn histogram_series(&self) -> Vec<String> {
        let mut out = Vec::new();
        for scope in self.0.iter().flat_map(ResourceMetrics::scope_metrics) {
            for metric in scope.metrics() {
                if let AggregatedMetrics::F64(MetricData::Histogram(h)) = metric.data() {
                    out.extend(
                        h.data_points()
                            .map(|p| series(metric.name(), p.attributes())),
                    );
                }
            }
        }
        out
    }

    /// The gauge `name`'s one value, if it has one.
    pub fn gauge(&self, name: &str) -> Option<f64> {
        let mut values = Vec::new();
        for scope in self.0.iter().flat_map(ResourceMetrics::scope_metrics) {
            for metric in scope.metrics().filter(|m| m.name() == name) {
                if let AggregatedMetrics::F64(MetricData::Gauge(g)) = metric.data() {
                    values.extend(g.data_points().map(|p| p.value()));
                }
            }
        }
        assert!(values.len() <= 1, "{name}: {values:?}");
        values.pop()
    }
}
