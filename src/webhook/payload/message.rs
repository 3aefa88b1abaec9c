//! An incoming message: who wrote, what it answers, and its content, typed
//! by kind ([`Content`]); kinds this crate does not type are kept whole.

use serde::Deserialize;
use serde_json::{Map, Value as Json};

use super::answers::{Button, Interactive, Reaction};
use super::errors::WebhookError;
use super::lenient::{list, object, opt_bool, opt_text, present, text};
use super::media::{Location, Media, SharedContact};
use super::notices::{Order, Referral, System, Unsupported};
use super::sender::{Recipient, RecipientKind};

/// An incoming message.
///
/// ```
/// use tower_whatsapp_auth::webhook::{Content, Message, RecipientKind};
///
/// let message: Message = serde_json::from_str(r#"{"from":"16505551234","id":"wamid.A",
///     "timestamp":"1749416383","type":"image","image":{"id":"65463453","mime_type":"image/jpeg"},
///     "context":{"forwarded":true}}"#)?;
/// let Content::Image(image) = message.content() else { panic!("an image") };
/// assert_eq!(image.id.as_deref(), Some("65463453"));
/// assert!(message.context.as_ref().unwrap().is_forwarded());
/// let reply_to = message.reply_to().unwrap();
/// assert_eq!((reply_to.kind(), reply_to.id()), (RecipientKind::PhoneNumber, "16505551234"));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct Message {
    /// The sender's phone number; empty when WhatsApp does not share it (a
    /// user with a username) or missing (some group messages). Use
    /// [`Message::reply_to`] to answer.
    #[serde(default, deserialize_with = "text")]
    pub from: String,
    /// The sender's business-scoped user id (BSUID).
    #[serde(default, deserialize_with = "opt_text")]
    pub from_user_id: Option<String>,
    /// The sender's parent business-scoped user id.
    #[serde(default, deserialize_with = "opt_text")]
    pub from_parent_user_id: Option<String>,
    /// The group the message was sent in, for a group message.
    #[serde(default, deserialize_with = "opt_text")]
    pub group_id: Option<String>,
    /// The message id (`wamid.…`): the key to process it once.
    #[serde(default, deserialize_with = "text")]
    pub id: String,
    /// Seconds since the epoch, as Graph wrote it.
    #[serde(default, deserialize_with = "text")]
    pub timestamp: String,
    /// `text`, `image`, `interactive`, `reaction`, … or a kind this crate
    /// does not know: see [`Message::content`].
    #[serde(default, rename = "type", deserialize_with = "text")]
    pub kind: String,
    /// What the message answers or how it was forwarded.
    #[serde(default, deserialize_with = "object")]
    pub context: Option<MessageContext>,
    /// The ad or post the user came from (click-to-WhatsApp ads).
    #[serde(default, deserialize_with = "object")]
    pub referral: Option<Referral>,
    /// A `text` message's text.
    #[serde(default, deserialize_with = "object")]
    pub text: Option<Text>,
    /// An `image`.
    #[serde(default, deserialize_with = "object")]
    pub image: Option<Media>,
    /// An `audio` file or voice note.
    #[serde(default, deserialize_with = "object")]
    pub audio: Option<Media>,
    /// A `video`.
    #[serde(default, deserialize_with = "object")]
    pub video: Option<Media>,
    /// A `document`.
    #[serde(default, deserialize_with = "object")]
    pub document: Option<Media>,
    /// A `sticker`.
    #[serde(default, deserialize_with = "object")]
    pub sticker: Option<Media>,
    /// A `location`.
    #[serde(default, deserialize_with = "object")]
    pub location: Option<Location>,
    /// The cards of a `contacts` message.
    #[serde(default, deserialize_with = "list")]
    pub contacts: Vec<SharedContact>,
    /// An `interactive` answer.
    #[serde(default, deserialize_with = "object")]
    pub interactive: Option<Interactive>,
    /// A template's quick-reply `button` tapped.
    #[serde(default, deserialize_with = "object")]
    pub button: Option<Button>,
    /// A `reaction`.
    #[serde(default, deserialize_with = "object")]
    pub reaction: Option<Reaction>,
    /// An `order`.
    #[serde(default, deserialize_with = "object")]
    pub order: Option<Order>,
    /// A `system` notice.
    #[serde(default, deserialize_with = "object")]
    pub system: Option<System>,
    /// What an `unsupported` message was.
    #[serde(default, deserialize_with = "object")]
    pub unsupported: Option<Unsupported>,
    /// Problems with the message (`unsupported` ones carry them).
    #[serde(default, deserialize_with = "list")]
    pub errors: Vec<WebhookError>,
    /// Everything else, as Graph sent it (the content of other kinds).
    #[serde(flatten)]
    pub other: Map<String, Json>,
}

/// A text message's text.
///
/// ```
/// use tower_whatsapp_auth::webhook::Text;
///
/// let text: Text = serde_json::from_str(r#"{"body":"Does it come in another color?"}"#)?;
/// assert_eq!(text.body, "Does it come in another color?");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct Text {
    /// The text.
    #[serde(default, deserialize_with = "text")]
    pub body: String,
}

/// A message's `context`: the message it replies to (`from`, `id`), or that
/// it was forwarded.
///
/// ```
/// use tower_whatsapp_auth::webhook::MessageContext;
///
/// let reply: MessageContext = serde_json::from_str(r#"{"from":"15550783881","id":"wamid.ORIGINAL"}"#)?;
/// assert_eq!(reply.id.as_deref(), Some("wamid.ORIGINAL"));
/// assert!(!reply.is_forwarded());
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct MessageContext {
    /// Who sent the message replied to (the business number, for a reply
    /// to the business).
    #[serde(default, deserialize_with = "opt_text")]
    pub from: Option<String>,
    /// The id of the message replied to.
    #[serde(default, deserialize_with = "opt_text")]
    pub id: Option<String>,
    /// Forwarded.
    #[serde(default, deserialize_with = "opt_bool")]
    pub forwarded: Option<bool>,
    /// Forwarded many times.
    #[serde(default, deserialize_with = "opt_bool")]
    pub frequently_forwarded: Option<bool>,
    /// Everything else (`referred_product`, …).
    #[serde(flatten)]
    pub other: Map<String, Json>,
}

impl MessageContext {
    /// Whether the message was forwarded (once or many times).
    pub fn is_forwarded(&self) -> bool {
        self.forwarded == Some(true) || self.frequently_forwarded == Some(true)
    }
}

/// A message's content, by kind ([`Message::content`]).
///
/// ```
/// use tower_whatsapp_auth::webhook::{Content, Message};
///
/// let message: Message = serde_json::from_str(r#"{"id":"wamid.X","type":"hologram","hologram":{"depth":3}}"#)?;
/// let Content::Other { kind, content } = message.content() else { panic!("not typed") };
/// assert_eq!((kind, content.unwrap()["depth"].as_i64()), ("hologram", Some(3)));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Content<'a> {
    /// `text`.
    Text(&'a Text),
    /// `image`.
    Image(&'a Media),
    /// `audio` (see [`Media::voice`]).
    Audio(&'a Media),
    /// `video`.
    Video(&'a Media),
    /// `document`.
    Document(&'a Media),
    /// `sticker`.
    Sticker(&'a Media),
    /// `location`.
    Location(&'a Location),
    /// `contacts`.
    Contacts(&'a [SharedContact]),
    /// `interactive`.
    Interactive(&'a Interactive),
    /// `button`.
    Button(&'a Button),
    /// `reaction`.
    Reaction(&'a Reaction),
    /// `order`.
    Order(&'a Order),
    /// `system`.
    System(&'a System),
    /// `unsupported`: see the message's `errors`.
    Unsupported(Option<&'a Unsupported>),
    /// A kind this crate does not type (or a typed kind whose content is
    /// missing), with its content as Graph sent it.
    Other {
        /// The message's `type`.
        kind: &'a str,
        /// The object named after it, if any.
        content: Option<&'a Json>,
    },
}

impl Message {
    /// The message's content, by its `type`.
    pub fn content(&self) -> Content<'_> {
        let typed = match self.kind.as_str() {
            "text" => self.text.as_ref().map(Content::Text),
            "image" => self.image.as_ref().map(Content::Image),
            "audio" => self.audio.as_ref().map(Content::Audio),
            "video" => self.video.as_ref().map(Content::Video),
            "document" => self.document.as_ref().map(Content::Document),
            "sticker" => self.sticker.as_ref().map(Content::Sticker),
            "location" => self.location.as_ref().map(Content::Location),
            "contacts" if !self.contacts.is_empty() => Some(Content::Contacts(&self.contacts)),
            "interactive" => self.interactive.as_ref().map(Content::Interactive),
            "button" => self.button.as_ref().map(Content::Button),
            "reaction" => self.reaction.as_ref().map(Content::Reaction),
            "order" => self.order.as_ref().map(Content::Order),
            "system" => self.system.as_ref().map(Content::System),
            "unsupported" => Some(Content::Unsupported(self.unsupported.as_ref())),
            _ => None,
        };
        typed.unwrap_or(Content::Other {
            kind: &self.kind,
            content: self.other.get(&self.kind),
        })
    }

    /// The text of a `text` message.
    pub fn text_body(&self) -> Option<&str> {
        (self.kind == "text").then_some(self.text.as_ref()?.body.as_str())
    }

    /// Where a reply to this message goes: the group, for a group message;
    /// else the sender's phone number (`from`); else their business-scoped
    /// user id (`from_user_id`, then `from_parent_user_id`). `None` when the
    /// message names none of them (a blank value names nothing), so a reply
    /// is never sent to an empty recipient. Build the reply with
    /// [`Recipient::message`].
    pub fn reply_to(&self) -> Option<Recipient> {
        let candidates = [
            (RecipientKind::Group, self.group_id.as_deref()),
            (RecipientKind::PhoneNumber, Some(self.from.as_str())),
            (RecipientKind::UserId, self.from_user_id.as_deref()),
            (RecipientKind::UserId, self.from_parent_user_id.as_deref()),
        ];
        candidates
            .into_iter()
            .find_map(|(kind, id)| Recipient::new(kind, present(id)?))
    }
}
