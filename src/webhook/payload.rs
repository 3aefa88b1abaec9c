//! Typed, lenient webhook payloads: `{"object":"whatsapp_business_account",
//! "entry":[{"id","changes":[{"field":"messages","value":{…}}]}]}`.
//!
//! Every field may be missing; unknown fields and message types are kept,
//! not refused (Meta adds both over time); a timestamp may be a string or a
//! number. The `errors` a delivery carries become [`GraphError`]s, with the
//! crate's classification and hints.

use http::StatusCode;
use serde::{Deserialize, Deserializer};

use crate::graph::GraphError;

/// A webhook delivery.
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct Notification {
    /// `whatsapp_business_account` for WhatsApp.
    #[serde(default)]
    pub object: String,
    /// One per business account.
    #[serde(default)]
    pub entry: Vec<Entry>,
}

/// One business account's changes.
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct Entry {
    /// The WhatsApp Business Account id.
    #[serde(default, deserialize_with = "text")]
    pub id: String,
    /// What changed.
    #[serde(default)]
    pub changes: Vec<Change>,
}

/// One change.
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct Change {
    /// The subscribed field (`messages` for messages and statuses).
    #[serde(default)]
    pub field: String,
    /// Its content.
    #[serde(default)]
    pub value: Value,
}

/// A change's content.
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct Value {
    /// `whatsapp`.
    #[serde(default)]
    pub messaging_product: Option<String>,
    /// The business phone number concerned.
    #[serde(default)]
    pub metadata: Option<Metadata>,
    /// The senders' profiles.
    #[serde(default)]
    pub contacts: Vec<Contact>,
    /// Incoming messages.
    #[serde(default)]
    pub messages: Vec<Message>,
    /// Delivery statuses of sent messages.
    #[serde(default)]
    pub statuses: Vec<Status>,
    /// Errors not tied to a message.
    #[serde(default)]
    pub errors: Vec<WebhookError>,
}

/// The business phone number a change concerns.
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct Metadata {
    /// As shown to users.
    #[serde(default, deserialize_with = "text")]
    pub display_phone_number: String,
    /// The id to send from.
    #[serde(default, deserialize_with = "text")]
    pub phone_number_id: String,
}

/// A sender.
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct Contact {
    /// Their WhatsApp id.
    #[serde(default, deserialize_with = "text")]
    pub wa_id: String,
    /// Their profile.
    #[serde(default)]
    pub profile: Option<Profile>,
}

/// A sender's profile.
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct Profile {
    /// Their name.
    #[serde(default)]
    pub name: Option<String>,
}

/// An incoming message.
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct Message {
    /// The sender's WhatsApp id: where a reply goes.
    #[serde(default, deserialize_with = "text")]
    pub from: String,
    /// The message id (`wamid.…`): the key to process it once.
    #[serde(default, deserialize_with = "text")]
    pub id: String,
    /// Seconds since the epoch, as Graph wrote it.
    #[serde(default, deserialize_with = "text")]
    pub timestamp: String,
    /// `text`, `image`, `interactive`, `reaction`, … or a type this crate
    /// does not know.
    #[serde(default, rename = "type")]
    pub kind: String,
    /// The text, for `text` messages.
    #[serde(default)]
    pub text: Option<Text>,
    /// Problems with the message (`unsupported` types carry them).
    #[serde(default)]
    pub errors: Vec<WebhookError>,
    /// Everything else, as Graph sent it (the content of other types).
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

impl Message {
    /// The text of a `text` message.
    pub fn text_body(&self) -> Option<&str> {
        (self.kind == "text").then_some(self.text.as_ref()?.body.as_str())
    }
}

/// A text message's text.
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct Text {
    /// The text.
    #[serde(default)]
    pub body: String,
}

/// A sent message's delivery status.
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct Status {
    /// The sent message's id.
    #[serde(default, deserialize_with = "text")]
    pub id: String,
    /// `sent`, `delivered`, `read`, `failed`, `played`, …
    #[serde(default)]
    pub status: String,
    /// Seconds since the epoch, as Graph wrote it.
    #[serde(default, deserialize_with = "text")]
    pub timestamp: String,
    /// Who it was sent to.
    #[serde(default, deserialize_with = "text")]
    pub recipient_id: String,
    /// The `biz_opaque_callback_data` the message was sent with.
    #[serde(default)]
    pub biz_opaque_callback_data: Option<String>,
    /// Why it failed, for `failed`.
    #[serde(default)]
    pub errors: Vec<WebhookError>,
    /// Everything else (pricing, conversation, …).
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

/// An error in a delivery.
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct WebhookError {
    /// Graph's code.
    #[serde(default, deserialize_with = "number")]
    pub code: i64,
    /// A short title.
    #[serde(default)]
    pub title: Option<String>,
    /// The message.
    #[serde(default)]
    pub message: Option<String>,
    /// `error_data`, with `details`.
    #[serde(default)]
    pub error_data: Option<ErrorData>,
    /// Meta's page on the code.
    #[serde(default)]
    pub href: Option<String>,
}

/// `error_data`.
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct ErrorData {
    /// What exactly went wrong.
    #[serde(default)]
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

impl Notification {
    /// Parses a delivery's body.
    pub fn parse(body: &[u8]) -> Result<Notification, serde_json::Error> {
        serde_json::from_slice(body)
    }

    fn values(&self) -> impl Iterator<Item = &Value> {
        self.entry
            .iter()
            .flat_map(|e| e.changes.iter().map(|c| &c.value))
    }

    /// Every incoming message, with the change it came in.
    pub fn messages(&self) -> impl Iterator<Item = (&Value, &Message)> {
        self.values()
            .flat_map(|v| v.messages.iter().map(move |m| (v, m)))
    }

    /// Every delivery status, with the change it came in.
    pub fn statuses(&self) -> impl Iterator<Item = (&Value, &Status)> {
        self.values()
            .flat_map(|v| v.statuses.iter().map(move |s| (v, s)))
    }

    /// Every error the delivery reports (of changes, statuses and
    /// messages), as [`GraphError`]s.
    pub fn errors(&self) -> impl Iterator<Item = GraphError> + '_ {
        self.values().flat_map(|v| {
            let statuses = v.statuses.iter().flat_map(|s| &s.errors);
            let messages = v.messages.iter().flat_map(|m| &m.errors);
            v.errors
                .iter()
                .chain(statuses)
                .chain(messages)
                .map(WebhookError::to_graph_error)
        })
    }
}

/// A string, or a number written as one.
fn text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => s,
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    })
}

/// An integer, or one written as a string.
fn number<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::Number(n) => n.as_i64().unwrap_or(0),
        serde_json::Value::String(s) => s.trim().parse().unwrap_or(0),
        _ => 0,
    })
}

#[cfg(test)]
mod tests;
