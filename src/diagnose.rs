//! [`Diagnosis`]: everything that decides whether a setup can send WhatsApp
//! messages, checked against Graph by
//! [`TokenCell::diagnose`](crate::TokenCell::diagnose), each failure with
//! its fix. The `doctor` example prints it.

use std::time::{Duration, SystemTime};

use crate::clock;

use crate::access_token::Expiry;
use crate::graph::GraphError;
use crate::permissions::{Permission, PermissionReport, PermissionStatus};

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check<T> {
    /// It passed, with what was found.
    Passed(T),
    /// It failed.
    Failed {
        /// What is wrong.
        problem: String,
        /// What to do about it.
        fix: String,
    },
    /// It could not be made.
    Skipped(String),
}

impl<T> Check<T> {
    /// Whether the check passed.
    pub fn passed(&self) -> bool {
        matches!(self, Check::Passed(_))
    }

    /// Whether the check failed (a skipped check did not).
    pub fn failed(&self) -> bool {
        matches!(self, Check::Failed { .. })
    }

    pub(crate) fn from_graph(err: &GraphError) -> Check<T> {
        let code = match err.subcode() {
            Some(sub) => format!("{}/{sub}", err.code()),
            None => err.code().to_string(),
        };
        Check::Failed {
            problem: format!("{} (Graph code {code}): {}", err.kind(), err.message()),
            fix: err.hint().to_owned(),
        }
    }
}

/// The phone number node, as Graph describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneNumber {
    /// `verified_name`.
    pub verified_name: String,
    /// `display_phone_number`.
    pub display_phone_number: String,
    /// `quality_rating` (GREEN, YELLOW, RED, UNKNOWN).
    pub quality_rating: String,
}

/// A setup's health, from [`TokenCell::diagnose`](crate::TokenCell::diagnose).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Diagnosis {
    /// The token, masked (`EAAG…(212 chars)`).
    pub token: String,
    /// Whether Graph accepts the app id and secret (the app token
    /// `/debug_token` is asked with).
    pub app_credentials: Check<()>,
    /// Whether Graph accepts the token.
    pub valid: Check<()>,
    /// Token type (`USER`, `SYSTEM_USER`, `PAGE`), from `/debug_token`.
    pub token_type: Option<String>,
    /// When it expires: `Passed(Expiry::Never)`, `Passed(Expiry::In(..))`,
    /// `Failed` when expired.
    pub expiry: Check<Expiry>,
    /// The permissions the token has.
    pub permissions: Check<PermissionReport>,
    /// Whether Graph accepts the `appsecret_proof` the stack sends.
    pub appsecret_proof: Check<()>,
    /// Whether the configured phone number id is reachable with the token.
    pub phone_number: Check<PhoneNumber>,
}

impl Diagnosis {
    /// Permissions needed to send messages that the token lacks.
    pub fn missing_for_sending(&self) -> Vec<(Permission, PermissionStatus)> {
        match &self.permissions {
            Check::Passed(report) => report.missing(&[Permission::WhatsappBusinessMessaging]),
            _ => Vec::new(),
        }
    }

    /// Whether this setup can send messages: a valid, unexpired token with
    /// `whatsapp_business_messaging`, an accepted proof, a reachable number.
    pub fn can_send(&self) -> bool {
        self.valid.passed()
            && !self.app_credentials.failed()
            && !self.expiry.failed()
            && !self.permissions.failed()
            && self.missing_for_sending().is_empty()
            && !self.appsecret_proof.failed()
            && self.phone_number.passed()
    }
}

/// Formats a lifetime as the moment it ends (UTC) and the distance to
/// it, e.g. `Fri, 25 Dec 2026 10:00 UTC (in 30 days)`. A lifetime that
/// ends past what a calendar shows (after the year 9999) reads
/// `after the year 9999 (in … days)`.
///
/// ```
/// use std::time::Duration;
/// use tower_whatsapp_auth::{diagnose::describe_expiry, Expiry};
/// assert!(describe_expiry(Expiry::In(Duration::from_secs(30 * 86_400))).ends_with("(in 30 days)"));
/// assert!(describe_expiry(Expiry::In(Duration::MAX)).starts_with("after the year 9999"));
/// assert_eq!(describe_expiry(Expiry::Never), "never");
/// ```
pub fn describe_expiry(expiry: Expiry) -> String {
    match expiry {
        Expiry::Never => "never".into(),
        Expiry::Unknown => "unknown".into(),
        Expiry::In(left) => {
            let at = clock::system_after(SystemTime::now(), left).and_then(clock::calendar);
            let at = at.unwrap_or_else(|| "after the year 9999".to_owned());
            format!("{at} (in {})", human(left))
        }
    }
}

fn human(d: Duration) -> String {
    let secs = d.as_secs();
    match secs {
        s if s >= 2 * 86_400 => format!("{} days", s / 86_400),
        s if s >= 2 * 3600 => format!("{} hours", s / 3600),
        s if s >= 120 => format!("{} minutes", s / 60),
        s => format!("{s} seconds"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_read_naturally() {
        assert_eq!(describe_expiry(Expiry::Never), "never");
        assert!(
            describe_expiry(Expiry::In(Duration::from_secs(30 * 86_400))).ends_with("(in 30 days)")
        );
        assert_eq!(human(Duration::from_secs(90)), "90 seconds");
        assert_eq!(human(Duration::from_secs(3 * 3600)), "3 hours");
        let far = describe_expiry(Expiry::In(Duration::MAX));
        assert_eq!(
            far,
            format!("after the year 9999 (in {} days)", u64::MAX / 86_400)
        );
    }
}
