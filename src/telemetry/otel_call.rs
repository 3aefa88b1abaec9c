//! `http.client.request.duration` for the stack's own Graph calls, with
//! the attributes of OpenTelemetry's HTTP semantic conventions: never the
//! path or the query (which carry ids and `appsecret_proof`).

use std::sync::Arc;

use http::{Method, StatusCode, Uri};
use opentelemetry::metrics::Histogram;
use opentelemetry::KeyValue;
use tokio::time::Instant;

/// A Graph call being timed. Recorded when answered or failed; a call
/// dropped before either (its timeout passed, or the stack went away)
/// is recorded with `error.type = "timeout"`.
pub(crate) struct CallTimer {
    histogram: Histogram<f64>,
    started: Instant,
    attributes: Vec<KeyValue>,
    done: bool,
}

/// The method as the conventions name it: a known method, else `_OTHER`.
fn method_label(method: &Method) -> &'static str {
    match method.as_str() {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        "PATCH" => "PATCH",
        "TRACE" => "TRACE",
        "CONNECT" => "CONNECT",
        _ => "_OTHER",
    }
}

impl CallTimer {
    pub(super) fn start(
        histogram: Histogram<f64>,
        method: &Method,
        uri: &Uri,
        extra: &Arc<[KeyValue]>,
    ) -> CallTimer {
        let port = uri
            .port_u16()
            .unwrap_or(if uri.scheme_str() == Some("https") {
                443
            } else {
                80
            });
        let mut attributes = vec![
            KeyValue::new("http.request.method", method_label(method)),
            KeyValue::new("server.address", uri.host().unwrap_or_default().to_owned()),
            KeyValue::new("server.port", i64::from(port)),
        ];
        attributes.extend(extra.iter().cloned());
        CallTimer {
            histogram,
            started: Instant::now(),
            attributes,
            done: false,
        }
    }

    /// Graph answered with `status` (an error type when it is 4xx or 5xx).
    pub(crate) fn answered(self, status: StatusCode) {
        let error = (status.as_u16() >= 400).then(|| status.as_str().to_owned());
        self.finish(Some(status), error);
    }

    /// The call failed: `error_type` says how (`status`, when one came).
    pub(crate) fn failed(self, status: Option<StatusCode>, error_type: &'static str) {
        self.finish(status, Some(error_type.to_owned()));
    }

    fn finish(mut self, status: Option<StatusCode>, error: Option<String>) {
        if let Some(status) = status {
            self.attributes.push(KeyValue::new(
                "http.response.status_code",
                i64::from(status.as_u16()),
            ));
        }
        if let Some(error) = error {
            self.attributes.push(KeyValue::new("error.type", error));
        }
        self.record();
    }

    fn record(&mut self) {
        self.done = true;
        let seconds = self.started.elapsed().as_secs_f64();
        self.histogram.record(seconds, &self.attributes);
    }
}

impl Drop for CallTimer {
    fn drop(&mut self) {
        if !self.done {
            self.attributes.push(KeyValue::new("error.type", "timeout"));
            self.record();
        }
    }
}

impl std::fmt::Debug for CallTimer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallTimer")
            .field("done", &self.done)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_are_named_as_the_conventions_say() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::POST), "POST");
        assert_eq!(
            method_label(&Method::from_bytes(b"PURGE").unwrap()),
            "_OTHER"
        );
    }
}
