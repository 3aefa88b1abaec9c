//! What users answer with: a reply button or list row, a completed Flow,
//! a template's quick-reply button, a reaction. Each keeps the fields this
//! crate does not type in `other`.

use serde::Deserialize;
use serde_json::{Map, Value as Json};

use super::lenient::{json_in_text, object, opt_text, text};

/// A user's answer to an interactive message: a reply button tapped
/// (`button_reply`), a list row chosen (`list_reply`), a Flow completed
/// (`nfm_reply`), or another kind kept in `other`.
///
/// ```
/// use tower_whatsapp_auth::webhook::Interactive;
///
/// let tapped: Interactive = serde_json::from_str(r#"{"type":"list_reply",
///     "list_reply":{"id":"priority_express","title":"Priority Mail Express"}}"#)?;
/// assert_eq!(tapped.choice_id(), Some("priority_express"));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct Interactive {
    /// `button_reply`, `list_reply`, `nfm_reply`, or another kind.
    #[serde(default, rename = "type", deserialize_with = "text")]
    pub kind: String,
    /// The reply button tapped.
    #[serde(default, deserialize_with = "object")]
    pub button_reply: Option<Choice>,
    /// The list row chosen.
    #[serde(default, deserialize_with = "object")]
    pub list_reply: Option<Choice>,
    /// The Flow completed.
    #[serde(default, deserialize_with = "object")]
    pub nfm_reply: Option<FlowReply>,
    /// Everything else (other kinds' content).
    #[serde(flatten)]
    pub other: Map<String, Json>,
}

impl Interactive {
    /// The id of the button tapped or the row chosen, as the business set it.
    pub fn choice_id(&self) -> Option<&str> {
        let choice = match self.kind.as_str() {
            "button_reply" => self.button_reply.as_ref(),
            "list_reply" => self.list_reply.as_ref(),
            _ => None,
        };
        choice.and_then(|c| c.id.as_deref())
    }
}

/// A reply button or a list row, as the business defined it.
///
/// ```
/// use tower_whatsapp_auth::webhook::Choice;
///
/// let row: Choice = serde_json::from_str(r#"{"id":"priority_express","title":"Priority Mail Express",
///     "description":"Next Day to 2 Days"}"#)?;
/// assert_eq!(row.description.as_deref(), Some("Next Day to 2 Days"));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct Choice {
    /// Its id.
    #[serde(default, deserialize_with = "opt_text")]
    pub id: Option<String>,
    /// Its title.
    #[serde(default, deserialize_with = "opt_text")]
    pub title: Option<String>,
    /// A list row's description.
    #[serde(default, deserialize_with = "opt_text")]
    pub description: Option<String>,
}

/// A completed WhatsApp Flow (`nfm_reply`): what the user entered.
///
/// ```
/// use tower_whatsapp_auth::webhook::FlowReply;
///
/// let done: FlowReply = serde_json::from_str(r#"{"name":"flow","body":"Sent",
///     "response_json":"{\"flow_token\":\"AQAAAAACS5FpgQ_cAAAAAD0QI3s.\",\"delivery_rating\":\"4\"}"}"#)?;
/// assert_eq!(done.flow_token(), Some("AQAAAAACS5FpgQ_cAAAAAD0QI3s."));
/// assert_eq!(done.response_json.unwrap()["delivery_rating"], "4");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct FlowReply {
    /// `flow`.
    #[serde(default, deserialize_with = "opt_text")]
    pub name: Option<String>,
    /// `Sent`.
    #[serde(default, deserialize_with = "opt_text")]
    pub body: Option<String>,
    /// The Flow's answers: Graph sends them as a string holding JSON; this
    /// is that JSON, parsed (a string that is not JSON stays a string).
    #[serde(default, deserialize_with = "json_in_text")]
    pub response_json: Option<Json>,
    /// Everything else.
    #[serde(flatten)]
    pub other: Map<String, Json>,
}

impl FlowReply {
    /// The `flow_token` the Flow was sent with, when it is in the answers.
    pub fn flow_token(&self) -> Option<&str> {
        self.response_json.as_ref()?.get("flow_token")?.as_str()
    }
}

/// A template's quick-reply button tapped (`button` messages).
///
/// ```
/// use tower_whatsapp_auth::webhook::Button;
///
/// let tapped: Button = serde_json::from_str(r#"{"payload":"callback_data","text":"title"}"#)?;
/// assert_eq!(tapped.payload.as_deref(), Some("callback_data"));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct Button {
    /// The payload the business set on the button.
    #[serde(default, deserialize_with = "opt_text")]
    pub payload: Option<String>,
    /// The button's text.
    #[serde(default, deserialize_with = "opt_text")]
    pub text: Option<String>,
    /// Everything else.
    #[serde(flatten)]
    pub other: Map<String, Json>,
}

/// An emoji reaction to a message, or its removal.
///
/// ```
/// use tower_whatsapp_auth::webhook::Reaction;
///
/// let removed: Reaction = serde_json::from_str(r#"{"message_id":"wamid.yzxyzx=","emoji":""}"#)?;
/// assert!(removed.is_removal());
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct Reaction {
    /// The message reacted to.
    #[serde(default, deserialize_with = "opt_text")]
    pub message_id: Option<String>,
    /// The emoji; missing or empty when the reaction was removed.
    #[serde(default, deserialize_with = "opt_text")]
    pub emoji: Option<String>,
    /// Everything else.
    #[serde(flatten)]
    pub other: Map<String, Json>,
}

impl Reaction {
    /// Whether this removes a reaction (no emoji, or an empty one).
    pub fn is_removal(&self) -> bool {
        self.emoji.as_deref().is_none_or(str::is_empty)
    }
}
