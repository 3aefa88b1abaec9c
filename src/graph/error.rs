//! [`GraphError`]: a Graph API error answer, parsed leniently from any bytes.
//!
//! Graph answers failures with `{"error":{"message","type","code",
//! "error_subcode","error_user_title","error_user_msg","error_data",
//! "is_transient","fbtrace_id"}}`. [`GraphError::parse`] reads that shape
//! (HTML, truncated JSON and garbage give `None`, never a panic), and
//! [`GraphError::kind`] decides what it means from the code, the subcode,
//! `is_transient` and Graph's stable message phrases: never from the HTTP
//! status, the `WWW-Authenticate` header or the `type` field, which Graph
//! also uses for rate limits.
//!
//! ```
//! use http::StatusCode;
//! use tower_whatsapp_auth::graph::{ErrorKind, GraphError};
//!
//! let body = br#"{"error":{"message":"Error validating access token: Session has expired",
//!   "type":"OAuthException","code":190,"error_subcode":463,"fbtrace_id":"AbC"}}"#;
//! let err = GraphError::parse(StatusCode::UNAUTHORIZED, body).unwrap();
//! assert_eq!(err.kind(), ErrorKind::TokenExpired);
//! assert_eq!(err.subcode(), Some(463));
//! assert!(err.hint().contains("ahead of expiry"));
//!
//! // A rate limit is an OAuthException too, and is still not an auth error.
//! let body = br#"{"error":{"message":"(#130429) Rate limit hit","type":"OAuthException","code":130429}}"#;
//! let err = GraphError::parse(StatusCode::BAD_REQUEST, body).unwrap();
//! assert_eq!(err.kind(), ErrorKind::RateLimited);
//! assert!(!err.kind().is_auth());
//!
//! // What WhatsApp says about the request itself is kept and shown.
//! let body = br#"{"error":{"message":"(#100) Invalid parameter","type":"OAuthException","code":100,
//!   "error_data":{"messaging_product":"whatsapp","details":"Parameter 'text' is mandatory for type 'text'"}}}"#;
//! let err = GraphError::parse(StatusCode::BAD_REQUEST, body).unwrap();
//! assert_eq!(err.details(), Some("Parameter 'text' is mandatory for type 'text'"));
//! assert!(err.to_string().contains("Parameter 'text' is mandatory"));
//! ```

use std::fmt;
use std::sync::Arc;

use http::StatusCode;

use super::kind::{
    app_token_refusal, hint, kind_of, misconfiguration, ErrorKind, Misconfiguration,
};
use super::parse::{clean, Payload};

/// A Graph API error answer, parsed from the response body.
///
/// Messages are stored with anything that looks like an access token
/// redacted, because Graph quotes malformed tokens back in its messages.
#[derive(Clone, PartialEq, Eq)]
pub struct GraphError {
    // Shared, so the error a refresh failure leaves behind is cheap to hand
    // to every waiting request.
    inner: Arc<Fields>,
}

#[derive(PartialEq, Eq)]
struct Fields {
    status: StatusCode,
    code: i64,
    subcode: Option<i64>,
    error_type: String,
    message: String,
    fbtrace_id: Option<String>,
    user_title: Option<String>,
    user_message: Option<String>,
    details: Option<String>,
    is_transient: bool,
    misconfiguration: Option<Misconfiguration>,
    /// A remediation that fits the stack's configuration, replacing the
    /// generic [`hint`].
    advice: Option<Arc<str>>,
}

impl GraphError {
    /// Parses a Graph error body. Returns `None` for anything that is not a
    /// JSON object with an `error` object carrying a code (an integer, a
    /// numeric string, or the `(#N)` Graph puts at the head of messages).
    pub fn parse(status: StatusCode, body: &[u8]) -> Option<GraphError> {
        let p = Payload::read(body)?;
        let message = p.message.unwrap_or_default();
        let code = p.code.as_ref().and_then(|c| c.value()).or_else(|| {
            // Old and logged bodies sometimes carry the code only as "(#N)".
            message.strip_prefix("(#")?.split(')').next()?.parse().ok()
        })?;
        Some(GraphError::build(Fields {
            status,
            code,
            subcode: p.error_subcode.as_ref().and_then(|c| c.value()),
            error_type: clean(p.error_type.unwrap_or_default()),
            misconfiguration: misconfiguration(code, &message),
            message: clean(message),
            // A trace id is never a token, and users quote it to Meta
            // support as it is: capped, not redacted.
            fbtrace_id: p.fbtrace_id.map(super::parse::cap),
            user_title: p.error_user_title.map(clean),
            user_message: p.error_user_msg.map(clean),
            details: p.details.map(clean),
            is_transient: p.is_transient,
            advice: None,
        }))
    }

    /// Builds an error by hand, e.g. for tests or fakes.
    pub fn new(status: StatusCode, code: i64, subcode: Option<i64>, message: &str) -> GraphError {
        GraphError::build(Fields {
            status,
            code,
            subcode,
            error_type: "OAuthException".to_owned(),
            misconfiguration: misconfiguration(code, message),
            message: clean(message.to_owned()),
            fbtrace_id: None,
            user_title: None,
            user_message: None,
            details: None,
            is_transient: false,
            advice: None,
        })
    }

    fn build(fields: Fields) -> GraphError {
        GraphError {
            inner: Arc::new(fields),
        }
    }

    fn with(&self, change: impl FnOnce(&mut Fields)) -> GraphError {
        let f = &*self.inner;
        let mut fields = Fields {
            status: f.status,
            code: f.code,
            subcode: f.subcode,
            error_type: f.error_type.clone(),
            message: f.message.clone(),
            fbtrace_id: f.fbtrace_id.clone(),
            user_title: f.user_title.clone(),
            user_message: f.user_message.clone(),
            details: f.details.clone(),
            is_transient: f.is_transient,
            misconfiguration: f.misconfiguration,
            advice: f.advice.clone(),
        };
        change(&mut fields);
        GraphError::build(fields)
    }

    /// The same error, read as Graph refusing the app token `app_id|app_secret`
    /// (a top-level error on `/debug_token`): a configuration mistake.
    pub(crate) fn refusing_app_token(&self) -> GraphError {
        let found = app_token_refusal(self.code(), self.message());
        self.with(|f| f.misconfiguration = found.or(f.misconfiguration))
    }

    /// An error `/debug_token` reports about the token it inspected (in its
    /// `data.error`, under HTTP 200): whatever the message says of an
    /// application, it is the inspected token that is bad, not the app's
    /// configuration.
    pub(crate) fn about_inspected_token(
        code: i64,
        subcode: Option<i64>,
        message: &str,
    ) -> GraphError {
        GraphError::new(StatusCode::OK, code, subcode, message).with(|f| f.misconfiguration = None)
    }

    /// Whether Graph refused a POST as a method the node does not support
    /// (code 100, subcode 33, "Unsupported post request").
    pub(crate) fn is_unsupported_post(&self) -> bool {
        self.subcode() == Some(33)
            || self
                .message()
                .to_ascii_lowercase()
                .contains("unsupported post request")
    }

    /// The error `/debug_token` reports about the token it inspected, from
    /// its `data.error` object (`code`, `subcode`, `message`; a 190 when
    /// the code is missing).
    pub(crate) fn inspected_token(error: &serde_json::Value) -> GraphError {
        let int = |v: Option<&serde_json::Value>| {
            v.and_then(|v| v.as_i64().or_else(|| v.as_str()?.parse().ok()))
        };
        let code = int(error.get("code")).unwrap_or(190);
        let subcode = int(error.get("subcode")).or_else(|| int(error.get("error_subcode")));
        let message = error.get("message").and_then(|m| m.as_str()).unwrap_or("");
        GraphError::about_inspected_token(code, subcode, message)
    }

    /// The same error with WhatsApp's `error_data.details`.
    #[cfg_attr(not(feature = "webhook"), allow(dead_code))]
    pub(crate) fn with_details(&self, details: Option<&str>) -> GraphError {
        self.with(|f| f.details = details.map(|d| super::parse::clean(d.to_owned())))
    }

    /// The same error with a remediation that fits the configuration.
    pub(crate) fn advised(&self, advice: &str) -> GraphError {
        self.with(|f| f.advice = Some(Arc::from(advice)))
    }

    /// The HTTP status Graph answered with.
    pub fn status(&self) -> StatusCode {
        self.inner.status
    }
    /// Graph's `code`.
    pub fn code(&self) -> i64 {
        self.inner.code
    }
    /// Graph's `error_subcode`, when present.
    pub fn subcode(&self) -> Option<i64> {
        self.inner.subcode
    }
    /// Graph's `type` (e.g. `OAuthException`). Informational only.
    pub fn error_type(&self) -> &str {
        &self.inner.error_type
    }
    /// Graph's `message`, with token-like words redacted.
    pub fn message(&self) -> &str {
        &self.inner.message
    }
    /// Graph's `fbtrace_id`, to quote to Meta support.
    pub fn fbtrace_id(&self) -> Option<&str> {
        self.inner.fbtrace_id.as_deref()
    }
    /// Graph's `error_user_title`, when present.
    pub fn user_title(&self) -> Option<&str> {
        self.inner.user_title.as_deref()
    }
    /// Graph's `error_user_msg`, when present.
    pub fn user_message(&self) -> Option<&str> {
        self.inner.user_message.as_deref()
    }
    /// WhatsApp's `error_data.details`: what exactly is wrong with the
    /// request ("Parameter 'text' is mandatory for type 'text'", "template
    /// name (x) does not exist in en_US"). Meta says to build error
    /// handling on the code and this.
    pub fn details(&self) -> Option<&str> {
        self.inner.details.as_deref()
    }
    /// Graph's `is_transient`: the request may succeed if retried later.
    pub fn is_transient(&self) -> bool {
        self.inner.is_transient
    }
    /// What the error means; see [`ErrorKind`].
    pub fn kind(&self) -> ErrorKind {
        let f = &*self.inner;
        if f.misconfiguration.is_some() {
            return ErrorKind::Misconfigured;
        }
        kind_of(f.code, f.subcode, &f.message, f.is_transient)
    }
    /// For [`ErrorKind::Misconfigured`]: which setting Graph refused.
    pub fn misconfiguration(&self) -> Option<Misconfiguration> {
        self.inner.misconfiguration
    }
    /// What to do about it: a remediation that fits the stack's
    /// configuration when the stack raised the error, else Meta's
    /// documented remedy for the code.
    pub fn hint(&self) -> &str {
        let f = &*self.inner;
        if let Some(advice) = &f.advice {
            return advice;
        }
        match f.misconfiguration {
            Some(what) => what.fix(),
            None => hint(f.code, f.subcode),
        }
    }
}

impl fmt::Debug for GraphError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &*self.inner;
        f.debug_struct("GraphError")
            .field("status", &i.status.as_u16())
            .field("code", &i.code)
            .field("subcode", &i.subcode)
            .field("kind", &self.kind())
            .field("type", &i.error_type)
            .field("message", &i.message)
            .field("details", &i.details)
            .field("is_transient", &i.is_transient)
            .field("fbtrace_id", &i.fbtrace_id)
            .finish()
    }
}

impl fmt::Display for GraphError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &*self.inner;
        write!(f, "{} (code {}", self.kind(), i.code)?;
        if let Some(sub) = i.subcode {
            write!(f, ", subcode {sub}")?;
        }
        write!(f, ", HTTP {}", i.status.as_u16())?;
        if let Some(trace) = &i.fbtrace_id {
            write!(f, ", fbtrace_id {trace}")?;
        }
        write!(f, "): {}", i.message)?;
        match (&i.user_title, &i.user_message) {
            (Some(title), Some(msg)) => write!(f, " [{title}: {msg}]")?,
            (Some(text), None) | (None, Some(text)) => write!(f, " [{text}]")?,
            (None, None) => {}
        }
        if let Some(details) = &i.details {
            write!(f, " ({details})")?;
        }
        write!(f, "; {}", self.hint())
    }
}

impl std::error::Error for GraphError {}

#[cfg(test)]
mod tests;
