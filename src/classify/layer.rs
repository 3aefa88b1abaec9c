//! [`ClassifyLayer`].

use tower_layer::Layer;

use super::{Classify, Settings, DEFAULT_ERROR_BODY_LIMIT, DEFAULT_USAGE_WARNING};

/// Layer that applies [`Classify`].
#[derive(Debug, Clone, Copy)]
pub struct ClassifyLayer {
    settings: Settings,
}

impl ClassifyLayer {
    /// A layer reading up to [`DEFAULT_ERROR_BODY_LIMIT`] bytes of error
    /// bodies, warning when usage passes [`DEFAULT_USAGE_WARNING`] percent.
    pub fn new() -> ClassifyLayer {
        ClassifyLayer {
            settings: Settings {
                limit: DEFAULT_ERROR_BODY_LIMIT,
                usage_warning: DEFAULT_USAGE_WARNING,
            },
        }
    }

    /// Sets how much of an error body is read to classify it.
    pub fn limit(mut self, bytes: usize) -> ClassifyLayer {
        self.settings.limit = bytes;
        self
    }

    /// Logs a warning when Graph's usage headers report more than
    /// `percent` of an allowance used.
    pub fn usage_warning(mut self, percent: f64) -> ClassifyLayer {
        self.settings.usage_warning = percent;
        self
    }
}

impl Default for ClassifyLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl<S> Layer<S> for ClassifyLayer {
    type Service = Classify<S>;
    fn layer(&self, inner: S) -> Classify<S> {
        Classify::new(inner, self.settings)
    }
}
