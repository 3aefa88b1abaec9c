//! Getting a new token: the first fetch, renewal (ahead of expiry or after a
//! refusal), recovery of a dead token, and installing what the source
//! gives. Each job returns the [`Transition`] it ends in.

use std::time::SystemTime;

use tokio::time::Instant;

use super::coordinate::Coordination;
use super::credential::{Credential, State};
use super::driver::Plan;
use super::lifetime;
use super::schedule::{self, AfterFetch, Fetched};
use super::transition::{Observer, Origin, Transition};
use super::TokenCell;
use crate::access_token::{Expiry, Token};
use crate::calls::Verdict;
use crate::clock::later;
use crate::error::{Error, RefreshError};
use crate::graph::GraphError;
use crate::secret::Secret;
use crate::source::{FetchContext, FetchReason};
use crate::store::StoredToken;

impl TokenCell {
    /// Asks the source, bounded by the refresh timeout.
    pub(super) async fn fetch(
        &self,
        reason: FetchReason,
        current: Option<Secret>,
    ) -> Result<Token, RefreshError> {
        let limit = self.config().refresh_timeout;
        let ctx = FetchContext {
            reason,
            current,
            token_type: self.current().token_type.clone(),
            graph: self.graph().clone(),
        };
        tokio::time::timeout(limit, self.shared.source.fetch(ctx))
            .await
            .unwrap_or(Err(RefreshError::Timeout(limit)))
    }

    /// The back-off after the failures counted in `plan`.
    fn backoff(&self, plan: &Plan) -> std::time::Duration {
        let config = self.config();
        lifetime::backoff(
            plan.failures,
            config.refresh_backoff,
            config.refresh_backoff_max,
        )
    }

    /// A source with no token at hand: the first fetch.
    pub(super) async fn fetch_first(&self, plan: &mut Plan) -> Transition {
        self.apply(Transition::Fetching);
        match self.fetch(FetchReason::Startup, None).await {
            Ok(token) => {
                plan.failures = 0;
                plan.lineage = super::save::lineage(self.config(), &token.value);
                self.install(token, 0, Origin::Source, plan).await
            }
            Err(error) => {
                plan.failures += 1;
                let retry_at = later(Instant::now(), self.backoff(plan));
                Transition::FetchFailed { error, retry_at }
            }
        }
    }

    /// The known expiry passed without a renewal: the token is refused.
    pub(super) fn expire(&self) -> Transition {
        Transition::Refused {
            generation: self.current().generation,
            cause: GraphError::new(
                http::StatusCode::UNAUTHORIZED,
                190,
                Some(463),
                "the token reached the expiry Graph reported for it without being renewed",
            ),
            seen_by: Observer::Expiry,
        }
    }

    /// A dead or blocked token: asks the source for another one; a blocked
    /// token that Graph refused is validated again. A dead token its
    /// source cannot replace (a static one, or an exchange that hands the
    /// same token back) is put to Graph again: a refusal during an incident
    /// at Meta must not stop sending until a restart.
    pub(super) async fn recheck(&self, plan: &mut Plan) -> Transition {
        let cred = self.current();
        let generation = cred.generation;
        let mut error = None;
        if self.can_refresh() {
            match self
                .fetch(FetchReason::Recover, cred.token().cloned())
                .await
            {
                Ok(token) if Some(&token.value) != cred.token() => {
                    plan.failures = 0;
                    plan.lineage = super::save::lineage(self.config(), &token.value);
                    return self
                        .install(token, generation + 1, Origin::Source, plan)
                        .await;
                }
                Ok(_) => {}
                Err(failed) => error = Some(failed),
            }
        }
        let accepted = match (&cred.state, cred.token()) {
            (State::Dead { .. }, Some(token)) => {
                matches!(self.ask_graph(token).await, Verdict::Valid(_))
            }
            _ => false,
        };
        Transition::Rechecked {
            generation,
            error,
            accepted,
        }
    }

    /// Renews the token for `reason`; single-flight by construction (only
    /// the cell's task calls it), and across processes through a shared
    /// store's lock.
    pub(super) async fn renew(&self, reason: FetchReason, plan: &mut Plan) -> Transition {
        let cred = self.current();
        let generation = cred.generation;
        if matches!(cred.state, State::BackingOff { .. }) {
            // Back-off over: requests wait for this attempt instead of failing.
            self.apply(Transition::RenewalRetrying { generation });
        }
        if !self.can_refresh() {
            return match cred.refusal() {
                Some(cause) => Transition::Dead {
                    generation,
                    cause: cause.clone(),
                    error: None,
                },
                None => Transition::RenewalUnavailable { generation },
            };
        }
        let lock = match self.coordinate(generation, plan).await {
            Coordination::Adopted(installed) => {
                plan.failures = 0;
                return installed;
            }
            Coordination::Lead(lock) => lock,
        };
        self.apply(Transition::Renewing { generation, reason });
        let result = self.fetch(reason, cred.token().cloned()).await;
        let transition = self.after_renewal(reason, &cred, result, plan).await;
        if let Some(lock) = lock {
            self.release(lock).await;
        }
        transition
    }

    /// What the renewal of `cred` for `reason` that gave `result` changes.
    async fn after_renewal(
        &self,
        reason: FetchReason,
        cred: &Credential,
        result: Result<Token, RefreshError>,
        plan: &mut Plan,
    ) -> Transition {
        let generation = cred.generation;
        let fetched = match &result {
            Ok(token) if Some(&token.value) != cred.token() => Fetched::New,
            Ok(_) => Fetched::Same,
            Err(error) => Fetched::Failed(error.clone()),
        };
        if !matches!(fetched, Fetched::New) {
            plan.failures += 1;
        }
        let delay = self.backoff(plan);
        let time_left = cred
            .schedule
            .expires_at
            .is_none_or(|at| Instant::now() < at);
        let cause = cred.refusal().cloned();
        match (
            schedule::after_fetch(reason, &fetched, time_left, delay),
            result,
        ) {
            (AfterFetch::Install, Ok(token)) => {
                plan.failures = 0;
                self.install(token, generation + 1, Origin::Renewed, plan)
                    .await
            }
            (AfterFetch::RetryLater(retry_in), result) => Transition::RenewalDeferred {
                generation,
                expiry: result.as_ref().map_or(Expiry::Unknown, |t| t.expiry),
                retry_in,
                error: result.err(),
                failures: plan.failures,
            },
            (AfterFetch::BackOff(delay), Err(error)) => Transition::BackingOff {
                generation,
                delay,
                error,
                cause: cause.unwrap_or_else(|| expired_cause("renewal failed")),
                failures: plan.failures,
            },
            (AfterFetch::Dead(refusal), result) => Transition::Dead {
                generation,
                cause: refusal.or(cause).unwrap_or_else(|| {
                    expired_cause("the token was refused and its source has no other")
                }),
                error: result.err(),
            },
            (AfterFetch::Block(error), _) => Transition::Blocked {
                generation,
                revalidate: matches!(error, Error::Misconfigured { .. }),
                error,
            },
            (AfterFetch::Recheck | AfterFetch::Install | AfterFetch::BackOff(_), _) => {
                Transition::Unchanged
            }
        }
    }

    /// Persists `token` and makes it generation `generation`. It is saved
    /// first, so that a token in use is a token a restart (or another
    /// replica) can find. A token Graph just issued needs no validation;
    /// one read from a file, a variable or a store does.
    pub(super) async fn install(
        &self,
        token: Token,
        generation: u64,
        origin: Origin,
        plan: &mut Plan,
    ) -> Transition {
        let config = self.config();
        let now = Instant::now();
        let fresh = origin == Origin::Renewed;
        let mut credential = Credential::installed(
            generation,
            token.value.clone(),
            token.expiry,
            fresh,
            config,
            self.can_refresh(),
            now,
        );
        if fresh {
            // A renewal of the same user or system user: same type.
            credential.token_type = self.current().token_type.clone();
        }
        if self.shared.store.is_some() {
            plan.store_generation += 1;
            let left = credential
                .schedule
                .expires_at
                .map(|at| at.saturating_duration_since(now));
            let stored = StoredToken {
                token: token.value,
                expires_at: left
                    .and_then(|left| crate::clock::system_after(SystemTime::now(), left)),
                lineage: plan.lineage.clone(),
                saved_at: SystemTime::now(),
                generation: plan.store_generation,
            };
            if let Some(newer) = self.persist(stored).await {
                // Another process renewed to this generation first: its
                // token is the one every replica uses.
                plan.store_generation -= 1;
                match self.adopt(newer, plan, true) {
                    Some(adopted) => return adopted,
                    None => plan.store_generation += 1,
                }
            }
        }
        Transition::Installed { credential, origin }
    }
}

fn expired_cause(why: &str) -> GraphError {
    GraphError::new(http::StatusCode::UNAUTHORIZED, 190, None, why)
}
