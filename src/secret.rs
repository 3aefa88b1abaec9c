//! Secrets that must never be printed, and the values derived from them.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// A secret string (access token or app secret). Its `Debug` and `Display`
/// never show the value.
///
/// ```
/// use tower_whatsapp_auth::Secret;
/// let s = Secret::new("EAAG-very-secret");
/// assert_eq!(format!("{s:?} {s}"), "Secret(***) ***");
/// assert_eq!(s.expose(), "EAAG-very-secret");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret value. Call sites are the places a secret leaves the crate.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// A masked form safe to print: the first four characters and the length,
    /// e.g. `EAAG…(212 chars)`.
    pub fn masked(&self) -> String {
        let head: String = self.0.chars().take(4).collect();
        format!("{head}…({} chars)", self.0.chars().count())
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Secret {
        Secret::new(value)
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Secret {
        Secret(value)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// `appsecret_proof` for a token: lower-case hex of HMAC-SHA256 keyed with
/// the app secret over the access token.
///
/// ```
/// use tower_whatsapp_auth::{appsecret_proof, Secret};
/// let proof = appsecret_proof(&Secret::new("app-secret"), &Secret::new("token"));
/// assert_eq!(proof.len(), 64);
/// ```
pub fn appsecret_proof(app_secret: &Secret, token: &Secret) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(app_secret.expose().as_bytes())
        .expect("HMAC-SHA256 takes keys of any length");
    mac.update(token.expose().as_bytes());
    let digest = mac.finalize().into_bytes();
    let mut hex = String::with_capacity(digest.len() * 2);
    for byte in digest {
        hex.push(HEX[(byte >> 4) as usize] as char);
        hex.push(HEX[(byte & 0xf) as usize] as char);
    }
    hex
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// URL and form parameters whose values are secrets.
const SECRET_PARAMS: [&str; 6] = [
    "appsecret_proof",
    "access_token",
    "client_secret",
    "fb_exchange_token",
    "input_token",
    "code",
];

/// `text` with every value in `secrets` and the value of every
/// secret-bearing parameter (`appsecret_proof=…`, `access_token=…`, …)
/// replaced by `***`: for text the crate did not write (a client's error
/// that quotes a URL).
pub(crate) fn redact(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_owned();
    for secret in secrets.iter().filter(|s| s.len() >= 4) {
        out = out.replace(secret, "***");
    }
    for name in SECRET_PARAMS {
        let mut from = 0;
        while let Some(at) = out[from..].find(name).map(|i| i + from) {
            let end_name = at + name.len();
            let starts_param =
                at == 0 || matches!(out.as_bytes()[at - 1], b'?' | b'&' | b' ' | b'(');
            if !(starts_param && out[end_name..].starts_with('=')) {
                from = end_name;
                continue;
            }
            let value = end_name + 1;
            let len = out[value..]
                .find(|c: char| {
                    c == '&' || c == ')' || c == '"' || c == '\'' || c == '#' || c.is_whitespace()
                })
                .unwrap_or(out.len() - value);
            out.replace_range(value..value + len, "***");
            from = value + 3;
        }
    }
    out
}

/// Appends `name=value` to an `application/x-www-form-urlencoded` string.
pub(crate) fn form_pair(out: &mut String, name: &str, value: &str) {
    if !out.is_empty() {
        out.push('&');
    }
    percent_encode(out, name);
    out.push('=');
    percent_encode(out, value);
}

fn percent_encode(out: &mut String, value: &str) {
    for &b in value.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            _ => {
                out.push('%');
                out.push(HEX[(b >> 4) as usize].to_ascii_uppercase() as char);
                out.push(HEX[(b & 0xf) as usize].to_ascii_uppercase() as char);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proof_matches_rfc4231_style_vector() {
        // HMAC-SHA256(key="key", msg="The quick brown fox jumps over the lazy dog")
        let proof = appsecret_proof(
            &Secret::new("key"),
            &Secret::new("The quick brown fox jumps over the lazy dog"),
        );
        assert_eq!(
            proof,
            "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
        );
    }

    #[test]
    fn form_encoding_escapes_reserved_bytes() {
        let mut s = String::new();
        form_pair(&mut s, "grant_type", "fb_exchange_token");
        form_pair(&mut s, "client_secret", "a b&c=d/é");
        assert_eq!(
            s,
            "grant_type=fb_exchange_token&client_secret=a%20b%26c%3Dd%2F%C3%A9"
        );
    }

    #[test]
    fn redaction_takes_out_known_values_and_secret_parameters() {
        let cases = [
            (
                "error sending request for url (http://h/v25.0/1/messages?appsecret_proof=ab12&x=1)",
                "error sending request for url (http://h/v25.0/1/messages?appsecret_proof=***&x=1)",
            ),
            (
                "GET /oauth/access_token?client_id=1&client_secret=s3&fb_exchange_token=EAAG1 failed",
                "GET /oauth/access_token?client_id=1&client_secret=***&fb_exchange_token=*** failed",
            ),
            ("token EAAG-secret-token in text", "token *** in text"),
            ("the app secret app-s3cret leaked", "the app secret *** leaked"),
            ("a barcode=1 and xcode=2 stay", "a barcode=1 and xcode=2 stay"),
            ("?input_token=EAAG#frag", "?input_token=***#frag"),
            ("access_token=", "access_token=***"),
        ];
        for (text, want) in cases {
            assert_eq!(
                redact(text, &["EAAG-secret-token", "app-s3cret"]),
                want,
                "{text}"
            );
        }
    }

    #[test]
    fn masked_shows_only_a_prefix_and_length() {
        let s = Secret::new("EAAGabcdefghijkl");
        assert_eq!(s.masked(), "EAAG…(16 chars)");
    }
}
