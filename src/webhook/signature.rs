//! Meta's webhook signature: `X-Hub-Signature-256: sha256=<hex>`, the
//! lower-case hex HMAC-SHA256 of the raw request body keyed with the app
//! secret ("We sign all Event Notification payloads with a SHA256 signature
//! and include the signature in the request's X-Hub-Signature-256 header,
//! preceded with sha256=": Meta's Webhooks guide, "Validating Payloads").
//! Meta signs the body exactly as sent (with its `\uXXXX` escapes), so the
//! check runs on the bytes received, before any parsing.

use hmac::{Hmac, Mac};
use http::HeaderMap;
use sha2::Sha256;

use crate::secret::Secret;

/// The signature header's name.
pub const SIGNATURE_HEADER: &str = "x-hub-signature-256";

/// Why a delivery's signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// No `X-Hub-Signature-256` header (a `X-Hub-Signature: sha1=…` alone
    /// does not count: SHA-1 is not accepted).
    #[error("missing X-Hub-Signature-256 header")]
    Missing,
    /// The header is not `sha256=` followed by 64 hex digits.
    #[error("malformed X-Hub-Signature-256 header")]
    Malformed,
    /// No configured app secret signs this body.
    #[error("signature does not match")]
    Mismatch,
    /// No app secret is configured (only empty ones): anyone can compute
    /// an HMAC with an empty key, so every delivery is refused.
    #[error("no app secret configured (it is empty): every delivery is refused")]
    NoSecret,
}

/// `sha256=<hex>` for `body` signed with `app_secret`: what Meta sends.
///
/// ```
/// use tower_whatsapp_auth::{webhook::sign, Secret};
/// assert_eq!(
///     sign(&Secret::new("secret"), b"test"),
///     "sha256=0329a06b62cd16b33eb6792be8c60b158d89a2ee3a876fce9a881ebb488c0914"
/// );
/// ```
pub fn sign(app_secret: &Secret, body: &[u8]) -> String {
    let digest = mac(app_secret, body).finalize().into_bytes();
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256=");
    for byte in digest {
        out.push(char::from(b"0123456789abcdef"[usize::from(byte >> 4)]));
        out.push(char::from(b"0123456789abcdef"[usize::from(byte & 0xf)]));
    }
    out
}

fn mac(secret: &Secret, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes())
        .expect("HMAC-SHA256 takes keys of any length");
    mac.update(body);
    mac
}

/// Checks that `headers` carry a signature of `body` by one of `secrets`
/// (several while a secret is rotated). The comparison is constant-time.
///
/// ```
/// use http::HeaderMap;
/// use tower_whatsapp_auth::{webhook::{sign, verify_signature, SignatureError}, Secret};
/// let secret = Secret::new("app-secret");
/// let body = br#"{"object":"whatsapp_business_account","entry":[]}"#;
/// let mut headers = HeaderMap::new();
/// headers.insert("x-hub-signature-256", sign(&secret, body).parse().unwrap());
/// assert_eq!(verify_signature(&[secret.clone()], &headers, body), Ok(()));
/// assert_eq!(verify_signature(&[secret], &headers, b"{}"), Err(SignatureError::Mismatch));
/// ```
pub fn verify_signature(
    secrets: &[Secret],
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), SignatureError> {
    // An empty key signs for anyone: it never vouches for a delivery.
    if secrets.iter().all(|s| s.expose().is_empty()) {
        return Err(SignatureError::NoSecret);
    }
    let value = headers
        .get(SIGNATURE_HEADER)
        .ok_or(SignatureError::Missing)?;
    let hex = value
        .as_bytes()
        .strip_prefix(b"sha256=")
        .ok_or(SignatureError::Malformed)?;
    let expected = decode_hex(hex).ok_or(SignatureError::Malformed)?;
    // Every secret is tried, so the time does not tell which one matched.
    let matched = secrets.iter().fold(false, |found, secret| {
        (!secret.expose().is_empty() && mac(secret, body).verify_slice(&expected).is_ok()) | found
    });
    matched.then_some(()).ok_or(SignatureError::Mismatch)
}

/// 64 hex digits (either case) as 32 bytes.
fn decode_hex(hex: &[u8]) -> Option<[u8; 32]> {
    if hex.len() != 64 {
        return None;
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    let mut out = [0u8; 32];
    for (i, pair) in hex.chunks(2).enumerate() {
        out[i] = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An empty app secret signs for anyone (an HMAC with an empty key is
    /// anyone's to compute): it never vouches for a delivery, alone or
    /// beside a real one.
    #[test]
    fn an_empty_secret_accepts_nothing() {
        let body = br#"{"object":"whatsapp_business_account"}"#;
        let forged = with(&sign(&Secret::new(""), body));
        assert_eq!(
            verify_signature(&[Secret::new("")], &forged, body),
            Err(SignatureError::NoSecret)
        );
        let both = [Secret::new(""), Secret::new("real")];
        assert_eq!(
            verify_signature(&both, &forged, body),
            Err(SignatureError::Mismatch)
        );
        let signed = with(&sign(&Secret::new("real"), body));
        assert_eq!(verify_signature(&both, &signed, body), Ok(()));
    }

    fn with(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(SIGNATURE_HEADER, value.parse().unwrap());
        headers
    }

    /// The pair from pywa's test suite (tests/test_server.py,
    /// test_webhook_updates_validator), a real delivery's body, signature
    /// and (since reset) app secret.
    #[test]
    fn a_captured_delivery_verifies() {
        let fixtures: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/fixtures/webhooks.json")).unwrap();
        let pair = fixtures
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f.get("signature_header").is_some())
            .unwrap();
        let secret = Secret::new(pair["secret"].as_str().unwrap());
        let body = pair["body_text"].as_str().unwrap().as_bytes();
        let header = pair["signature_header"].as_str().unwrap();
        assert_eq!(sign(&secret, body), header);
        assert_eq!(verify_signature(&[secret], &with(header), body), Ok(()));
    }

    #[test]
    fn every_way_of_being_wrong_is_refused() {
        let secret = Secret::new("app-secret");
        let body = b"{\"entry\":[]}";
        let good = sign(&secret, body);
        let flipped_body = b"{\"entry\":[}}";
        let mut flipped_sig = good.clone().into_bytes();
        flipped_sig[20] = if flipped_sig[20] == b'0' { b'1' } else { b'0' };
        let flipped_sig = String::from_utf8(flipped_sig).unwrap();
        let secrets = [secret.clone()];
        let check = |headers: &HeaderMap, body: &[u8]| verify_signature(&secrets, headers, body);
        assert_eq!(check(&with(&good), body), Ok(()));
        assert_eq!(
            check(
                &with(&good.to_uppercase().replace("SHA256=", "sha256=")),
                body
            ),
            Ok(())
        );
        assert_eq!(
            check(&with(&good), flipped_body),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            check(&with(&flipped_sig), body),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(check(&HeaderMap::new(), body), Err(SignatureError::Missing));
        let mut sha1_only = HeaderMap::new();
        sha1_only.insert(
            "x-hub-signature",
            "sha1=0123456789abcdef0123456789abcdef01234567"
                .parse()
                .unwrap(),
        );
        assert_eq!(check(&sha1_only, body), Err(SignatureError::Missing));
        for malformed in [
            "sha1=abcd",
            "sha256=",
            "sha256=xyz",
            &good[7..],
            &format!("{good}00"),
        ] {
            assert_eq!(
                check(&with(malformed), body),
                Err(SignatureError::Malformed),
                "{malformed}"
            );
        }
        let other = sign(&Secret::new("other-secret"), body);
        assert_eq!(check(&with(&other), body), Err(SignatureError::Mismatch));
        // During a rotation both secrets are accepted.
        let both = [secret.clone(), Secret::new("other-secret")];
        assert_eq!(verify_signature(&both, &with(&other), body), Ok(()));
        assert_eq!(
            verify_signature(&both, &with(&sign(&secret, body)), body),
            Ok(())
        );
        // A signature several configured secrets match (the same secret set
        // twice mid-rotation) is still accepted: any match is a match.
        let twice = [secret.clone(), secret.clone()];
        assert_eq!(
            verify_signature(&twice, &with(&sign(&secret, body)), body),
            Ok(())
        );
        // No secret at all vouches for nothing, and says so.
        assert_eq!(
            verify_signature(&[], &with(&other), body),
            Err(SignatureError::NoSecret)
        );
    }
}
