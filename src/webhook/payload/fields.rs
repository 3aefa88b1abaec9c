//! Deliveries of fields other than `messages`: each named ([`Field`]), each
//! value kept, the common ones typed (template status, account updates,
//! phone number quality, group events).

use serde::Deserialize;
use serde_json::{Map, Value as Json};

use super::errors::WebhookError;
use super::lenient::{list, object, opt_text, text};

/// The webhook field a change was delivered for.
///
/// ```
/// use tower_whatsapp_auth::webhook::Field;
///
/// assert_eq!(Field::of("account_update"), Field::AccountUpdate);
/// assert_eq!(Field::AccountUpdate.name(), Some("account_update"));
/// assert_eq!(Field::of("next_year_field"), Field::Unknown);
/// assert!(Field::of("group_status_update").is_group());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Field {
    /// `messages`: incoming messages, statuses, errors.
    Messages,
    /// `message_template_status_update`.
    MessageTemplateStatusUpdate,
    /// `message_template_quality_update`.
    MessageTemplateQualityUpdate,
    /// `message_template_components_update`.
    MessageTemplateComponentsUpdate,
    /// `template_category_update`.
    TemplateCategoryUpdate,
    /// `account_update`.
    AccountUpdate,
    /// `account_alerts`.
    AccountAlerts,
    /// `account_review_update`.
    AccountReviewUpdate,
    /// `phone_number_quality_update`.
    PhoneNumberQualityUpdate,
    /// `phone_number_name_update`.
    PhoneNumberNameUpdate,
    /// `business_capability_update`.
    BusinessCapabilityUpdate,
    /// `smb_message_echoes`: messages the business sent from the WhatsApp
    /// Business app.
    SmbMessageEchoes,
    /// `smb_app_state_sync`.
    SmbAppStateSync,
    /// `history`: past messages shared at onboarding.
    History,
    /// `user_preferences`.
    UserPreferences,
    /// `user_id_update`.
    UserIdUpdate,
    /// `calls`.
    Calls,
    /// `group_lifecycle_update`.
    GroupLifecycleUpdate,
    /// `group_participants_update`.
    GroupParticipantsUpdate,
    /// `group_settings_update`.
    GroupSettingsUpdate,
    /// `group_status_update`.
    GroupStatusUpdate,
    /// `security`.
    Security,
    /// A field this crate does not name (its `Change::field` says which).
    Unknown,
}

const NAMES: &[(Field, &str)] = &[
    (Field::Messages, "messages"),
    (
        Field::MessageTemplateStatusUpdate,
        "message_template_status_update",
    ),
    (
        Field::MessageTemplateQualityUpdate,
        "message_template_quality_update",
    ),
    (
        Field::MessageTemplateComponentsUpdate,
        "message_template_components_update",
    ),
    (Field::TemplateCategoryUpdate, "template_category_update"),
    (Field::AccountUpdate, "account_update"),
    (Field::AccountAlerts, "account_alerts"),
    (Field::AccountReviewUpdate, "account_review_update"),
    (
        Field::PhoneNumberQualityUpdate,
        "phone_number_quality_update",
    ),
    (Field::PhoneNumberNameUpdate, "phone_number_name_update"),
    (
        Field::BusinessCapabilityUpdate,
        "business_capability_update",
    ),
    (Field::SmbMessageEchoes, "smb_message_echoes"),
    (Field::SmbAppStateSync, "smb_app_state_sync"),
    (Field::History, "history"),
    (Field::UserPreferences, "user_preferences"),
    (Field::UserIdUpdate, "user_id_update"),
    (Field::Calls, "calls"),
    (Field::GroupLifecycleUpdate, "group_lifecycle_update"),
    (Field::GroupParticipantsUpdate, "group_participants_update"),
    (Field::GroupSettingsUpdate, "group_settings_update"),
    (Field::GroupStatusUpdate, "group_status_update"),
    (Field::Security, "security"),
];

impl Field {
    /// The field named `name`.
    pub fn of(name: &str) -> Field {
        NAMES
            .iter()
            .find(|(_, n)| *n == name)
            .map_or(Field::Unknown, |(field, _)| *field)
    }

    /// Its name, as Meta writes it (`None` for [`Field::Unknown`]).
    pub fn name(self) -> Option<&'static str> {
        NAMES.iter().find(|(f, _)| *f == self).map(|(_, n)| *n)
    }

    /// Whether it is one of the Groups API's fields (their values carry
    /// `groups`: [`GroupUpdate`]s).
    pub fn is_group(self) -> bool {
        matches!(
            self,
            Field::GroupLifecycleUpdate
                | Field::GroupParticipantsUpdate
                | Field::GroupSettingsUpdate
                | Field::GroupStatusUpdate
        )
    }
}

/// An `account_update`: something happened to a WhatsApp Business Account.
///
/// ```
/// use tower_whatsapp_auth::webhook::AccountUpdate;
///
/// let update: AccountUpdate = serde_json::from_str(r#"{"event":"PARTNER_APP_UNINSTALLED",
///     "waba_info":{"waba_id":"184943124712545","owner_business_id":"1284923862322270"}}"#)?;
/// assert!(update.ends_access());
/// assert_eq!(update.waba_info.unwrap().waba_id.as_deref(), Some("184943124712545"));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct AccountUpdate {
    /// `PARTNER_ADDED`, `PARTNER_REMOVED`, `PARTNER_APP_INSTALLED`,
    /// `PARTNER_APP_UNINSTALLED`, `ACCOUNT_DELETED`, `DISABLED_UPDATE`,
    /// `ACCOUNT_VIOLATION`, …
    #[serde(default, deserialize_with = "text")]
    pub event: String,
    /// The business phone number concerned, when the event names one.
    #[serde(default, deserialize_with = "opt_text")]
    pub phone_number: Option<String>,
    /// The account and its owner, for partner events.
    #[serde(default, deserialize_with = "object")]
    pub waba_info: Option<WabaInfo>,
    /// Everything else (`ban_info`, `violation_info`,
    /// `disconnection_info`, …).
    #[serde(flatten)]
    pub other: Map<String, Json>,
}

impl AccountUpdate {
    /// Whether the business took the app's access away, so its token is
    /// (or is about to be) dead: `PARTNER_APP_UNINSTALLED` (Meta: "a
    /// business customer deauthenticated or uninstalled the app"),
    /// `PARTNER_REMOVED` (the account was unshared with the partner, or the
    /// business disconnected its WhatsApp Business app number from Cloud
    /// API), `ACCOUNT_DELETED`. `ACCOUNT_OFFBOARDED` (a device change,
    /// followed by `ACCOUNT_RECONNECTED`) is not.
    pub fn ends_access(&self) -> bool {
        [
            "PARTNER_APP_UNINSTALLED",
            "PARTNER_REMOVED",
            "ACCOUNT_DELETED",
        ]
        .iter()
        .any(|event| self.event.trim().eq_ignore_ascii_case(event))
    }
}

/// An [`AccountUpdate`]'s `waba_info`.
///
/// ```
/// use tower_whatsapp_auth::webhook::WabaInfo;
///
/// let info: WabaInfo = serde_json::from_str(r#"{"waba_id":980198427658004,"partner_app_id":"5731794616896507"}"#)?;
/// assert_eq!(info.waba_id.as_deref(), Some("980198427658004"));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct WabaInfo {
    /// The WhatsApp Business Account id.
    #[serde(default, deserialize_with = "opt_text")]
    pub waba_id: Option<String>,
    /// The business portfolio that owns it.
    #[serde(default, deserialize_with = "opt_text")]
    pub owner_business_id: Option<String>,
    /// The partner's app, for app install events.
    #[serde(default, deserialize_with = "opt_text")]
    pub partner_app_id: Option<String>,
    /// Everything else (`solution_id`, …).
    #[serde(flatten)]
    pub other: Map<String, Json>,
}

/// A `message_template_status_update`: a template approved, rejected,
/// paused, disabled, ….
///
/// ```
/// use tower_whatsapp_auth::webhook::TemplateStatusUpdate;
///
/// let update: TemplateStatusUpdate = serde_json::from_str(r#"{"event":"REJECTED",
///     "message_template_id":1689556908129835,"message_template_name":"abandoned_cart","reason":"INVALID_FORMAT"}"#)?;
/// assert_eq!(update.message_template_id.as_deref(), Some("1689556908129835"));
/// assert_eq!(update.reason.as_deref(), Some("INVALID_FORMAT"));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct TemplateStatusUpdate {
    /// `APPROVED`, `REJECTED`, `PAUSED`, `DISABLED`, `PENDING_DELETION`, …
    #[serde(default, deserialize_with = "text")]
    pub event: String,
    /// The template's id (a number, read as text).
    #[serde(default, deserialize_with = "opt_text")]
    pub message_template_id: Option<String>,
    /// Its name.
    #[serde(default, deserialize_with = "opt_text")]
    pub message_template_name: Option<String>,
    /// Its language.
    #[serde(default, deserialize_with = "opt_text")]
    pub message_template_language: Option<String>,
    /// Its category.
    #[serde(default, deserialize_with = "opt_text")]
    pub message_template_category: Option<String>,
    /// Why (`NONE` when approved).
    #[serde(default, deserialize_with = "opt_text")]
    pub reason: Option<String>,
    /// Everything else (`rejection_info`, …).
    #[serde(flatten)]
    pub other: Map<String, Json>,
}

/// A `phone_number_quality_update`: a business number's messaging limit or
/// throughput changed, or it was flagged.
///
/// ```
/// use tower_whatsapp_auth::webhook::PhoneQualityUpdate;
///
/// let update: PhoneQualityUpdate = serde_json::from_str(r#"{"display_phone_number":"15550783881",
///     "event":"THROUGHPUT_UPGRADE","current_limit":"TIER_UNLIMITED"}"#)?;
/// assert_eq!(update.event, "THROUGHPUT_UPGRADE");
/// assert_eq!(update.current_limit.as_deref(), Some("TIER_UNLIMITED"));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct PhoneQualityUpdate {
    /// The number, as displayed.
    #[serde(default, deserialize_with = "opt_text")]
    pub display_phone_number: Option<String>,
    /// `THROUGHPUT_UPGRADE`, `ONBOARDING`, `FLAGGED`, `UNFLAGGED`,
    /// `UPGRADE`, `DOWNGRADE`, …
    #[serde(default, deserialize_with = "text")]
    pub event: String,
    /// The messaging limit tier now (`TIER_2K`, `TIER_UNLIMITED`, …).
    #[serde(default, deserialize_with = "opt_text")]
    pub current_limit: Option<String>,
    /// The business portfolio's daily limit, where Meta sends it.
    #[serde(default, deserialize_with = "opt_text")]
    pub max_daily_conversations_per_business: Option<String>,
    /// Everything else (`old_limit`, …).
    #[serde(flatten)]
    pub other: Map<String, Json>,
}

/// One event of a Groups API field (`value.groups[]`): a group created or
/// deleted, participants added or removed, settings changed, a group
/// suspended.
///
/// ```
/// use tower_whatsapp_auth::webhook::GroupUpdate;
///
/// let update: GroupUpdate = serde_json::from_str(r#"{"timestamp":1761888373,"group_id":"Y2FwaV9ncm91cDo",
///     "type":"group_participants_add","reason":"invite_link","added_participants":[{"wa_id":"917385180297"}]}"#)?;
/// assert_eq!(update.kind, "group_participants_add");
/// assert_eq!(update.added_participants[0].wa_id.as_deref(), Some("917385180297"));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct GroupUpdate {
    /// The group.
    #[serde(default, deserialize_with = "opt_text")]
    pub group_id: Option<String>,
    /// `group_create`, `group_delete`, `group_participants_add`,
    /// `group_participants_remove`, `group_join_request_created`,
    /// `group_settings_update`, `group_suspend`, …
    #[serde(default, rename = "type", deserialize_with = "text")]
    pub kind: String,
    /// When, as Graph wrote it.
    #[serde(default, deserialize_with = "opt_text")]
    pub timestamp: Option<String>,
    /// The request it answers, for the business's own requests.
    #[serde(default, deserialize_with = "opt_text")]
    pub request_id: Option<String>,
    /// Who joined.
    #[serde(default, deserialize_with = "list")]
    pub added_participants: Vec<Participant>,
    /// Who left or was removed.
    #[serde(default, deserialize_with = "list")]
    pub removed_participants: Vec<Participant>,
    /// Why the request failed, if it did.
    #[serde(default, deserialize_with = "list")]
    pub errors: Vec<WebhookError>,
    /// Everything else (`subject`, `invite_link`, `initiated_by`, …).
    #[serde(flatten)]
    pub other: Map<String, Json>,
}

/// A group participant named by a [`GroupUpdate`].
///
/// ```
/// use tower_whatsapp_auth::webhook::Participant;
///
/// let who: Participant = serde_json::from_str(r#"{"wa_id":"16505551234","user_id":"US.13491208655302741918",
///     "username":"@pablomorales"}"#)?;
/// assert_eq!(who.username.as_deref(), Some("@pablomorales"));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct Participant {
    /// Their phone number (may be empty).
    #[serde(default, deserialize_with = "opt_text")]
    pub wa_id: Option<String>,
    /// Their business-scoped user id.
    #[serde(default, deserialize_with = "opt_text")]
    pub user_id: Option<String>,
    /// Their username.
    #[serde(default, deserialize_with = "opt_text")]
    pub username: Option<String>,
    /// What the business's request named them by.
    #[serde(default, deserialize_with = "opt_text")]
    pub input: Option<String>,
    /// Everything else (`parent_user_id`, `country_code`, …).
    #[serde(flatten)]
    pub other: Map<String, Json>,
}
