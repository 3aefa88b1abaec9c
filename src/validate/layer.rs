//! [`ValidateIfNeededLayer`].

use tower_layer::Layer;

use super::ValidateIfNeeded;
use crate::token::TokenCell;

/// Layer that applies [`ValidateIfNeeded`].
#[derive(Debug, Clone)]
pub struct ValidateIfNeededLayer {
    cell: TokenCell,
}

impl ValidateIfNeededLayer {
    /// Makes ready and stamps the token held by `cell`.
    pub fn new(cell: TokenCell) -> ValidateIfNeededLayer {
        ValidateIfNeededLayer { cell }
    }
}

impl<S> Layer<S> for ValidateIfNeededLayer {
    type Service = ValidateIfNeeded<S>;
    fn layer(&self, inner: S) -> ValidateIfNeeded<S> {
        ValidateIfNeeded::new(inner, self.cell.clone())
    }
}
