//! [`TokenCell::diagnose`]: checks a setup against Graph, for the `doctor`
//! example and for operators.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::{Admission, Credential, State, TokenCell};
use crate::calls::Verdict;
use crate::diagnose::{Check, Diagnosis, PhoneNumber};
use crate::error::Error;
use crate::graph::{ErrorKind, GraphError, Misconfiguration};
use crate::permissions::PermissionReport;
use crate::secret::Secret;

/// Something that fails with a reason (a `String` or a [`Verdict`]) when it
/// does not finish in time.
trait TimedOut {
    fn timed_out(limit: Duration) -> Self;
}

impl TimedOut for String {
    fn timed_out(limit: Duration) -> Self {
        format!("Graph did not answer within {limit:?}")
    }
}

impl TimedOut for Verdict {
    fn timed_out(limit: Duration) -> Self {
        Verdict::Unknown(String::timed_out(limit))
    }
}

async fn timed<T, E: TimedOut>(
    limit: Duration,
    call: impl Future<Output = Result<T, E>>,
) -> Result<T, E> {
    tokio::time::timeout(limit, call)
        .await
        .unwrap_or_else(|_| Err(E::timed_out(limit)))
}

impl TokenCell {
    /// Checks the app credentials, the token, its expiry and permissions,
    /// the `appsecret_proof` and the phone number against Graph, through
    /// the stack's service. Each call is bounded by the validation timeout.
    /// The token is diagnosed as it is: nothing is renewed.
    pub async fn diagnose(&self) -> Diagnosis {
        let (cred, blocked) = match self.token_now().await {
            Ok(cred) => (cred, None),
            Err(error) => (self.current(), Some(error)),
        };
        let config = self.config();
        let token = cred
            .stamp
            .as_ref()
            .map(|s| s.token.clone())
            .unwrap_or_else(|| Secret::new(""));
        let mut d = Diagnosis {
            token: token.masked(),
            app_credentials: Check::Skipped("no app id and secret configured".into()),
            valid: Check::Skipped("not checked".into()),
            token_type: None,
            expiry: Check::Skipped("needs the app id and secret (for /debug_token)".into()),
            permissions: Check::Skipped("the token is not valid".into()),
            appsecret_proof: Check::Skipped("no app secret configured".into()),
            phone_number: Check::Skipped("no phone number id configured".into()),
        };
        if let Some(err) = blocked {
            let fix = match &err {
                Error::Misconfigured { what, .. } => what.fix(),
                other => other
                    .graph_error()
                    .map_or("fix the configuration", GraphError::hint),
            };
            d.valid = Check::Failed {
                problem: err.to_string(),
                fix: fix.to_owned(),
            };
            return d;
        }
        if config.app_credentials().is_some() {
            self.diagnose_with_debug_token(&token, &mut d).await;
        } else {
            self.diagnose_with_the_token(&token, &mut d).await;
        }
        if d.valid.passed() {
            self.diagnose_phone_number(&token, &mut d).await;
        }
        d
    }

    /// With app credentials: `/debug_token` tells validity, type, expiry
    /// and scopes, and proves the app id and secret.
    async fn diagnose_with_debug_token(&self, token: &Secret, d: &mut Diagnosis) {
        let config = self.config();
        let info = match timed(config.validation_timeout, self.graph().debug_token(token)).await {
            Ok(info) => info,
            Err(Verdict::Refused(err)) => {
                misconfigured(d, &err);
                return;
            }
            Err(verdict) => {
                let why = match verdict {
                    Verdict::Unknown(why) => why,
                    _ => "unexpected answer".into(),
                };
                d.valid = Check::Failed {
                    problem: format!("could not inspect the token: {why}"),
                    fix: "check network access to the Graph API base URL, then run this again"
                        .into(),
                };
                return;
            }
        };
        d.app_credentials = Check::Passed(());
        d.token_type = info.token_type.clone();
        if info.is_valid {
            d.valid = Check::Passed(());
            d.expiry = match info.expiry {
                Some(expiry) => Check::Passed(expiry),
                None => Check::Skipped("debug_token did not say".into()),
            };
            d.permissions = Check::Passed(PermissionReport::judge(
                info.listing(),
                config.business_account_id.as_deref(),
            ));
            return;
        }
        let err = info.error.clone().unwrap_or_else(|| {
            GraphError::about_inspected_token(190, None, "the token is not valid")
        });
        let err = self.advise(&err);
        if err.kind() == ErrorKind::TokenExpired {
            d.expiry = Check::Failed {
                problem: "expired".into(),
                fix: err.hint().to_owned(),
            };
        }
        d.valid = Check::from_graph(&err);
    }

    /// Without app credentials: a call with the token itself, and
    /// `/me/permissions`.
    async fn diagnose_with_the_token(&self, token: &Secret, d: &mut Diagnosis) {
        let config = self.config();
        let limit = config.validation_timeout;
        d.valid = match timed(limit, self.graph().get_with_token(token, "me")).await {
            Ok(answer) if answer.status.is_success() => Check::Passed(()),
            Ok(answer) => match &answer.error {
                Some(err) if err.kind() == ErrorKind::Misconfigured => {
                    misconfigured(d, err);
                    return;
                }
                Some(err) if err.kind().is_token_rejected() => Check::from_graph(&self.advise(err)),
                // Authenticated, even if /me is not allowed.
                Some(err) if err.kind() == ErrorKind::PermissionMissing => Check::Passed(()),
                Some(err) => Check::Skipped(format!("Graph answered {err}")),
                None => Check::Skipped(format!("Graph answered HTTP {}", answer.status.as_u16())),
            },
            Err(why) => Check::Skipped(why),
        };
        if d.valid.passed() {
            d.permissions = match timed(limit, self.graph().me_permissions(token)).await {
                Ok(listing) => Check::Passed(PermissionReport::judge(
                    listing,
                    config.business_account_id.as_deref(),
                )),
                Err(Verdict::Refused(err)) => Check::from_graph(&err),
                Err(Verdict::Unknown(why)) => Check::Skipped(why),
                Err(Verdict::Valid(_)) => Check::Skipped("unexpected answer".into()),
            };
        }
    }

    /// The phone number node, which also proves the `appsecret_proof`.
    async fn diagnose_phone_number(&self, token: &Secret, d: &mut Diagnosis) {
        let config = self.config();
        let node = config.phone_number_id.clone();
        let answer = timed(
            config.validation_timeout,
            self.graph()
                .get_with_token(token, node.as_deref().unwrap_or("me")),
        )
        .await;
        if config.app_secret.is_some() {
            d.appsecret_proof = match &answer {
                Ok(a) if a.status.is_success() => Check::Passed(()),
                Ok(a) => match &a.error {
                    Some(err) if err.kind() == ErrorKind::Misconfigured => Check::from_graph(err),
                    _ => Check::Skipped("the call carrying it failed for another reason".into()),
                },
                Err(why) => Check::Skipped(why.clone()),
            };
        }
        if node.is_none() {
            return;
        }
        d.phone_number = match answer {
            Ok(a) if a.status.is_success() => {
                let value: serde_json::Value = serde_json::from_slice(&a.body).unwrap_or_default();
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
}

/// Graph refused the app's configuration: say which setting, and leave
/// the token unjudged (it may well be fine).
fn misconfigured(d: &mut Diagnosis, err: &GraphError) {
    let failed = Check::from_graph(err);
    const UNCHECKED: &str =
        "not checked: Graph refused the app's configuration first (the token itself may be fine)";
    d.valid = Check::Skipped(UNCHECKED.into());
    d.expiry = Check::Skipped(UNCHECKED.into());
    d.permissions = Check::Skipped(UNCHECKED.into());
    match err.misconfiguration() {
        Some(Misconfiguration::AppSecret | Misconfiguration::AppSecretMissing) => {
            d.appsecret_proof = failed.clone();
            d.app_credentials = failed;
        }
        _ => d.app_credentials = failed,
    }
}

impl TokenCell {
    /// The token as it is now, once a source that had none has fetched
    /// one; the error requests would fail with if they fail. Unlike
    /// requests, this does not wait for validation or renewal.
    pub(super) async fn token_now(&self) -> Result<Arc<Credential>, Error> {
        loop {
            let mut changed = self.shared.published.subscribe();
            let cred = self.current();
            let now = Instant::now();
            match (&cred.state, cred.failure(now)) {
                (State::Pending { .. }, _)
                    if !matches!(cred.admission(now), Admission::Fail(_)) => {}
                (_, Some(error)) => return Err(error),
                _ if cred.stamp.is_none() => return Err(Error::Unavailable("no token".into())),
                _ => return Ok(cred),
            }
            self.kick()?;
            let _ = changed.changed().await;
        }
    }
}
