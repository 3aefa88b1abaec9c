//! Orders, system notices, the ad a user came from, and what an
//! unsupported message was. Each keeps the fields this crate does not type
//! in `other`.

use serde::Deserialize;
use serde_json::{Map, Value as Json};

use super::lenient::{list, opt_float, opt_integer, opt_text};

/// An order placed from a catalog.
///
/// ```
/// use tower_whatsapp_auth::webhook::Order;
///
/// let order: Order = serde_json::from_str(r#"{"catalog_id":"354160437058781","product_items":[
///     {"product_retailer_id":"SODA","quantity":"2","item_price":10,"currency":"ILS"}]}"#)?;
/// assert_eq!(order.product_items[0].quantity, Some(2));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct Order {
    /// The catalog.
    #[serde(default, deserialize_with = "opt_text")]
    pub catalog_id: Option<String>,
    /// The user's note.
    #[serde(default, deserialize_with = "opt_text")]
    pub text: Option<String>,
    /// The items.
    #[serde(default, deserialize_with = "list")]
    pub product_items: Vec<ProductItem>,
    /// Everything else.
    #[serde(flatten)]
    pub other: Map<String, Json>,
}

/// One line of an [`Order`].
///
/// ```
/// use tower_whatsapp_auth::webhook::ProductItem;
///
/// let line: ProductItem = serde_json::from_str(r#"{"product_retailer_id":"HAMBURGER","quantity":3,"item_price":30.5}"#)?;
/// assert_eq!((line.quantity, line.item_price), (Some(3), Some(30.5)));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct ProductItem {
    /// The product's id in the catalog.
    #[serde(default, deserialize_with = "opt_text")]
    pub product_retailer_id: Option<String>,
    /// How many.
    #[serde(default, deserialize_with = "opt_integer")]
    pub quantity: Option<i64>,
    /// The unit price.
    #[serde(default, deserialize_with = "opt_float")]
    pub item_price: Option<f64>,
    /// Its currency.
    #[serde(default, deserialize_with = "opt_text")]
    pub currency: Option<String>,
    /// Everything else.
    #[serde(flatten)]
    pub other: Map<String, Json>,
}

/// A system notice: a user changed their number (`user_changed_number`) or
/// business-scoped id (`user_changed_user_id`), their identity changed, ….
///
/// ```
/// use tower_whatsapp_auth::webhook::System;
///
/// let notice: System = serde_json::from_str(r#"{"body":"User A changed from 972987654321 to 972912345678",
///     "wa_id":"972912345678","type":"user_changed_number"}"#)?;
/// assert_eq!(notice.kind.as_deref(), Some("user_changed_number"));
/// assert_eq!(notice.wa_id.as_deref(), Some("972912345678"));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct System {
    /// What happened, in words.
    #[serde(default, deserialize_with = "opt_text")]
    pub body: Option<String>,
    /// `user_changed_number`, `user_changed_user_id`,
    /// `customer_identity_changed`, ….
    #[serde(default, rename = "type", deserialize_with = "opt_text")]
    pub kind: Option<String>,
    /// The user's new WhatsApp id (phone number), if it changed.
    #[serde(default, deserialize_with = "opt_text")]
    pub wa_id: Option<String>,
    /// The user's (new) business-scoped user id.
    #[serde(default, deserialize_with = "opt_text")]
    pub user_id: Option<String>,
    /// The user's (new) parent business-scoped user id.
    #[serde(default, deserialize_with = "opt_text")]
    pub parent_user_id: Option<String>,
    /// Everything else (`customer`, `new_wa_id` of older versions, …).
    #[serde(flatten)]
    pub other: Map<String, Json>,
}

/// The ad or post a user came from (click-to-WhatsApp ads).
///
/// ```
/// use tower_whatsapp_auth::webhook::Referral;
///
/// let from_ad: Referral = serde_json::from_str(r#"{"source_type":"ad","source_id":"ADID","ctwa_clid":"CTWA_CLID"}"#)?;
/// assert_eq!(from_ad.ctwa_clid.as_deref(), Some("CTWA_CLID"));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct Referral {
    /// The ad's or post's URL.
    #[serde(default, deserialize_with = "opt_text")]
    pub source_url: Option<String>,
    /// Its id.
    #[serde(default, deserialize_with = "opt_text")]
    pub source_id: Option<String>,
    /// `ad` or `post`.
    #[serde(default, deserialize_with = "opt_text")]
    pub source_type: Option<String>,
    /// Its headline.
    #[serde(default, deserialize_with = "opt_text")]
    pub headline: Option<String>,
    /// Its text.
    #[serde(default, deserialize_with = "opt_text")]
    pub body: Option<String>,
    /// `image` or `video`.
    #[serde(default, deserialize_with = "opt_text")]
    pub media_type: Option<String>,
    /// The click id, for conversion reporting.
    #[serde(default, deserialize_with = "opt_text")]
    pub ctwa_clid: Option<String>,
    /// Everything else (`image_url`, `video_url`, `thumbnail_url`, …).
    #[serde(flatten)]
    pub other: Map<String, Json>,
}

/// What an `unsupported` message was (Meta: "Message type is currently not
/// supported"; the message's `errors` say so).
///
/// ```
/// use tower_whatsapp_auth::webhook::Unsupported;
///
/// let what: Unsupported = serde_json::from_str(r#"{"type":"edit"}"#)?;
/// assert_eq!(what.kind.as_deref(), Some("edit"));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct Unsupported {
    /// The kind WhatsApp could not deliver through the API.
    #[serde(default, rename = "type", deserialize_with = "opt_text")]
    pub kind: Option<String>,
    /// Everything else.
    #[serde(flatten)]
    pub other: Map<String, Json>,
}
