//! Errors a delivery carries: of a change, a status, a message or a group
//! event, each convertible to a classified [`GraphError`].

use http::StatusCode;
use serde::Deserialize;

use super::lenient::{number, opt_text};
use crate::graph::GraphError;

/// An error in a delivery: why a message failed (`statuses[].errors`), why
/// an incoming message could not be read (`messages[].errors`), or a
/// problem not tied to a message (`value.errors`).
///
/// ```
/// use tower_whatsapp_auth::webhook::WebhookError;
/// use tower_whatsapp_auth::graph::ErrorKind;
///
/// let error: WebhookError = serde_json::from_str(r#"{"code":"130429","title":"Rate limit hit",
///     "error_data":{"details":"Cloud API message throughput has been reached."}}"#)?;
/// assert_eq!(error.code, 130429);
/// let graph = error.to_graph_error();
/// assert_eq!(graph.kind(), ErrorKind::RateLimited);
/// assert_eq!(graph.details(), Some("Cloud API message throughput has been reached."));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct WebhookError {
    /// Graph's code (a number, or one written as a string).
    #[serde(default, deserialize_with = "number")]
    pub code: i64,
    /// A short title.
    #[serde(default, deserialize_with = "opt_text")]
    pub title: Option<String>,
    /// The message.
    #[serde(default, deserialize_with = "opt_text")]
    pub message: Option<String>,
    /// `error_data`, with `details`.
    #[serde(default, deserialize_with = "super::lenient::object")]
    pub error_data: Option<ErrorData>,
    /// Meta's page on the code.
    #[serde(default, deserialize_with = "opt_text")]
    pub href: Option<String>,
}

/// `error_data` of a [`WebhookError`].
///
/// ```
/// use tower_whatsapp_auth::webhook::ErrorData;
///
/// let data: ErrorData = serde_json::from_str(r#"{"details":"Message type is currently not supported."}"#)?;
/// assert_eq!(data.details.as_deref(), Some("Message type is currently not supported."));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct ErrorData {
    /// What exactly went wrong.
    #[serde(default, deserialize_with = "opt_text")]
    pub details: Option<String>,
}

impl WebhookError {
    /// As a [`GraphError`], classified and hinted like any other.
    pub fn to_graph_error(&self) -> GraphError {
        let message = self
            .message
            .as_deref()
            .or(self.title.as_deref())
            .unwrap_or("");
        let details = self.error_data.as_ref().and_then(|d| d.details.as_deref());
        GraphError::new(StatusCode::OK, self.code, None, message).with_details(details)
    }
}
