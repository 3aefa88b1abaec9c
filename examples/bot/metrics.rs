//! `GET /metrics`: the crate's instruments through an OpenTelemetry SDK
//! whose reader is `opentelemetry-prometheus`, rendered as Prometheus
//! text. Units are not appended to names, so each series is named as its
//! instrument is, dots as underscores (counters end in `_total`).

use axum::routing::{get, MethodRouter};
use opentelemetry::metrics::{Meter, MeterProvider as _};
use opentelemetry_sdk::metrics::SdkMeterProvider;
use prometheus::{Encoder, Registry, TextEncoder};

pub struct Prometheus {
    registry: Registry,
    provider: SdkMeterProvider,
}

impl Prometheus {
    pub fn new() -> Prometheus {
        let registry = Registry::new();
        let exporter = opentelemetry_prometheus::exporter()
            .with_registry(registry.clone())
            .without_units()
            .build()
            .expect("a new registry takes the exporter");
        let provider = SdkMeterProvider::builder().with_reader(exporter).build();
        Prometheus { registry, provider }
    }

    pub fn meter(&self) -> Meter {
        self.provider.meter("tower-whatsapp-auth")
    }

    pub fn route<S: Clone + Send + Sync + 'static>(&self) -> MethodRouter<S> {
        let registry = self.registry.clone();
        get(move || {
            let registry = registry.clone();
            async move {
                let mut text = Vec::new();
                let encoder = TextEncoder::new();
                let _ = encoder.encode(&registry.gather(), &mut text);
                ([("content-type", encoder.format_type().to_owned())], text)
            }
        })
    }
}
