//! Reading Graph error bodies: the lenient `error` object, and the
//! clean-up of the text kept from it (capped, token-like words redacted).

use serde::Deserialize;

#[derive(Deserialize)]
struct Envelope {
    error: Payload,
}

#[derive(Deserialize)]
pub(crate) struct Payload {
    #[serde(default)]
    pub(crate) message: Option<String>,
    #[serde(default, rename = "type")]
    pub(crate) error_type: Option<String>,
    pub(crate) code: Option<Number>,
    #[serde(default)]
    pub(crate) error_subcode: Option<Number>,
    #[serde(default)]
    pub(crate) fbtrace_id: Option<String>,
    #[serde(default)]
    pub(crate) error_user_title: Option<String>,
    #[serde(default)]
    pub(crate) error_user_msg: Option<String>,
    #[serde(default)]
    error_data: Option<serde_json::Value>,
    #[serde(default, rename = "is_transient")]
    transient: Option<serde_json::Value>,
    /// Filled from `error_data.details` by [`Payload::read`].
    #[serde(skip)]
    pub(crate) details: Option<String>,
    /// Filled from `is_transient` by [`Payload::read`].
    #[serde(skip)]
    pub(crate) is_transient: bool,
}

impl Payload {
    /// The `error` object of a Graph error body, if `body` is one.
    pub(crate) fn read(body: &[u8]) -> Option<Payload> {
        let first = body.iter().find(|b| !b.is_ascii_whitespace())?;
        if *first != b'{' {
            return None;
        }
        let envelope: Envelope = serde_json::from_slice(body).ok()?;
        let mut p = envelope.error;
        // `error_data` is an object with `details` on WhatsApp errors, and
        // other shapes (a string, a list) elsewhere: take what is there.
        p.details = match p.error_data.take() {
            Some(serde_json::Value::Object(data)) => data
                .get("details")
                .and_then(|d| d.as_str())
                .map(str::to_owned),
            Some(serde_json::Value::String(text)) if !text.is_empty() => Some(text),
            _ => None,
        };
        p.is_transient = match p.transient.take() {
            Some(serde_json::Value::Bool(b)) => b,
            Some(serde_json::Value::String(s)) => s.eq_ignore_ascii_case("true"),
            _ => false,
        };
        Some(p)
    }
}

/// Graph documents integer codes; some proxies and old SDK fakes send them as
/// strings. Accept both rather than dropping the error.
#[derive(Deserialize)]
#[serde(untagged)]
pub(crate) enum Number {
    Int(i64),
    Text(String),
}

impl Number {
    pub(crate) fn value(&self) -> Option<i64> {
        match self {
            Number::Int(n) => Some(*n),
            Number::Text(s) => s.trim().parse().ok(),
        }
    }
}

/// Longest message kept from Graph, so a hostile body cannot make every error
/// message megabytes long.
pub(crate) const MAX_TEXT: usize = 1024;

/// Caps the length, on a character boundary.
pub(crate) fn cap(mut text: String) -> String {
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
pub(crate) fn clean(text: String) -> String {
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
