//! A sent message's status: where it went, what became of it, why it
//! failed, and what it was billed, in both of Meta's pricing shapes.

use serde::Deserialize;
use serde_json::{Map, Value as Json};

use super::errors::WebhookError;
use super::lenient::{list, object, opt_bool, opt_text, present, text};

/// A sent message's delivery status.
///
/// ```
/// use tower_whatsapp_auth::webhook::Status;
///
/// let status: Status = serde_json::from_str(r#"{"id":"wamid.A","status":"delivered",
///     "timestamp":"1750030073","recipient_id":"","recipient_user_id":"US.13491208655302741918",
///     "pricing":{"billable":true,"pricing_model":"PMP","type":"regular","category":"marketing"}}"#)?;
/// assert_eq!(status.recipient_id, "");
/// assert_eq!(status.recipient_user_id.as_deref(), Some("US.13491208655302741918"));
/// let billed = status.billing().unwrap();
/// assert!(billed.is_per_message());
/// assert_eq!(billed.category.as_deref(), Some("marketing"));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct Status {
    /// The sent message's id.
    #[serde(default, deserialize_with = "text")]
    pub id: String,
    /// `sent`, `delivered`, `read`, `failed`, `played`, …
    #[serde(default, deserialize_with = "text")]
    pub status: String,
    /// Seconds since the epoch, as Graph wrote it.
    #[serde(default, deserialize_with = "text")]
    pub timestamp: String,
    /// Who it was sent to: a phone number, a group id, or empty for a
    /// message sent to a business-scoped user id.
    #[serde(default, deserialize_with = "text")]
    pub recipient_id: String,
    /// The business-scoped user id it was sent to, if sent to one.
    #[serde(default, deserialize_with = "opt_text")]
    pub recipient_user_id: Option<String>,
    /// `group` for a message sent to a group.
    #[serde(default, deserialize_with = "opt_text")]
    pub recipient_type: Option<String>,
    /// The `biz_opaque_callback_data` the message was sent with.
    #[serde(default, deserialize_with = "opt_text")]
    pub biz_opaque_callback_data: Option<String>,
    /// The conversation it opened or belongs to (conversation-based
    /// pricing, before July 2025; still sent by some versions).
    #[serde(default, deserialize_with = "object")]
    pub conversation: Option<Conversation>,
    /// What it was billed.
    #[serde(default, deserialize_with = "object")]
    pub pricing: Option<Pricing>,
    /// Why it failed, for `failed`.
    #[serde(default, deserialize_with = "list")]
    pub errors: Vec<WebhookError>,
    /// Everything else (group participants' ids, …).
    #[serde(flatten)]
    pub other: Map<String, Json>,
}

impl Status {
    /// What the message was billed: `pricing`, or (as Meta's Groups
    /// examples write it) the conversation's `pricing`.
    pub fn billing(&self) -> Option<&Pricing> {
        self.pricing
            .as_ref()
            .or_else(|| self.conversation.as_ref()?.pricing.as_ref())
    }

    /// Whether the message was sent to a group.
    pub fn is_group(&self) -> bool {
        self.recipient_type.as_deref() == Some("group")
    }

    /// The user the message went to: the phone number, else the
    /// business-scoped user id (`None` for a group).
    pub fn recipient_user(&self) -> Option<&str> {
        if self.is_group() {
            return None;
        }
        present(Some(self.recipient_id.as_str())).or(present(self.recipient_user_id.as_deref()))
    }
}

/// A status's conversation.
///
/// ```
/// use tower_whatsapp_auth::webhook::Conversation;
///
/// let conversation: Conversation = serde_json::from_str(r#"{"id":"7270432eae37498234f4444b35ffc5",
///     "expiration_timestamp":1698339900,"origin":{"type":"service"}}"#)?;
/// assert_eq!(conversation.origin_type(), Some("service"));
/// assert_eq!(conversation.expiration_timestamp.as_deref(), Some("1698339900"));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct Conversation {
    /// Its id.
    #[serde(default, deserialize_with = "opt_text")]
    pub id: Option<String>,
    /// When it expires, seconds since the epoch as Graph wrote it.
    #[serde(default, deserialize_with = "opt_text")]
    pub expiration_timestamp: Option<String>,
    /// `origin`, with its `type` (`marketing`, `utility`, `service`, …).
    #[serde(default, deserialize_with = "object")]
    pub origin: Option<Map<String, Json>>,
    /// Pricing, where Meta's Groups examples put it.
    #[serde(default, deserialize_with = "object")]
    pub pricing: Option<Pricing>,
    /// Everything else.
    #[serde(flatten)]
    pub other: Map<String, Json>,
}

impl Conversation {
    /// `origin.type`: the conversation's category.
    pub fn origin_type(&self) -> Option<&str> {
        self.origin.as_ref()?.get("type")?.as_str()
    }
}

/// What a message was billed. Conversation-based pricing (`CBP`) gives a
/// `category` and comes with a [`Conversation`]; per-message pricing
/// (`PMP`, since July 2025) adds `type` (`regular`,
/// `free_customer_service`, `free_entry_point`).
///
/// ```
/// use tower_whatsapp_auth::webhook::Pricing;
///
/// let old: Pricing = serde_json::from_str(r#"{"billable":true,"pricing_model":"CBP","category":"service"}"#)?;
/// assert!(!old.is_per_message());
/// assert_eq!((old.billable, old.kind.as_deref()), (Some(true), None));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct Pricing {
    /// Whether it is billed.
    #[serde(default, deserialize_with = "opt_bool")]
    pub billable: Option<bool>,
    /// `CBP` or `PMP`.
    #[serde(default, deserialize_with = "opt_text")]
    pub pricing_model: Option<String>,
    /// Per-message pricing's `type`.
    #[serde(default, rename = "type", deserialize_with = "opt_text")]
    pub kind: Option<String>,
    /// `marketing`, `utility`, `authentication`, `service`, …
    #[serde(default, deserialize_with = "opt_text")]
    pub category: Option<String>,
    /// Everything else.
    #[serde(flatten)]
    pub other: Map<String, Json>,
}

impl Pricing {
    /// Whether this is per-message pricing (`PMP`).
    pub fn is_per_message(&self) -> bool {
        self.pricing_model.as_deref() == Some("PMP")
    }
}
