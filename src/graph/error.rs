//! Graph API error payloads: parsing, classification and remediation hints.
//!
//! Graph answers failures with `{"error":{"message","type","code",
//! "error_subcode","fbtrace_id",…}}`. [`GraphError::parse`] reads that shape
//! leniently from any bytes (HTML, truncated JSON and garbage give `None`,
//! never a panic), and [`GraphError::kind`] decides what the error means from
//! the numeric `code` and `error_subcode` only: never from the HTTP status,
//! the `WWW-Authenticate` header or the `type` field, which Graph also uses
//! for rate limits.
//!
//! ```
//! use http::StatusCode;
//! use tower_whatsapp_auth::{ErrorKind, GraphError};
//!
//! let body = br#"{"error":{"message":"Error validating access token: Session has expired",
//!   "type":"OAuthException","code":190,"error_subcode":463,"fbtrace_id":"AbC"}}"#;
//! let err = GraphError::parse(StatusCode::UNAUTHORIZED, body).unwrap();
//! assert_eq!(err.kind(), ErrorKind::TokenExpired);
//! assert_eq!(err.subcode(), Some(463));
//! assert!(err.hint().contains("fb_exchange_token"));
//!
//! // A rate limit is an OAuthException too, and is still not an auth error.
//! let body = br#"{"error":{"message":"(#130429) Rate limit hit","type":"OAuthException","code":130429}}"#;
//! let err = GraphError::parse(StatusCode::BAD_REQUEST, body).unwrap();
//! assert_eq!(err.kind(), ErrorKind::RateLimited);
//! assert!(!err.kind().is_auth());
//! ```

use std::fmt;
use std::sync::Arc;

use http::StatusCode;
use serde::Deserialize;

use super::kind::{classify, hint, ErrorKind};

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
}

#[derive(Deserialize)]
struct Envelope {
    error: Payload,
}

#[derive(Deserialize)]
struct Payload {
    #[serde(default)]
    message: Option<String>,
    #[serde(default, rename = "type")]
    error_type: Option<String>,
    code: Option<Number>,
    #[serde(default)]
    error_subcode: Option<Number>,
    #[serde(default)]
    fbtrace_id: Option<String>,
    #[serde(default)]
    error_user_title: Option<String>,
    #[serde(default)]
    error_user_msg: Option<String>,
}

/// Graph documents integer codes; some proxies and old SDK fakes send them as
/// strings. Accept both rather than dropping the error.
#[derive(Deserialize)]
#[serde(untagged)]
enum Number {
    Int(i64),
    Text(String),
}

impl Number {
    fn value(&self) -> Option<i64> {
        match self {
            Number::Int(n) => Some(*n),
            Number::Text(s) => s.trim().parse().ok(),
        }
    }
}

/// Longest message kept from Graph, so a hostile body cannot make every error
/// message megabytes long.
const MAX_TEXT: usize = 1024;

impl GraphError {
    /// Parses a Graph error body. Returns `None` for anything that is not a
    /// JSON object with an `error` object carrying an integer `code`.
    pub fn parse(status: StatusCode, body: &[u8]) -> Option<GraphError> {
        let first = body.iter().find(|b| !b.is_ascii_whitespace())?;
        if *first != b'{' {
            return None;
        }
        let envelope: Envelope = serde_json::from_slice(body).ok()?;
        let p = envelope.error;
        let code = p.code.as_ref()?.value()?;
        Some(GraphError {
            inner: Arc::new(Fields {
                status,
                code,
                subcode: p.error_subcode.as_ref().and_then(Number::value),
                error_type: clean(p.error_type.unwrap_or_default()),
                message: clean(p.message.unwrap_or_default()),
                // A trace id is never a token, and users quote it to Meta
                // support as it is: capped, not redacted.
                fbtrace_id: p.fbtrace_id.map(cap),
                user_title: p.error_user_title.map(clean),
                user_message: p.error_user_msg.map(clean),
            }),
        })
    }

    /// Builds an error by hand, e.g. for tests or fakes.
    pub fn new(status: StatusCode, code: i64, subcode: Option<i64>, message: &str) -> GraphError {
        GraphError {
            inner: Arc::new(Fields {
                status,
                code,
                subcode,
                error_type: "OAuthException".to_owned(),
                message: clean(message.to_owned()),
                fbtrace_id: None,
                user_title: None,
                user_message: None,
            }),
        }
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
    /// What the error means; see [`classify`].
    pub fn kind(&self) -> ErrorKind {
        classify(self.inner.code, self.inner.subcode)
    }
    /// What to do about it; see [`hint`].
    pub fn hint(&self) -> &'static str {
        hint(self.inner.code, self.inner.subcode)
    }
}

impl fmt::Debug for GraphError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GraphError")
            .field("status", &self.inner.status.as_u16())
            .field("code", &self.inner.code)
            .field("subcode", &self.inner.subcode)
            .field("kind", &self.kind())
            .field("type", &self.inner.error_type)
            .field("message", &self.inner.message)
            .field("fbtrace_id", &self.inner.fbtrace_id)
            .finish()
    }
}

impl fmt::Display for GraphError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (code {}", self.kind(), self.inner.code)?;
        if let Some(sub) = self.inner.subcode {
            write!(f, ", subcode {sub}")?;
        }
        write!(f, ", HTTP {}", self.inner.status.as_u16())?;
        if let Some(trace) = &self.inner.fbtrace_id {
            write!(f, ", fbtrace_id {trace}")?;
        }
        write!(f, "): {}; {}", self.inner.message, self.hint())
    }
}

impl std::error::Error for GraphError {}

/// Caps the length, on a character boundary.
fn cap(mut text: String) -> String {
    if text.len() > MAX_TEXT {
        let mut end = MAX_TEXT;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

/// Caps the length and redacts words that look like access tokens: Graph
/// quotes malformed tokens back ("Malformed access token EAAG…").
fn clean(text: String) -> String {
    let text = cap(text);
    if !text.split(is_separator).any(looks_like_token) {
        return text;
    }
    let mut out = String::with_capacity(text.len());
    let mut word_start = 0;
    for (i, c) in text
        .char_indices()
        .chain(std::iter::once((text.len(), ' ')))
    {
        if is_separator(c) {
            let word = &text[word_start..i];
            out.push_str(if looks_like_token(word) {
                "[redacted]"
            } else {
                word
            });
            if i < text.len() {
                out.push(c);
            }
            word_start = i + c.len_utf8();
        }
    }
    out
}

fn is_separator(c: char) -> bool {
    c.is_whitespace() || matches!(c, '"' | '\'' | ',' | ';' | ':' | '(' | ')' | '[' | ']')
}

/// Graph user, page and system-user tokens start with `EAA`; other long
/// unbroken alphanumeric runs are treated as secrets too.
fn looks_like_token(word: &str) -> bool {
    let alnum = word
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'|' | b'.'));
    alnum && ((word.starts_with("EAA") && word.len() >= 16) || word.len() >= 40)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Option<GraphError> {
        GraphError::parse(StatusCode::BAD_REQUEST, body.as_bytes())
    }

    #[test]
    fn parses_the_documented_shape() {
        let e = parse(
            r#"{"error":{"message":"Error validating access token","type":"OAuthException",
            "code":190,"error_subcode":460,"error_user_title":"t","error_user_msg":"m",
            "error_data":{"messaging_product":"whatsapp","details":"d"},"fbtrace_id":"AbCd"}}"#,
        )
        .unwrap();
        assert_eq!(e.code(), 190);
        assert_eq!(e.subcode(), Some(460));
        assert_eq!(e.kind(), ErrorKind::TokenRevoked);
        assert_eq!(e.fbtrace_id(), Some("AbCd"));
        assert_eq!(e.user_title(), Some("t"));
        assert_eq!(e.error_type(), "OAuthException");
    }

    #[test]
    fn optional_fields_may_be_missing_and_codes_may_be_strings() {
        let e = parse(r#"{"error":{"code":"10"}}"#).unwrap();
        assert_eq!(e.kind(), ErrorKind::PermissionMissing);
        assert_eq!(e.fbtrace_id(), None);
        assert_eq!(e.message(), "");
    }

    #[test]
    fn non_errors_are_none() {
        for body in [
            "",
            "   ",
            "<html><body>502 Bad Gateway</body></html>",
            r#"{"error":{"message":"no code"}}"#,
            r#"{"error":"string"}"#,
            r#"{"data":[]}"#,
            r#"{"error":{"code":190"#,
            "[1,2,3]",
            r#"{"error":{"code":1.5}}"#,
        ] {
            assert!(parse(body).is_none(), "{body:?}");
        }
    }

    #[test]
    fn token_like_words_are_redacted_from_messages() {
        let token = "EAAGm0PX4ZCpsBAKZCsomethingLONGandSECRET123";
        let e = parse(&format!(
            r#"{{"error":{{"message":"Malformed access token {token}.","code":190}}}}"#
        ))
        .unwrap();
        assert!(!e.message().contains(token), "{}", e.message());
        assert!(e.message().starts_with("Malformed access token [redacted]"));
        assert!(!format!("{e} {e:?}").contains(token));
        // Ordinary prose is untouched.
        let e = parse(r#"{"error":{"message":"(#10) Permission denied","code":10}}"#).unwrap();
        assert_eq!(e.message(), "(#10) Permission denied");
    }

    #[test]
    fn trace_ids_are_kept_even_when_they_look_like_tokens() {
        // Found by the soak: a trace id starting with EAA was redacted.
        let e =
            parse(r#"{"error":{"code":0,"message":"","fbtrace_id":"EAAA_A-0AA000_00"}}"#).unwrap();
        assert_eq!(e.fbtrace_id(), Some("EAAA_A-0AA000_00"));
    }

    #[test]
    fn huge_messages_are_capped_on_a_char_boundary() {
        let msg = "é".repeat(10_000);
        let e = parse(&format!(r#"{{"error":{{"message":"{msg}","code":1}}}}"#)).unwrap();
        assert!(e.message().len() <= MAX_TEXT + '…'.len_utf8());
    }

    #[test]
    fn display_names_kind_code_and_hint() {
        let e = GraphError::new(StatusCode::UNAUTHORIZED, 190, Some(463), "expired");
        let shown = e.to_string();
        assert!(shown.contains("token expired (code 190, subcode 463, HTTP 401)"));
        assert!(shown.contains("fb_exchange_token"));
    }
}
