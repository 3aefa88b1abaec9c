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

/// What a Graph error means for the caller, decided from its code and subcode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Code 190, subcode 463: the token expired. Refreshable while the
    /// refresh can still authenticate (see `fb_exchange_token`).
    TokenExpired,
    /// Code 190 without a known subcode or with 467, code 0 or 102: the token
    /// is malformed, logged out or unknown. A new token is needed.
    TokenInvalid,
    /// Code 190 with subcodes 458, 459, 460, 464, 492, 493: the session was
    /// revoked; a refresh with the same token will fail.
    TokenRevoked,
    /// Codes 3, 10 and 200–299: the token authenticates but lacks a permission.
    PermissionMissing,
    /// Codes 4, 17, 32, 613, 80007, 130429, 131056, 131048: back off and retry.
    RateLimited,
    /// Codes 1 and 2: a temporary Graph failure; retry later.
    Transient,
    /// Anything else (invalid parameter, policy block, locked account, …).
    Other,
}

impl ErrorKind {
    /// Whether the token itself was refused (expired, invalid or revoked).
    pub fn is_token_rejected(self) -> bool {
        matches!(
            self,
            ErrorKind::TokenExpired | ErrorKind::TokenInvalid | ErrorKind::TokenRevoked
        )
    }

    /// Whether this is an authentication or authorization failure: a rejected
    /// token or a missing permission. Rate limits and server errors are not.
    pub fn is_auth(self) -> bool {
        self.is_token_rejected() || self == ErrorKind::PermissionMissing
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorKind::TokenExpired => "token expired",
            ErrorKind::TokenInvalid => "token invalid",
            ErrorKind::TokenRevoked => "token revoked",
            ErrorKind::PermissionMissing => "permission missing",
            ErrorKind::RateLimited => "rate limited",
            ErrorKind::Transient => "transient Graph error",
            ErrorKind::Other => "Graph error",
        })
    }
}

/// Classifies a Graph `code` / `error_subcode` pair.
///
/// ```
/// use tower_whatsapp_auth::{classify, ErrorKind};
/// assert_eq!(classify(190, Some(460)), ErrorKind::TokenRevoked);
/// assert_eq!(classify(190, None), ErrorKind::TokenInvalid);
/// assert_eq!(classify(200, None), ErrorKind::PermissionMissing);
/// assert_eq!(classify(100, None), ErrorKind::Other);
/// ```
pub fn classify(code: i64, subcode: Option<i64>) -> ErrorKind {
    match code {
        190 => match subcode {
            Some(463) => ErrorKind::TokenExpired,
            Some(458 | 459 | 460 | 464 | 492 | 493) => ErrorKind::TokenRevoked,
            _ => ErrorKind::TokenInvalid,
        },
        0 | 102 => ErrorKind::TokenInvalid,
        3 | 10 | 200..=299 => ErrorKind::PermissionMissing,
        4 | 17 | 32 | 613 | 80007 | 130429 | 131056 | 131048 => ErrorKind::RateLimited,
        1 | 2 => ErrorKind::Transient,
        _ => ErrorKind::Other,
    }
}

/// The remediation for a code / subcode pair, as documented by Meta.
///
/// ```
/// assert!(tower_whatsapp_auth::hint(10, None).contains("whatsapp_business_messaging"));
/// ```
pub fn hint(code: i64, subcode: Option<i64>) -> &'static str {
    match (code, subcode) {
        (190, Some(463)) => "the access token expired: configure the app id and secret so it is renewed with grant_type=fb_exchange_token, or use a non-expiring system-user token",
        (190, Some(467)) => "the access token is invalid (malformed or logged out): generate a new token",
        (190, Some(460)) => "the session was invalidated (password changed): the user must log in again and a new token must be generated; a refresh will fail",
        (190, Some(458)) => "the app is not installed or was removed by the user: re-authorise the app and generate a new token",
        (190, Some(459)) => "the user is checkpointed: they must log in to Facebook to clear it, then generate a new token",
        (190, Some(464)) => "the user is unconfirmed: they must confirm their account, then generate a new token",
        (190, Some(492)) => "the session is invalid because the user lost their role on the app or business: restore the role, then generate a new token",
        (190, Some(493)) => "data access expired (no engagement for 90 days): the user must log in again to renew it",
        (190, _) => "invalid OAuth access token: check it for truncation or stray spaces and inspect it with /debug_token; generate a new one if needed",
        (0, _) => "Graph could not authenticate the app user: verify the token and regenerate it",
        (102, _) => "the API session is invalid: generate a new token",
        (3, _) => "the app lacks the capability for this call: add the WhatsApp product to the app and pass App Review for the permission",
        (10, _) => "permission denied: grant whatsapp_business_messaging (and whatsapp_business_management) to the token's user or system user",
        (200..=299, _) => "the token lacks the API permission named in the message: grant it (whatsapp_business_messaging, whatsapp_business_management or business_management) and regenerate the token",
        (4 | 17 | 32 | 613 | 80007, _) => "rate limited: back off and retry later (see the X-App-Usage and X-Business-Use-Case-Usage headers)",
        (130429, _) => "Cloud API throughput limit reached: slow down and retry later",
        (131056, _) => "too many messages to the same recipient: slow down for this pair",
        (131048, _) => "spam rate limit: check the phone number's quality rating before sending more",
        (1 | 2, _) => "temporary Graph failure: retry later",
        (100, _) => "invalid parameter: fix the request; if the message names appsecret_proof, check the app secret configured for this token",
        (368, _) => "temporarily blocked for policy violations: see Business Manager",
        (131031, _) => "the business account is locked: contact Meta support",
        _ => "see the message and fbtrace_id in Meta's error reference",
    }
}

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
    fn classification_follows_the_table() {
        let cases = [
            (190, Some(463), ErrorKind::TokenExpired),
            (190, Some(467), ErrorKind::TokenInvalid),
            (190, None, ErrorKind::TokenInvalid),
            (190, Some(999), ErrorKind::TokenInvalid),
            (0, None, ErrorKind::TokenInvalid),
            (102, None, ErrorKind::TokenInvalid),
            (3, None, ErrorKind::PermissionMissing),
            (10, None, ErrorKind::PermissionMissing),
            (200, None, ErrorKind::PermissionMissing),
            (299, None, ErrorKind::PermissionMissing),
            (300, None, ErrorKind::Other),
            (1, None, ErrorKind::Transient),
            (2, None, ErrorKind::Transient),
            (100, None, ErrorKind::Other),
            (368, None, ErrorKind::Other),
            (131031, None, ErrorKind::Other),
        ];
        for (code, sub, kind) in cases {
            assert_eq!(classify(code, sub), kind, "{code}/{sub:?}");
        }
        for sub in [458, 459, 460, 464, 492, 493] {
            assert_eq!(classify(190, Some(sub)), ErrorKind::TokenRevoked);
        }
        for code in [4, 17, 32, 613, 80007, 130429, 131056, 131048] {
            assert_eq!(classify(code, None), ErrorKind::RateLimited);
            assert!(!classify(code, None).is_auth());
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
