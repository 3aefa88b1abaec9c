//! Typed, lenient webhook payloads: `{"object":"whatsapp_business_account",
//! "entry":[{"id","changes":[{"field":"messages","value":{…}}]}]}`.
//!
//! Every field may be missing; unknown fields, message kinds and webhook
//! fields are kept, not refused (Meta adds all of them over time); ids and
//! timestamps may be strings or numbers. The `errors` a delivery carries
//! become [`GraphError`](crate::graph::GraphError)s, with the crate's
//! classification and hints.

use serde::Deserialize;
use serde_json::{Map, Value as Json};

mod answers;
mod errors;
mod fields;
mod lenient;
mod media;
mod message;
mod notices;
mod sender;
mod status;

pub use answers::{Button, Choice, FlowReply, Interactive, Reaction};
pub use errors::{ErrorData, WebhookError};
pub use fields::{
    AccountUpdate, Field, GroupUpdate, Participant, PhoneQualityUpdate, TemplateStatusUpdate,
    WabaInfo,
};
pub use media::{ContactName, ContactPhone, Location, Media, SharedContact};
pub use message::{Content, Message, MessageContext, Text};
pub use notices::{Order, ProductItem, Referral, System, Unsupported};
pub use sender::{Contact, Profile, Recipient, RecipientKind};
pub use status::{Conversation, Pricing, Status};

use crate::graph::GraphError;
use lenient::{list, object, opt_text, or_default, present, text, typed};

/// A webhook delivery.
///
/// ```
/// use tower_whatsapp_auth::webhook::Notification;
///
/// let body = br#"{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[
///   {"field":"messages","value":{"metadata":{"phone_number_id":"106540352242922"},
///    "contacts":[{"profile":{"name":"Sheena Nelson"},"wa_id":"16505551234"}],
///    "messages":[{"from":"16505551234","id":"wamid.A","type":"text","text":{"body":"Hi"}}]}}]}]}"#;
/// let delivery = Notification::parse(body)?;
/// let (value, message) = delivery.messages().next().unwrap();
/// assert_eq!(value.phone_number_id(), Some("106540352242922"));
/// assert_eq!(message.text_body(), Some("Hi"));
/// assert_eq!(value.contact_of(message).unwrap().wa_id, "16505551234");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct Notification {
    /// `whatsapp_business_account` for WhatsApp.
    #[serde(default, deserialize_with = "text")]
    pub object: String,
    /// One per business account.
    #[serde(default, deserialize_with = "list")]
    pub entry: Vec<Entry>,
}

/// One business account's changes.
///
/// ```
/// use tower_whatsapp_auth::webhook::Entry;
///
/// let entry: Entry = serde_json::from_str(r#"{"id":102290129340398,"changes":[]}"#)?;
/// assert_eq!(entry.id, "102290129340398");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct Entry {
    /// The WhatsApp Business Account id.
    #[serde(default, deserialize_with = "text")]
    pub id: String,
    /// What changed.
    #[serde(default, deserialize_with = "list")]
    pub changes: Vec<Change>,
}

/// One change: the field it was delivered for and its value.
///
/// ```
/// use tower_whatsapp_auth::webhook::{Change, Field};
///
/// let change: Change = serde_json::from_str(r#"{"field":"account_update",
///     "value":{"event":"PARTNER_REMOVED","waba_info":{"waba_id":"980198427658004"}}}"#)?;
/// assert_eq!(change.kind(), Field::AccountUpdate);
/// assert!(change.account_update().unwrap().ends_access());
/// assert_eq!(change.value.other["waba_info"]["waba_id"], "980198427658004");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct Change {
    /// The subscribed field (`messages` for messages and statuses): see
    /// [`Change::kind`].
    #[serde(default, deserialize_with = "text")]
    pub field: String,
    /// Its content.
    #[serde(default, deserialize_with = "or_default")]
    pub value: Value,
}

/// A change's content: messages, statuses and their senders typed;
/// everything else (the content of other fields) in `other`, as Graph sent
/// it.
///
/// ```
/// use tower_whatsapp_auth::webhook::Value;
///
/// let value: Value = serde_json::from_str(r#"{"metadata":{"display_phone_number":"15550783881",
///     "phone_number_id":"106540352242922"},"groups":[{"type":"group_suspend","group_id":"G"}]}"#)?;
/// assert_eq!(value.phone_number_id(), Some("106540352242922"));
/// assert_eq!(value.other["groups"][0]["type"], "group_suspend");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct Value {
    /// `whatsapp`.
    #[serde(default, deserialize_with = "opt_text")]
    pub messaging_product: Option<String>,
    /// The business phone number concerned: the key to route a delivery to
    /// its tenant.
    #[serde(default, deserialize_with = "object")]
    pub metadata: Option<Metadata>,
    /// The senders' profiles.
    #[serde(default, deserialize_with = "list")]
    pub contacts: Vec<Contact>,
    /// Incoming messages.
    #[serde(default, deserialize_with = "list")]
    pub messages: Vec<Message>,
    /// Delivery statuses of sent messages.
    #[serde(default, deserialize_with = "list")]
    pub statuses: Vec<Status>,
    /// Errors not tied to a message.
    #[serde(default, deserialize_with = "list")]
    pub errors: Vec<WebhookError>,
    /// Everything else, as Graph sent it: `event`, `groups`,
    /// `message_echoes`, `history`, `calls`, `user_preferences`, ….
    #[serde(flatten)]
    pub other: Map<String, Json>,
}

/// The business phone number a change concerns.
///
/// ```
/// use tower_whatsapp_auth::webhook::Metadata;
///
/// let metadata: Metadata = serde_json::from_str(r#"{"display_phone_number":15550783881,"phone_number_id":"106540352242922"}"#)?;
/// assert_eq!(metadata.display_phone_number, "15550783881");
/// # Ok::<(), serde_json::Error>(())
/// ```
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

impl Value {
    /// The business phone number id the change concerns (`metadata`), if
    /// named.
    pub fn phone_number_id(&self) -> Option<&str> {
        present(Some(self.metadata.as_ref()?.phone_number_id.as_str()))
    }

    /// The contact that describes `message`'s sender: the one whose
    /// business-scoped user id or phone number matches, else the only one.
    pub fn contact_of(&self, message: &Message) -> Option<&Contact> {
        let user = present(message.from_user_id.as_deref());
        let phone = present(Some(message.from.as_str()));
        let matches = |c: &&Contact| {
            (user.is_some() && c.user_id.as_deref() == user)
                || (phone.is_some() && Some(c.wa_id.as_str()) == phone)
        };
        match self.contacts.iter().find(matches) {
            Some(contact) => Some(contact),
            None if self.contacts.len() == 1 => self.contacts.first(),
            None => None,
        }
    }
}

impl Change {
    /// The field, named.
    pub fn kind(&self) -> Field {
        Field::of(&self.field)
    }

    /// Whether the change carries incoming messages and statuses: the
    /// `messages` field (or a change that names no field).
    pub fn is_messages(&self) -> bool {
        self.field.is_empty() || self.kind() == Field::Messages
    }

    /// An `account_update`'s content.
    pub fn account_update(&self) -> Option<AccountUpdate> {
        self.typed_as(Field::AccountUpdate)
    }

    /// A `message_template_status_update`'s content.
    pub fn template_status(&self) -> Option<TemplateStatusUpdate> {
        self.typed_as(Field::MessageTemplateStatusUpdate)
    }

    /// A `phone_number_quality_update`'s content.
    pub fn phone_quality(&self) -> Option<PhoneQualityUpdate> {
        self.typed_as(Field::PhoneNumberQualityUpdate)
    }

    /// The events of a Groups API field (`groups`); empty for other fields.
    pub fn group_updates(&self) -> Vec<GroupUpdate> {
        match self.value.other.get("groups") {
            Some(Json::Array(items)) if self.kind().is_group() => items
                .iter()
                .filter_map(|g| GroupUpdate::deserialize(g).ok())
                .collect(),
            _ => Vec::new(),
        }
    }

    fn typed_as<T: serde::de::DeserializeOwned>(&self, field: Field) -> Option<T> {
        (self.kind() == field)
            .then(|| typed(&self.value.other))
            .flatten()
    }
}

impl Notification {
    /// Parses a delivery's body.
    pub fn parse(body: &[u8]) -> Result<Notification, serde_json::Error> {
        serde_json::from_slice(body)
    }

    /// Every change, with the entry (business account) it came in.
    pub fn changes(&self) -> impl Iterator<Item = (&Entry, &Change)> {
        self.entry
            .iter()
            .flat_map(|e| e.changes.iter().map(move |c| (e, c)))
    }

    fn values(&self) -> impl Iterator<Item = &Value> {
        self.changes().map(|(_, c)| &c.value)
    }

    fn message_values(&self) -> impl Iterator<Item = &Value> {
        self.changes()
            .filter(|(_, c)| c.is_messages())
            .map(|(_, c)| &c.value)
    }

    /// Every incoming message, with the change it came in: those of the
    /// `messages` field only (not the past messages of `history`, nor the
    /// business's own `smb_message_echoes`).
    pub fn messages(&self) -> impl Iterator<Item = (&Value, &Message)> {
        self.message_values()
            .flat_map(|v| v.messages.iter().map(move |m| (v, m)))
    }

    /// Every delivery status of a sent message, with the change it came in
    /// (the `messages` field's; calls have statuses of their own).
    pub fn statuses(&self) -> impl Iterator<Item = (&Value, &Status)> {
        self.message_values()
            .flat_map(|v| v.statuses.iter().map(move |s| (v, s)))
    }

    /// Every `account_update`, with the entry (business account) it names.
    pub fn account_updates(&self) -> impl Iterator<Item = (&Entry, AccountUpdate)> {
        self.changes()
            .filter_map(|(e, c)| Some((e, c.account_update()?)))
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

#[cfg(test)]
mod tests;
