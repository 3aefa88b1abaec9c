//! [`Diagnosis`]: everything that decides whether a setup can send WhatsApp
//! messages, checked against Graph by
//! [`TokenCell::diagnose`](crate::TokenCell::diagnose), each failure with
//! its fix. The `doctor` example prints it.

use std::time::Duration;

use crate::{Expiry, GraphError, Permission, PermissionReport, PermissionStatus};

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

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
/// Formats a lifetime as a calendar date (UTC) and a distance, e.g.
/// `2026-12-25 (in 30 days)`.
pub fn describe_expiry(expiry: Expiry) -> String {
    match expiry {
        Expiry::Never => "never".into(),
        Expiry::Unknown => "unknown".into(),
        Expiry::In(left) => {
            let at = unix_now() + left.as_secs();
            let (y, m, d) = civil_date(at / 86_400);
            format!("{y:04}-{m:02}-{d:02} (in {})", human(left))
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

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
fn civil_date(days: u64) -> (u64, u64, u64) {
    // Shift to a March-based year so that leap days fall at the end.
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_are_right() {
        assert_eq!(civil_date(0), (1970, 1, 1));
        assert_eq!(civil_date(11_016), (2000, 2, 29));
        assert_eq!(civil_date(20_417), (2025, 11, 25));
        assert_eq!(civil_date(20_818), (2026, 12, 31));
    }

    #[test]
    fn lifetimes_read_naturally() {
        assert_eq!(describe_expiry(Expiry::Never), "never");
        assert!(
            describe_expiry(Expiry::In(Duration::from_secs(30 * 86_400))).ends_with("(in 30 days)")
        );
        assert_eq!(human(Duration::from_secs(90)), "90 seconds");
    }
}
