//! Validation: before first use and then once per interval, in the cell's
//! task. Only a verdict on the token itself changes what requests do; when
//! Graph cannot answer, traffic flows and validation is tried again later.
//! Also the permission check, on request.

use std::sync::Arc;

use super::transition::{Observer, Transition};
use super::TokenCell;
use crate::calls::{TokenInfo, Verdict};
use crate::error::Error;
use crate::graph::GraphError;
use crate::permissions::{Listing, PermissionReport};
use crate::refusal::Refusal;
use crate::secret::Secret;

impl TokenCell {
    /// Validates the current token: what Graph says of it.
    pub(super) async fn validate(&self) -> Transition {
        let cred = self.current();
        let Some(token) = cred.token().cloned() else {
            return Transition::Unchanged;
        };
        let generation = cred.generation;
        self.apply(Transition::Validating { generation });
        let verdict = self.ask_graph(&token).await;
        let deferred = |reason: String| Transition::ValidationDeferred { generation, reason };
        match verdict {
            Verdict::Valid(info) => match self.missing_permissions(&token, info.as_ref()).await {
                Ok(forbidden) => validated(generation, info.as_ref(), forbidden, None),
                // No verdict on permissions: traffic flows, ask again later.
                Err(why) => deferred(why),
            },
            Verdict::Refused(err) => match Refusal::of(&err, self.can_refresh()) {
                // The token authenticated; what it may do is each request's concern.
                Refusal::Forbidden => validated(generation, None, None, Some(err)),
                Refusal::NotAboutToken => deferred(err.to_string()),
                Refusal::Renew | Refusal::Dead | Refusal::Block(_) => Transition::Refused {
                    generation,
                    cause: err,
                    seen_by: Observer::Validation,
                },
            },
            Verdict::Unknown(reason) => deferred(reason),
        }
    }

    /// What Graph says of `token` (`/debug_token`, else the phone number
    /// node), bounded by the validation timeout. With many tenants, a
    /// bounded number ask at once (the wait is bounded by the queue: each
    /// holder by the validation timeout).
    pub(super) async fn ask_graph(&self, token: &Secret) -> Verdict {
        let _permit = match &self.config().validation_gate {
            Some(gate) => gate.clone().acquire_owned().await.ok(),
            None => None,
        };
        let limit = self.config().validation_timeout;
        tokio::time::timeout(limit, self.graph().validate(token))
            .await
            .unwrap_or_else(|_| {
                Verdict::Unknown(format!(
                    "Graph did not answer the validation call within {limit:?}"
                ))
            })
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
            Err(Verdict::Refused(err)) => Err(Error::refused(&err)),
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
                    self.apply(Transition::Refused {
                        generation: cred.generation,
                        cause: refusal.clone(),
                        seen_by: Observer::Validation,
                    });
                }
                return Err(match &error {
                    Error::Graph(g) => Error::Graph(self.advise(g)),
                    _ => error,
                });
            }
        };
        if let Some(info) = &info {
            let missing = report.missing(&self.config().required_permissions);
            let forbidden = (!missing.is_empty()).then_some(Error::PermissionMissing { missing });
            self.apply(validated(cred.generation, Some(info), forbidden, None));
        }
        Ok(report)
    }
}

/// Graph accepted generation `generation`, telling what `/debug_token` knows
/// of it (`info`); `forbidden` when it lacks a required permission.
fn validated(
    generation: u64,
    info: Option<&TokenInfo>,
    forbidden: Option<Error>,
    call_refused: Option<GraphError>,
) -> Transition {
    Transition::Validated {
        generation,
        token_type: info.and_then(|i| i.token_type.as_deref().map(Arc::from)),
        expiry: info.and_then(|i| i.expiry),
        forbidden,
        call_refused,
    }
}
