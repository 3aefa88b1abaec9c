//! Media, locations and contact cards users send. Each keeps the fields
//! this crate does not type in `other`.

use serde::Deserialize;
use serde_json::{Map, Value as Json};

use super::lenient::{list, object, opt_bool, opt_float, opt_text};

/// An image, audio (voice note or file), video, document or sticker. The
/// media itself is fetched with its `id` (`GET /{media-id}`, then its URL).
///
/// ```
/// use tower_whatsapp_auth::webhook::Media;
///
/// let voice: Media = serde_json::from_str(r#"{"mime_type":"audio/ogg; codecs=opus",
///     "sha256":"m04p=","id":"1234567890987654321","voice":true}"#)?;
/// assert_eq!(voice.id.as_deref(), Some("1234567890987654321"));
/// assert_eq!(voice.voice, Some(true));
/// assert_eq!(voice.caption, None);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct Media {
    /// The media id.
    #[serde(default, deserialize_with = "opt_text")]
    pub id: Option<String>,
    /// Its MIME type.
    #[serde(default, deserialize_with = "opt_text")]
    pub mime_type: Option<String>,
    /// The SHA-256 of the file, base64.
    #[serde(default, deserialize_with = "opt_text")]
    pub sha256: Option<String>,
    /// The caption (image, video, document).
    #[serde(default, deserialize_with = "opt_text")]
    pub caption: Option<String>,
    /// The file name (document).
    #[serde(default, deserialize_with = "opt_text")]
    pub filename: Option<String>,
    /// A download URL, when Graph includes one (it needs the token).
    #[serde(default, deserialize_with = "opt_text")]
    pub url: Option<String>,
    /// `true` for a voice note, `false` for an audio file.
    #[serde(default, deserialize_with = "opt_bool")]
    pub voice: Option<bool>,
    /// Whether a sticker is animated.
    #[serde(default, deserialize_with = "opt_bool")]
    pub animated: Option<bool>,
    /// Everything else.
    #[serde(flatten)]
    pub other: Map<String, Json>,
}

/// A location a user shared (their position, or a place with its name).
///
/// ```
/// use tower_whatsapp_auth::webhook::Location;
///
/// let at: Location = serde_json::from_str(r#"{"latitude":37.4611978,"longitude":"-122.2164385"}"#)?;
/// assert_eq!((at.latitude, at.longitude), (Some(37.4611978), Some(-122.2164385)));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct Location {
    /// Latitude.
    #[serde(default, deserialize_with = "opt_float")]
    pub latitude: Option<f64>,
    /// Longitude.
    #[serde(default, deserialize_with = "opt_float")]
    pub longitude: Option<f64>,
    /// The place's name.
    #[serde(default, deserialize_with = "opt_text")]
    pub name: Option<String>,
    /// Its address.
    #[serde(default, deserialize_with = "opt_text")]
    pub address: Option<String>,
    /// A link to it.
    #[serde(default, deserialize_with = "opt_text")]
    pub url: Option<String>,
    /// Everything else.
    #[serde(flatten)]
    pub other: Map<String, Json>,
}

/// A contact card a user shared (a `contacts` message holds one or more).
///
/// ```
/// use tower_whatsapp_auth::webhook::SharedContact;
///
/// let card: SharedContact = serde_json::from_str(r#"{"name":{"formatted_name":"Chandler Bing"},
///     "phones":[{"phone":"+1 555-555-5555","wa_id":"15555555555","type":"CELL"}]}"#)?;
/// assert_eq!(card.name.unwrap().formatted_name.as_deref(), Some("Chandler Bing"));
/// assert_eq!(card.phones[0].wa_id.as_deref(), Some("15555555555"));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct SharedContact {
    /// The contact's name.
    #[serde(default, deserialize_with = "object")]
    pub name: Option<ContactName>,
    /// Their phone numbers.
    #[serde(default, deserialize_with = "list")]
    pub phones: Vec<ContactPhone>,
    /// Everything else (`org`, `emails`, `urls`, `addresses`, `birthday`).
    #[serde(flatten)]
    pub other: Map<String, Json>,
}

/// A [`SharedContact`]'s name.
///
/// ```
/// use tower_whatsapp_auth::webhook::ContactName;
///
/// let name: ContactName = serde_json::from_str(r#"{"first_name":"Monica","formatted_name":"Monica"}"#)?;
/// assert_eq!(name.first_name.as_deref(), Some("Monica"));
/// assert_eq!(name.last_name, None);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct ContactName {
    /// The full name as shown.
    #[serde(default, deserialize_with = "opt_text")]
    pub formatted_name: Option<String>,
    /// First name.
    #[serde(default, deserialize_with = "opt_text")]
    pub first_name: Option<String>,
    /// Last name.
    #[serde(default, deserialize_with = "opt_text")]
    pub last_name: Option<String>,
    /// Everything else.
    #[serde(flatten)]
    pub other: Map<String, Json>,
}

/// A phone number of a [`SharedContact`].
///
/// ```
/// use tower_whatsapp_auth::webhook::ContactPhone;
///
/// let phone: ContactPhone = serde_json::from_str(r#"{"phone":"+1 (415) 555-0829","type":"MOBILE"}"#)?;
/// assert_eq!(phone.kind.as_deref(), Some("MOBILE"));
/// assert_eq!(phone.wa_id, None);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct ContactPhone {
    /// The number as written on the card.
    #[serde(default, deserialize_with = "opt_text")]
    pub phone: Option<String>,
    /// Its WhatsApp id, when it has one.
    #[serde(default, deserialize_with = "opt_text")]
    pub wa_id: Option<String>,
    /// `CELL`, `MOBILE`, `HOME`, `WORK`, …
    #[serde(default, rename = "type", deserialize_with = "opt_text")]
    pub kind: Option<String>,
    /// Everything else.
    #[serde(flatten)]
    pub other: Map<String, Json>,
}
