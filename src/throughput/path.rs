//! What a request is, for the shaper: the phone number a message send
//! goes from (`/{phone-number-id}/messages`, with or without a leading
//! `/vNN.N` version segment, absolute or bare), and its recipient (the
//! JSON body's `to`, else `recipient`).

use std::any::Any;

use bytes::Bytes;
use http::Uri;
use http_body_util::Full;
use serde::Deserialize;

use crate::body::{complete_body, ReplayBody};

/// The phone number id of a message send, or `None` for any other call.
pub(crate) fn message_sender(uri: &Uri) -> Option<&str> {
    crate::graph::path::message_sender(uri.path())
}

/// The bytes of a body the caller holds whole (`ReplayBody`, `Full<Bytes>`,
/// `Bytes`), sharing them; `None` for any other body.
pub(crate) fn body_bytes<B: Any>(body: &B) -> Option<Bytes> {
    let any: &dyn Any = body;
    if let Some(body) = any.downcast_ref::<ReplayBody>() {
        return body.as_bytes().cloned();
    }
    if let Some(body) = any.downcast_ref::<Full<Bytes>>() {
        return complete_body(body.clone()).ok()?.into_bytes().ok();
    }
    any.downcast_ref::<Bytes>().cloned()
}

#[derive(Deserialize)]
struct Addressed<'a> {
    #[serde(borrow, default)]
    to: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    recipient: Option<std::borrow::Cow<'a, str>>,
}

/// The recipient of a message body: `to` (which wins when both are
/// given, as Graph reads them), else `recipient`; `None` for a body that is
/// not a JSON object naming one.
pub(crate) fn recipient(body: &[u8]) -> Option<Box<str>> {
    // An object only (serde would also read a struct from an array).
    if body.trim_ascii_start().first() != Some(&b'{') {
        return None;
    }
    let addressed: Addressed<'_> = serde_json::from_slice(body).ok()?;
    let who = addressed.to.or(addressed.recipient)?;
    let who = who.trim();
    (!who.is_empty() && who.len() <= 256).then(|| who.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_sends_are_read_from_absolute_uris_too() {
        let sender = |uri: &str| message_sender(&uri.parse().unwrap()).map(str::to_owned);
        for uri in [
            "https://graph.facebook.com/v25.0/106540352242922/messages",
            "http://127.0.0.1:8080/v9/106540352242922/messages",
            "/v25.0/106540352242922/messages?appsecret_proof=ab",
        ] {
            assert_eq!(sender(uri).as_deref(), Some("106540352242922"), "{uri}");
        }
        assert_eq!(sender("https://graph.facebook.com"), None);
    }

    #[test]
    fn whole_bodies_are_read_without_a_copy() {
        let data = Bytes::from_static(b"{\"to\":\"1\"}");
        for bytes in [
            body_bytes(&Full::new(data.clone())),
            body_bytes(&ReplayBody::from(data.clone())),
            body_bytes(&data),
        ] {
            assert_eq!(bytes.unwrap().as_ptr(), data.as_ptr());
        }
        assert_eq!(body_bytes(&String::from("{}")), None);
        assert_eq!(body_bytes(&ReplayBody::streaming(Full::new(data))), None);
    }

    #[test]
    fn the_recipient_is_to_else_recipient() {
        let to = br#"{"messaging_product":"whatsapp","to":"15551234567","type":"text","text":{"body":"hi"}}"#;
        assert_eq!(recipient(to).as_deref(), Some("15551234567"));
        let bsuid = br#"{"messaging_product":"whatsapp","recipient":"US.13491208655302741918"}"#;
        assert_eq!(recipient(bsuid).as_deref(), Some("US.13491208655302741918"));
        let both = br#"{"recipient":"US.1","to":"1555"}"#;
        assert_eq!(recipient(both).as_deref(), Some("1555"));
        let escaped = br#"{"to":"15\u00355"}"#;
        assert_eq!(recipient(escaped).as_deref(), Some("1555"));
        for body in [
            &b""[..],
            b"not json",
            b"{\"to\":15551234567}",
            b"{\"to\":\"\"}",
            b"[\"to\"]",
            b"{\"text\":{\"body\":\"hi\"}}",
        ] {
            assert_eq!(recipient(body), None, "{}", String::from_utf8_lossy(body));
        }
    }
}
