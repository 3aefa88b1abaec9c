//! Webhook deliveries as Meta sends them (shapes from Meta's "messages"
//! webhook reference), signed with the app secret, for the `bot` example's
//! tests and demos.

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tower_whatsapp_auth::webhook::sign;
use tower_whatsapp_auth::Secret;

use super::fake_graph::FakeGraph;

impl FakeGraph {
    /// Delivers an incoming text message to the webhook at `url`, as Meta
    /// does: signed with the app secret.
    pub async fn deliver_text(
        &self,
        url: &str,
        from: &str,
        id: &str,
        text: &str,
    ) -> (StatusCode, String) {
        let config = self.config();
        let body = text_delivery(&config.phone_number_id, from, id, text);
        deliver(url, config.app_secret.as_deref(), body).await
    }
}

/// A delivery of one incoming text message.
pub fn text_delivery(phone_number_id: &str, from: &str, id: &str, text: &str) -> Bytes {
    delivery(
        phone_number_id,
        serde_json::json!({
            "contacts": [{ "profile": { "name": "Tester" }, "wa_id": from }],
            "messages": [{ "from": from, "id": id, "timestamp": "1749416383", "type": "text", "text": { "body": text } }]
        }),
    )
}

/// A delivery of one incoming media message of `kind` (`image`, `audio`,
/// `video`, `document`, `sticker`), its SHA-256 in base64 as webhooks
/// carry it (Meta's image example: `"sha256": "SfInY0gG…GUI="`).
pub fn media_delivery(
    phone_number_id: &str,
    from: &str,
    id: &str,
    kind: &str,
    media: (&str, &str, &[u8; 32]),
) -> Bytes {
    let (media_id, mime, sha256) = media;
    delivery(
        phone_number_id,
        serde_json::json!({
            "contacts": [{ "profile": { "name": "Tester" }, "wa_id": from }],
            "messages": [{ "from": from, "id": id, "timestamp": "1749416383", "type": kind,
                kind: { "mime_type": mime, "sha256": base64(sha256), "id": media_id } }]
        }),
    )
}

/// Standard base64 with padding.
fn base64(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().fold(0u32, |n, b| n << 8 | u32::from(*b)) << (8 * (3 - chunk.len()));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(DIGITS[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A delivery of one status of a sent message.
pub fn status_delivery(phone_number_id: &str, id: &str, status: &str) -> Bytes {
    delivery(
        phone_number_id,
        serde_json::json!({
            "statuses": [{ "id": id, "status": status, "timestamp": "1751142888", "recipient_id": "16505551234" }]
        }),
    )
}

/// The envelope of a "messages" delivery to `phone_number_id`, around the
/// fields of `content` (messages and contacts, or statuses).
fn delivery(phone_number_id: &str, content: serde_json::Value) -> Bytes {
    let mut value = serde_json::json!({
        "messaging_product": "whatsapp",
        "metadata": { "display_phone_number": "15550783881", "phone_number_id": phone_number_id }
    });
    if let (Some(value), serde_json::Value::Object(content)) = (value.as_object_mut(), content) {
        value.extend(content);
    }
    let body = serde_json::json!({
        "object": "whatsapp_business_account",
        "entry": [{
            "id": "102290129340398",
            "changes": [{ "field": "messages", "value": value }]
        }]
    });
    Bytes::from(body.to_string())
}

/// POSTs `body` to `url` as Meta does: signed with `app_secret` (unsigned
/// when `None`). Returns the status and the answer's text.
pub async fn deliver(url: &str, app_secret: Option<&str>, body: Bytes) -> (StatusCode, String) {
    let mut req = Request::post(url).header("content-type", "application/json");
    if let Some(secret) = app_secret {
        req = req.header("x-hub-signature-256", sign(&Secret::new(secret), &body));
    }
    send(req.body(Full::new(body)).unwrap()).await
}

/// Meta's subscription check against `url`.
pub async fn handshake(url: &str, verify_token: &str, challenge: &str) -> (StatusCode, String) {
    let query =
        format!("hub.mode=subscribe&hub.challenge={challenge}&hub.verify_token={verify_token}");
    send(
        Request::get(format!("{url}?{query}"))
            .body(Full::new(Bytes::new()))
            .unwrap(),
    )
    .await
}

/// Sends `req` with a new client; returns the status and the answer's text.
pub async fn send(req: Request<Full<Bytes>>) -> (StatusCode, String) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let res = client.request(req).await.unwrap();
    let status = res.status();
    let text = res.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&text).into_owned())
}
