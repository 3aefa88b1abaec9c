//! [`TokenCell::diagnose`]: everything that decides whether a setup can send
//! WhatsApp messages, checked against Graph, each failure with its fix.
//! The `doctor` example prints it.

use std::time::Duration;

use crate::graph_call::{self, TokenInfo};
use crate::{
    ErrorKind, Expiry, GraphError, Permission, PermissionReport, PermissionStatus, TokenCell,
};

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

    fn from_graph(err: &GraphError) -> Check<T> {
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

/// A setup's health, from [`TokenCell::diagnose`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Diagnosis {
    /// The token, masked (`EAAG…(212 chars)`).
    pub token: String,
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

impl TokenCell {
    /// Checks the token, its expiry and permissions, the `appsecret_proof`
    /// and the phone number against Graph, through the stack's service.
    pub async fn diagnose(&self) -> Diagnosis {
        let cred = self.started_credential().await;
        let config = self.config().clone();
        let graph = self.graph();
        let mut diagnosis = Diagnosis {
            token: cred.token().masked(),
            valid: Check::Skipped("not checked".into()),
            token_type: None,
            expiry: Check::Skipped("needs the app id and secret (for /debug_token)".into()),
            permissions: Check::Skipped("the token is not valid".into()),
            appsecret_proof: Check::Skipped("no app secret configured".into()),
            phone_number: Check::Skipped("no phone number id configured".into()),
        };
        if let Some(err) = cred.unusable() {
            diagnosis.valid = Check::Failed {
                problem: err.to_string(),
                fix: err
                    .graph_error()
                    .map_or("fix the configuration", GraphError::hint)
                    .to_owned(),
            };
            return diagnosis;
        }
        let with_debug_token = config.app_credentials().is_some();
        let info: Option<TokenInfo> = if with_debug_token {
            match graph_call::debug_token(graph, &config, cred.token()).await {
                Ok(info) => Some(info),
                Err(graph_call::Validation::Unknown(why)) => {
                    diagnosis.valid = Check::Failed {
                        problem: format!("could not inspect the token: {why}"),
                        fix: "check the app id and app secret (debug_token authenticates with them) and network access to Graph".into(),
                    };
                    None
                }
                Err(_) => None,
            }
        } else {
            None
        };
        match &info {
            Some(info) => {
                diagnosis.token_type = info.token_type.clone();
                if info.is_valid {
                    diagnosis.valid = Check::Passed(());
                    diagnosis.expiry = match info.expiry {
                        Some(expiry) => Check::Passed(expiry),
                        None => Check::Skipped("debug_token did not say".into()),
                    };
                    diagnosis.permissions = Check::Passed(PermissionReport::judge(
                        info.listing(),
                        config.business_account_id.as_deref(),
                    ));
                } else {
                    let err = info.error.clone().unwrap_or_else(|| {
                        GraphError::new(http::StatusCode::OK, 190, None, "the token is not valid")
                    });
                    if err.kind() == ErrorKind::TokenExpired {
                        diagnosis.expiry = Check::Failed {
                            problem: "expired".into(),
                            fix: err.hint().to_owned(),
                        };
                    }
                    diagnosis.valid = Check::from_graph(&err);
                }
            }
            None if !with_debug_token => {
                diagnosis.valid =
                    match graph_call::get_with_token(graph, &config, &cred, "me").await {
                        Ok(answer) if answer.status.is_success() => Check::Passed(()),
                        Ok(answer) => match &answer.error {
                            Some(err) if err.kind().is_token_rejected() => Check::from_graph(err),
                            // Authenticated, even if /me is not allowed.
                            Some(err) if err.kind() == ErrorKind::PermissionMissing => {
                                Check::Passed(())
                            }
                            Some(err) => Check::Skipped(format!("Graph answered {err}")),
                            None => Check::Skipped(format!(
                                "Graph answered HTTP {}",
                                answer.status.as_u16()
                            )),
                        },
                        Err(why) => Check::Skipped(why),
                    };
                if diagnosis.valid.passed() {
                    diagnosis.permissions =
                        match graph_call::me_permissions(graph, &config, &cred).await {
                            Ok(listing) => Check::Passed(PermissionReport::judge(
                                listing,
                                config.business_account_id.as_deref(),
                            )),
                            Err(graph_call::Validation::Refused(err)) => Check::from_graph(&err),
                            Err(graph_call::Validation::Unknown(why)) => Check::Skipped(why),
                            Err(graph_call::Validation::Valid(_)) => {
                                Check::Skipped("unexpected answer".into())
                            }
                        };
                }
            }
            None => {}
        }
        if !diagnosis.valid.passed() {
            return diagnosis;
        }
        let node = config.phone_number_id.clone();
        let answer =
            graph_call::get_with_token(graph, &config, &cred, node.as_deref().unwrap_or("me"))
                .await;
        if config.app_secret.is_some() {
            diagnosis.appsecret_proof = match &answer {
                Ok(a) if a.status.is_success() => Check::Passed(()),
                Ok(a) => match &a.error {
                    Some(err) if err.code() == 100 && err.message().contains("appsecret_proof") => Check::Failed {
                        problem: "Graph rejected the appsecret_proof".into(),
                        fix: "the app secret does not belong to the app that issued the token: configure that app's secret".into(),
                    },
                    _ => Check::Skipped("the call carrying it failed for another reason".into()),
                },
                Err(why) => Check::Skipped(why.clone()),
            };
        }
        if node.is_some() {
            diagnosis.phone_number = match answer {
                Ok(a) if a.status.is_success() => {
                    let value: serde_json::Value =
                        serde_json::from_slice(&a.body).unwrap_or_default();
                    let field = |name: &str| value[name].as_str().unwrap_or("?").to_owned();
                    Check::Passed(PhoneNumber {
                        verified_name: field("verified_name"),
                        display_phone_number: field("display_phone_number"),
                        quality_rating: field("quality_rating"),
                    })
                }
                Ok(a) => match &a.error {
                    Some(err) => Check::from_graph(err),
                    None => Check::Failed {
                        problem: format!("HTTP {} without a Graph error", a.status.as_u16()),
                        fix: "check GRAPH_API_BASE and the phone number id".into(),
                    },
                },
                Err(why) => Check::Failed {
                    problem: why,
                    fix: "check network access to the Graph API base URL".into(),
                },
            };
        }
        diagnosis
    }
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
