//! Which WhatsApp permissions a token has: [`PermissionReport`].
//!
//! With app credentials the report comes from `/debug_token` (`scopes`, and
//! `granular_scopes` with the WhatsApp Business Account ids each permission
//! covers); without them from `/me/permissions` (`granted`, `declined`,
//! `expired`). Get one with
//! [`TokenCell::check_permissions`](crate::TokenCell::check_permissions), or
//! make the stack refuse to send without them with
//! [`WhatsAppAuthLayer::require_permissions`](crate::WhatsAppAuthLayer::require_permissions).
//!
//! ```
//! use tower_whatsapp_auth::permissions::{Permission, PermissionStatus};
//! assert_eq!(Permission::WhatsappBusinessMessaging.name(), "whatsapp_business_messaging");
//! assert!(Permission::WhatsappBusinessMessaging.how_to_grant().contains("System users"));
//! assert!(!PermissionStatus::Declined.is_usable());
//! ```

use std::fmt;

/// A permission the WhatsApp Cloud API needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Permission {
    /// `whatsapp_business_messaging`: send and receive messages.
    WhatsappBusinessMessaging,
    /// `whatsapp_business_management`: manage the account, templates, numbers.
    WhatsappBusinessManagement,
    /// `business_management`: Business Manager operations.
    BusinessManagement,
}

impl Permission {
    /// All three, in the order reports list them.
    pub const ALL: [Permission; 3] = [
        Permission::WhatsappBusinessMessaging,
        Permission::WhatsappBusinessManagement,
        Permission::BusinessManagement,
    ];

    /// Graph's name for it.
    pub fn name(self) -> &'static str {
        match self {
            Permission::WhatsappBusinessMessaging => "whatsapp_business_messaging",
            Permission::WhatsappBusinessManagement => "whatsapp_business_management",
            Permission::BusinessManagement => "business_management",
        }
    }

    /// Parses Graph's name.
    pub fn from_name(name: &str) -> Option<Permission> {
        Permission::ALL.into_iter().find(|p| p.name() == name)
    }

    /// Whether Graph scopes it to WhatsApp Business Accounts (granular scopes).
    fn is_account_scoped(self) -> bool {
        self != Permission::BusinessManagement
    }

    /// How to grant it.
    pub fn how_to_grant(self) -> &'static str {
        match self {
            Permission::WhatsappBusinessMessaging => "in Business Settings → System users, assign the WhatsApp account to the system user and generate a token with whatsapp_business_messaging (user tokens: request it in Facebook Login and pass App Review)",
            Permission::WhatsappBusinessManagement => "in Business Settings → System users, generate a token with whatsapp_business_management for the WhatsApp account (user tokens: request it in Facebook Login and pass App Review)",
            Permission::BusinessManagement => "generate the token with business_management (Business Settings → System users, or Facebook Login for user tokens)",
        }
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a permission stands for a token.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PermissionStatus {
    /// Granted (for the configured business account, when one is set and
    /// Graph says which accounts the grant covers).
    Granted,
    /// Granted, but only for other WhatsApp Business Accounts.
    GrantedForOtherAccounts {
        /// The accounts it covers.
        target_ids: Vec<String>,
    },
    /// The user declined it.
    Declined,
    /// It was granted and has expired.
    Expired,
    /// Not granted at all.
    Missing,
}

impl PermissionStatus {
    /// Whether calls needing the permission can succeed.
    pub fn is_usable(&self) -> bool {
        *self == PermissionStatus::Granted
    }
}

impl fmt::Display for PermissionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PermissionStatus::Granted => f.write_str("granted"),
            PermissionStatus::GrantedForOtherAccounts { target_ids } => {
                write!(
                    f,
                    "granted only for other business accounts ({})",
                    target_ids.join(", ")
                )
            }
            PermissionStatus::Declined => f.write_str("declined"),
            PermissionStatus::Expired => f.write_str("expired"),
            PermissionStatus::Missing => f.write_str("missing"),
        }
    }
}

/// The permissions a token has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermissionReport {
    entries: Vec<(Permission, PermissionStatus)>,
    targets: Vec<(Permission, Vec<String>)>,
    other_scopes: Vec<String>,
    from_debug_token: bool,
}

/// What Graph listed, before it is judged against a business account.
pub(crate) struct Listing {
    /// (name, status) where status is `granted`, `declined` or `expired`.
    pub statuses: Vec<(String, String)>,
    /// (name, target ids) from `granular_scopes`.
    pub granular: Vec<(String, Vec<String>)>,
    pub from_debug_token: bool,
}

impl PermissionReport {
    pub(crate) fn judge(listing: Listing, business_account_id: Option<&str>) -> PermissionReport {
        let mut entries = Vec::new();
        let mut targets = Vec::new();
        for permission in Permission::ALL {
            let listed = listing
                .statuses
                .iter()
                .find(|(name, _)| name == permission.name())
                .map(|(_, status)| status.as_str());
            let scoped = listing
                .granular
                .iter()
                .find(|(name, _)| name == permission.name())
                .map(|(_, ids)| ids.clone());
            let status = match listed {
                Some("granted") => match (&scoped, business_account_id) {
                    (Some(ids), Some(waba))
                        if permission.is_account_scoped()
                            && !ids.is_empty()
                            && !ids.iter().any(|id| id == waba) =>
                    {
                        PermissionStatus::GrantedForOtherAccounts {
                            target_ids: ids.clone(),
                        }
                    }
                    _ => PermissionStatus::Granted,
                },
                Some("declined") => PermissionStatus::Declined,
                Some("expired") => PermissionStatus::Expired,
                _ => PermissionStatus::Missing,
            };
            if let Some(ids) = scoped {
                targets.push((permission, ids));
            }
            entries.push((permission, status));
        }
        let other_scopes = listing
            .statuses
            .iter()
            .filter(|(name, status)| status == "granted" && Permission::from_name(name).is_none())
            .map(|(name, _)| name.clone())
            .collect();
        PermissionReport {
            entries,
            targets,
            other_scopes,
            from_debug_token: listing.from_debug_token,
        }
    }

    /// The status of `permission`.
    pub fn status(&self, permission: Permission) -> &PermissionStatus {
        self.entries
            .iter()
            .find(|(p, _)| *p == permission)
            .map(|(_, s)| s)
            .expect("every permission is judged")
    }

    /// Every permission with its status.
    pub fn entries(&self) -> impl Iterator<Item = (Permission, &PermissionStatus)> {
        self.entries.iter().map(|(p, s)| (*p, s))
    }

    /// The business accounts Graph says `permission` covers, when it says.
    pub fn target_ids(&self, permission: Permission) -> Option<&[String]> {
        self.targets
            .iter()
            .find(|(p, _)| *p == permission)
            .map(|(_, ids)| ids.as_slice())
    }

    /// Granted scopes other than the three WhatsApp ones.
    pub fn other_scopes(&self) -> &[String] {
        &self.other_scopes
    }

    /// Whether the report came from `/debug_token` (else `/me/permissions`).
    pub fn from_debug_token(&self) -> bool {
        self.from_debug_token
    }

    /// Which of `required` are not usable, with their status.
    pub fn missing(&self, required: &[Permission]) -> Vec<(Permission, PermissionStatus)> {
        required
            .iter()
            .map(|p| (*p, self.status(*p).clone()))
            .filter(|(_, status)| !status.is_usable())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing(statuses: &[(&str, &str)], granular: &[(&str, &[&str])]) -> Listing {
        Listing {
            statuses: statuses
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
            granular: granular
                .iter()
                .map(|(a, ids)| (a.to_string(), ids.iter().map(|s| s.to_string()).collect()))
                .collect(),
            from_debug_token: true,
        }
    }

    #[test]
    fn each_state_is_told_apart() {
        let report = PermissionReport::judge(
            listing(
                &[
                    ("whatsapp_business_messaging", "granted"),
                    ("whatsapp_business_management", "declined"),
                    ("public_profile", "granted"),
                ],
                &[("whatsapp_business_messaging", &["111"])],
            ),
            Some("111"),
        );
        assert_eq!(
            report.status(Permission::WhatsappBusinessMessaging),
            &PermissionStatus::Granted
        );
        assert_eq!(
            report.status(Permission::WhatsappBusinessManagement),
            &PermissionStatus::Declined
        );
        assert_eq!(
            report.status(Permission::BusinessManagement),
            &PermissionStatus::Missing
        );
        assert_eq!(report.other_scopes(), ["public_profile"]);
        assert_eq!(
            report
                .missing(&Permission::ALL)
                .iter()
                .map(|(p, _)| *p)
                .collect::<Vec<_>>(),
            [
                Permission::WhatsappBusinessManagement,
                Permission::BusinessManagement
            ]
        );
    }

    #[test]
    fn a_grant_for_another_account_is_not_usable() {
        let report = PermissionReport::judge(
            listing(
                &[("whatsapp_business_messaging", "granted")],
                &[("whatsapp_business_messaging", &["222"])],
            ),
            Some("111"),
        );
        let status = report.status(Permission::WhatsappBusinessMessaging);
        assert_eq!(
            status,
            &PermissionStatus::GrantedForOtherAccounts {
                target_ids: vec!["222".into()]
            }
        );
        assert!(!status.is_usable());
        // Without a configured account there is nothing to compare with.
        let report = PermissionReport::judge(
            listing(
                &[("whatsapp_business_messaging", "granted")],
                &[("whatsapp_business_messaging", &["222"])],
            ),
            None,
        );
        assert!(report
            .status(Permission::WhatsappBusinessMessaging)
            .is_usable());
    }

    #[test]
    fn expired_grants_are_reported() {
        let report =
            PermissionReport::judge(listing(&[("business_management", "expired")], &[]), None);
        assert_eq!(
            report.status(Permission::BusinessManagement),
            &PermissionStatus::Expired
        );
    }
}
