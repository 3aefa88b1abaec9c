//! [`ClassifyLayer`].

use tower_layer::Layer;

use super::{Classify, DEFAULT_ERROR_BODY_LIMIT};

/// Layer that applies [`Classify`].
#[derive(Debug, Clone, Copy)]
pub struct ClassifyLayer {
    limit: usize,
}

impl ClassifyLayer {
    /// A layer reading up to [`DEFAULT_ERROR_BODY_LIMIT`] bytes of error bodies.
    pub fn new() -> ClassifyLayer {
        ClassifyLayer {
            limit: DEFAULT_ERROR_BODY_LIMIT,
        }
    }

    /// Sets how much of an error body is read to classify it.
    pub fn limit(mut self, bytes: usize) -> ClassifyLayer {
        self.limit = bytes;
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
        Classify::new(inner, self.limit)
    }
}
