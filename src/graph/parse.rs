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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_capped_on_a_character_boundary() {
        let exact = "a".repeat(MAX_TEXT);
        assert_eq!(cap(exact.clone()), exact, "at the cap: kept whole");
        let over = "a".repeat(MAX_TEXT + 1);
        assert_eq!(cap(over), format!("{exact}…"));
        // Two-byte characters from byte 1: byte MAX_TEXT falls inside one.
        let wide = format!("a{}", "é".repeat(MAX_TEXT));
        let capped = cap(wide);
        assert_eq!(capped.len(), MAX_TEXT - 1 + "…".len(), "cut back, not on");
        assert!(capped.ends_with("é…"));
    }

    #[test]
    fn token_like_words_are_redacted_and_nothing_else() {
        // `.` may be part of a token (Graph's tokens can contain one), so a
        // token that ends a sentence takes the full stop with it.
        let eaa16 = format!("EAA{}", "b".repeat(13));
        let eaa15 = format!("EAA{}", "b".repeat(12));
        let run40 = "x".repeat(40);
        let run39 = "x".repeat(39);
        let not_alnum = format!("{}/{}", "x".repeat(30), "y".repeat(30));
        let cases = [
            (
                format!("Malformed access token {eaa16}"),
                "Malformed access token [redacted]".to_owned(),
            ),
            (
                format!("token \"{eaa16}\", again: {eaa16}."),
                "token \"[redacted]\", again: [redacted]".to_owned(),
            ),
            (format!("short {eaa15} kept"), format!("short {eaa15} kept")),
            (format!("id {run40}"), "id [redacted]".to_owned()),
            (format!("id {run39}"), format!("id {run39}")),
            (format!("path {not_alnum}"), format!("path {not_alnum}")),
            (format!("{eaa16} leads"), "[redacted] leads".to_owned()),
            ("plain words only".to_owned(), "plain words only".to_owned()),
        ];
        for (text, want) in cases {
            assert_eq!(clean(text.clone()), want, "{text}");
        }
    }

    #[test]
    fn error_data_and_is_transient_are_read_in_every_shape_seen() {
        let read = |extra: &str| {
            let body = format!(r#"{{"error":{{"message":"m","code":1{extra}}}}}"#);
            Payload::read(body.as_bytes()).unwrap()
        };
        let p = read(r#","error_data":{"details":"the parameter 'to'"}"#);
        assert_eq!(p.details.as_deref(), Some("the parameter 'to'"));
        let p = read(r#","error_data":"as text""#);
        assert_eq!(p.details.as_deref(), Some("as text"));
        assert_eq!(read(r#","error_data":"""#).details, None);
        assert_eq!(read(r#","error_data":["a"]"#).details, None);
        assert!(read(r#","is_transient":true"#).is_transient);
        assert!(read(r#","is_transient":"True""#).is_transient);
        assert!(!read(r#","is_transient":"false""#).is_transient);
        assert!(!read(r#","is_transient":1"#).is_transient);
        assert!(!read("").is_transient);
        assert!(Payload::read(b"  <html>").is_none());
        assert!(Payload::read(b"   ").is_none());
    }
}
