//! Validation: before first use and then once per interval, in the cell's
//! task. Only a verdict on the token itself changes what requests do; when
//! Graph cannot answer, traffic flows and validation is tried again later.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::time::Instant;

use super::credential::State;
use super::driver::Plan;
use super::renew::learn_expiry;
use super::schedule::{self, Refusal};
use super::TokenCell;
use crate::calls::{TokenInfo, Verdict};
use crate::clock::later;
use crate::error::Error;
use crate::graph::ErrorKind;
use crate::permissions::Listing;
use crate::permissions::PermissionReport;
use crate::secret::Secret;

impl TokenCell {
    /// Validates the current token and publishes the verdict.
    pub(super) async fn validate(&self, _plan: &mut Plan) {
        let cred = self.current();
        let Some(stamp) = cred.stamp.clone() else {
            return;
        };
        let generation = cred.generation;
        let config = self.config();
        self.shared.validations.fetch_add(1, Ordering::Relaxed);
        let limit = config.validation_timeout;
        let verdict = tokio::time::timeout(limit, self.graph().validate(&stamp.token))
            .await
            .unwrap_or_else(|_| {
                Verdict::Unknown(format!(
                    "Graph did not answer the validation call within {limit:?}"
                ))
            });
        let now = Instant::now();
        match verdict {
            Verdict::Valid(info) => {
                let forbidden = match self.missing_permissions(&stamp.token, info.as_ref()).await {
                    Ok(forbidden) => forbidden,
                    Err(why) => {
                        // No verdict on permissions: traffic flows, ask again later.
                        self.retry_validation_later(generation, &why);
                        return;
                    }
                };
                self.publish_valid(generation, info.as_ref(), forbidden, now);
            }
            Verdict::Refused(err) if err.kind() == ErrorKind::PermissionMissing => {
                // The token authenticated; what it may do is each request's concern.
                tracing::warn!(
                    generation,
                    code = err.code(),
                    "validation call lacks a permission; token accepted as valid"
                );
                self.mark_valid_until_next(generation, now);
            }
            Verdict::Refused(err) => match schedule::on_refusal(&err, self.can_refresh()) {
                Refusal::Ignore => self.retry_validation_later(generation, &err.to_string()),
                Refusal::Renew | Refusal::Dead | Refusal::Block(_) => {
                    tracing::info!(generation, code = err.code(), subcode = ?err.subcode(), "validation: Graph refused the token");
                    self.observe(generation, &err);
                }
            },
            Verdict::Unknown(reason) => self.retry_validation_later(generation, &reason),
        }
    }

    /// Publishes that generation `generation` is valid (with what
    /// `/debug_token` said of it), or blocked for lacking a required permission.
    fn publish_valid(
        &self,
        generation: u64,
        info: Option<&TokenInfo>,
        forbidden: Option<Error>,
        now: Instant,
    ) {
        let config = self.config();
        let expiry = info.and_then(|i| i.expiry);
        let token_type: Option<Arc<str>> =
            info.and_then(|i| i.token_type.as_deref().map(Arc::from));
        let changed = self.update(|cur| {
            (cur.generation == generation && cur.is_live()).then(|| {
                let mut next = cur.clone();
                if token_type.is_some() {
                    next.token_type = token_type.clone();
                }
                if let Some(expiry) = expiry {
                    learn_expiry(&mut next, expiry, now, config, self.can_refresh());
                }
                next.schedule.validate_at = config.validation_interval.map(|i| later(now, i));
                next.state = match &forbidden {
                    None => State::Ready,
                    Some(error) => State::Blocked {
                        error: error.clone(),
                        recheck_at: later(now, config.dead_recheck),
                        revalidate: false,
                    },
                };
                next
            })
        });
        match forbidden {
            Some(error) if changed => {
                tracing::error!(generation, %error, "required permission missing; requests fail without being sent")
            }
            _ => tracing::debug!(generation, "access token validated"),
        }
    }

    fn mark_valid_until_next(&self, generation: u64, now: Instant) {
        let interval = self.config().validation_interval;
        self.update(|cur| {
            (cur.generation == generation && cur.is_live()).then(|| {
                let mut next = cur.with_state(State::Ready);
                next.schedule.validate_at = interval.map(|i| later(now, i));
                next
            })
        });
    }

    /// No verdict: requests go on with the token, and validation is tried
    /// again after `validation_retry`.
    pub(super) fn retry_validation_later(&self, generation: u64, reason: &str) {
        let retry = self.config().validation_retry;
        let at = later(Instant::now(), retry);
        tracing::warn!(generation, reason, retry_in = ?retry, "could not validate the access token; requests continue");
        self.update(|cur| {
            (cur.generation == generation && cur.is_live()).then(|| {
                let mut next = cur.with_state(State::Ready);
                next.schedule.validate_at = Some(at);
                next
            })
        });
    }

    /// With required permissions configured: the error when the token lacks
    /// one, or why that could not be told.
    async fn missing_permissions(
        &self,
        token: &Secret,
        info: Option<&TokenInfo>,
    ) -> Result<Option<Error>, String> {
        let config = self.config();
        if config.required_permissions.is_empty() {
            return Ok(None);
        }
        let report = match info {
            Some(info) => {
                PermissionReport::judge(info.listing(), config.business_account_id.as_deref())
            }
            None => self
                .permission_report(token)
                .await
                .map_err(|e| e.to_string())?,
        };
        let missing = report.missing(&config.required_permissions);
        Ok((!missing.is_empty()).then_some(Error::PermissionMissing { missing }))
    }

    async fn permission_report(&self, token: &Secret) -> Result<PermissionReport, Error> {
        Ok(self.permission_listing(token).await?.0)
    }

    /// The token's permissions, and `/debug_token`'s answer when that is
    /// where they came from. Bounded by the validation timeout.
    async fn permission_listing(
        &self,
        token: &Secret,
    ) -> Result<(PermissionReport, Option<TokenInfo>), Error> {
        let config = self.config();
        let ask = async {
            if config.use_debug_token && config.app_credentials().is_some() {
                let info = self.graph().inspect(token).await?;
                Ok((info.listing(), Some(info)))
            } else {
                Ok((self.graph().me_permissions(token).await?, None))
            }
        };
        let listing: Result<(Listing, Option<TokenInfo>), Verdict> =
            tokio::time::timeout(config.validation_timeout, ask)
                .await
                .unwrap_or_else(|_| Err(Verdict::Unknown("the permission check timed out".into())));
        match listing {
            Ok((listing, info)) => Ok((
                PermissionReport::judge(listing, config.business_account_id.as_deref()),
                info,
            )),
            Err(Verdict::Refused(err)) => Err(match err.misconfiguration() {
                Some(what) => Error::Misconfigured { what, cause: err },
                None => Error::Graph(err),
            }),
            Err(Verdict::Unknown(why)) => Err(Error::Unavailable(why)),
            Err(Verdict::Valid(_)) => Err(Error::Unavailable("unexpected verdict".into())),
        }
    }

    /// Which of the WhatsApp permissions the current token has (from
    /// `/debug_token` with app credentials, else `/me/permissions`), asked
    /// now, bounded by the validation timeout. A `/debug_token` answer also
    /// counts as the token's validation, so the first request does not make
    /// the same call again.
    pub async fn check_permissions(&self) -> Result<PermissionReport, Error> {
        let cred = self.token_now().await?;
        let stamp = cred
            .stamp
            .clone()
            .ok_or_else(|| Error::Unavailable("no token".into()))?;
        let (report, info) = match self.permission_listing(&stamp.token).await {
            Ok(found) => found,
            Err(error) => {
                // A refusal of the token or of the app's configuration is a
                // verdict the stack acts on, as if validation had found it.
                if let Some(refusal) = error.graph_error() {
                    self.observe(cred.generation, refusal);
                }
                return Err(match &error {
                    Error::Graph(g) => Error::Graph(self.advise(g)),
                    _ => error,
                });
            }
        };
        if let Some(info) = &info {
            let config = self.config();
            let missing = report.missing(&config.required_permissions);
            let forbidden = (!missing.is_empty()).then_some(Error::PermissionMissing { missing });
            self.publish_valid(cred.generation, Some(info), forbidden, Instant::now());
        }
        Ok(report)
    }
}
