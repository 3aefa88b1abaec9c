//! Who wrote ([`Contact`], [`Profile`]) and where a reply goes
//! ([`Recipient`]): a phone number, a business-scoped user id (BSUID) or a
//! group, each addressed as Graph expects.

use serde::Deserialize;
use serde_json::{json, Map, Value as Json};

use super::lenient::{object, opt_text, present, text};

/// A sender, as the delivery's `contacts` describe them.
///
/// ```
/// use tower_whatsapp_auth::webhook::Contact;
///
/// let contact: Contact = serde_json::from_str(r#"{"profile":{"name":"Sheena Nelson",
///     "username":"@realsheenanelson","country_code":"US"},"wa_id":"","user_id":"US.13491208655302741918"}"#)?;
/// assert_eq!(contact.wa_id, "");
/// assert_eq!(contact.user_id.as_deref(), Some("US.13491208655302741918"));
/// assert_eq!(contact.username(), Some("@realsheenanelson"));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct Contact {
    /// Their WhatsApp id (phone number); empty when WhatsApp does not share
    /// it.
    #[serde(default, deserialize_with = "text")]
    pub wa_id: String,
    /// Their business-scoped user id (BSUID).
    #[serde(default, deserialize_with = "opt_text")]
    pub user_id: Option<String>,
    /// Their parent business-scoped user id.
    #[serde(default, deserialize_with = "opt_text")]
    pub parent_user_id: Option<String>,
    /// Their profile.
    #[serde(default, deserialize_with = "object")]
    pub profile: Option<Profile>,
    /// Everything else (`identity_key_hash`, …).
    #[serde(flatten)]
    pub other: Map<String, Json>,
}

impl Contact {
    /// Their WhatsApp username, if they adopted one.
    pub fn username(&self) -> Option<&str> {
        present(self.profile.as_ref()?.username.as_deref())
    }
}

/// A sender's profile.
///
/// ```
/// use tower_whatsapp_auth::webhook::Profile;
///
/// let profile: Profile = serde_json::from_str(r#"{"name":"Pablo M.","username":"@pablomorales"}"#)?;
/// assert_eq!(profile.name.as_deref(), Some("Pablo M."));
/// assert_eq!(profile.country_code, None);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct Profile {
    /// Their name.
    #[serde(default, deserialize_with = "opt_text")]
    pub name: Option<String>,
    /// Their username, if they adopted one.
    #[serde(default, deserialize_with = "opt_text")]
    pub username: Option<String>,
    /// Their country code.
    #[serde(default, deserialize_with = "opt_text")]
    pub country_code: Option<String>,
    /// Everything else.
    #[serde(flatten)]
    pub other: Map<String, Json>,
}

/// What a [`Recipient`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RecipientKind {
    /// A user's phone number: sent as `to`.
    PhoneNumber,
    /// A user's business-scoped user id (or parent id): sent as
    /// `recipient`, for users whose phone number is not known.
    UserId,
    /// A group: sent as `to`, with `recipient_type: "group"`.
    Group,
}

/// Where a message goes: never empty (a blank id is no recipient).
/// [`Message::reply_to`](super::Message::reply_to) names the one a reply
/// goes to.
///
/// ```
/// use serde_json::json;
/// use tower_whatsapp_auth::webhook::{Recipient, RecipientKind};
///
/// let user = Recipient::new(RecipientKind::UserId, "US.13491208655302741918").unwrap();
/// let body = user.message("text", json!({ "body": "Hello" }));
/// assert_eq!(body["recipient"], "US.13491208655302741918");
/// assert!(body.get("to").is_none());
/// assert_eq!(body["text"]["body"], "Hello");
///
/// let group = Recipient::new(RecipientKind::Group, "Y2FwaV9ncm91cDoxNzA1NTU1MDEzOToxMjAzNjM0MDQ2OTQyMzM4MjAZD").unwrap();
/// let body = group.message("text", json!({ "body": "Hello" }));
/// assert_eq!((body["recipient_type"].as_str(), body["to"].as_str()), (Some("group"), Some(group.id())));
///
/// assert!(Recipient::new(RecipientKind::PhoneNumber, " ").is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Recipient {
    kind: RecipientKind,
    id: String,
}

impl Recipient {
    /// A recipient of `kind`, or `None` when `id` is blank. Surrounding
    /// whitespace is dropped.
    pub fn new(kind: RecipientKind, id: impl AsRef<str>) -> Option<Recipient> {
        let id = id.as_ref().trim();
        (!id.is_empty()).then(|| Recipient {
            kind,
            id: id.to_owned(),
        })
    }

    /// What it is.
    pub fn kind(&self) -> RecipientKind {
        self.kind
    }

    /// Its phone number, business-scoped user id or group id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// A Cloud API message to this recipient: `{"messaging_product":
    /// "whatsapp", "recipient_type", "to" or "recipient", "type": kind,
    /// kind: content}`, ready to POST to `/{phone-number-id}/messages`
    /// (add `context`, `biz_opaque_callback_data`, … to the object as
    /// needed).
    pub fn message(&self, kind: &str, content: Json) -> Json {
        let (recipient_type, field) = match self.kind {
            RecipientKind::PhoneNumber => ("individual", "to"),
            RecipientKind::UserId => ("individual", "recipient"),
            RecipientKind::Group => ("group", "to"),
        };
        let mut body = json!({
            "messaging_product": "whatsapp",
            "recipient_type": recipient_type,
            field: self.id,
            "type": kind,
        });
        if let Some(fields) = body.as_object_mut() {
            fields.insert(kind.to_owned(), content);
        }
        body
    }
}
