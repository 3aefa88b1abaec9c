//! Getting a new token: the first fetch, renewal (ahead of expiry or after a
//! refusal), recovery of a dead token, and installing what the source gives.

use std::sync::atomic::Ordering;
use std::time::SystemTime;

use tokio::time::Instant;

use super::credential::{Credential, State};
use super::driver::Plan;
use super::schedule::{self, AfterFetch, Fetched};
use super::TokenCell;
use crate::access_token::{Expiry, Token};
use crate::clock::later;
use crate::config::Config;
use crate::error::RefreshError;
use crate::graph::GraphError;
use crate::source::{FetchContext, FetchReason};
use crate::store::{lineage_of, StoredToken};

/// Records what is known of `cred`'s expiry and plans its renewal.
pub(crate) fn learn_expiry(
    cred: &mut Credential,
    expiry: Expiry,
    now: Instant,
    config: &Config,
    can_renew: bool,
) {
    let draw = crate::random::fraction();
    if let Some((expires_at, renew_at)) =
        schedule::plan_expiry(expiry, now, config, can_renew, draw)
    {
        cred.schedule.expires_at = expires_at;
        cred.schedule.renew_at = renew_at;
    }
}

impl TokenCell {
    /// Asks the source, bounded by the refresh timeout.
    pub(super) async fn fetch(
        &self,
        reason: FetchReason,
        current: Option<crate::secret::Secret>,
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

    /// A source with no token at hand: the first fetch.
    pub(super) async fn fetch_first(&self, plan: &mut Plan) {
        self.update(|cur| match &cur.state {
            State::Pending { error: Some(_), .. } => {
                Some(Credential::pending(None, Instant::now()))
            }
            _ => None,
        });
        match self.fetch(FetchReason::Startup, None).await {
            Ok(token) => {
                plan.failures = 0;
                plan.lineage = lineage_of(&token.value);
                self.install(token, 0, false, plan).await;
            }
            Err(error) => {
                plan.failures += 1;
                let config = self.config();
                let delay = schedule::backoff(
                    plan.failures,
                    config.refresh_backoff,
                    config.refresh_backoff_max,
                );
                tracing::warn!(%error, retry_in = ?delay, "could not fetch the first access token");
                let retry_at = later(Instant::now(), delay);
                self.update(|cur| {
                    matches!(cur.state, State::Pending { .. })
                        .then(|| Credential::pending(Some(error.clone()), retry_at))
                        .map(|mut next| {
                            next.attached = cur.attached;
                            next
                        })
                });
            }
        }
    }

    /// The known expiry passed without a renewal: the token is refused.
    pub(super) fn expire(&self) {
        let cred = self.current();
        let cause = GraphError::new(
            http::StatusCode::UNAUTHORIZED,
            190,
            Some(463),
            "the token reached the expiry Graph reported for it without being renewed",
        );
        self.observe(cred.generation, &cause);
        // A source that cannot renew leaves it dead; make sure the deadline
        // does not fire again either way.
        self.update(|cur| {
            (cur.generation == cred.generation && cur.schedule.expires_at.is_some()).then(|| {
                let mut next = cur.clone();
                next.schedule.expires_at = None;
                next
            })
        });
    }

    /// A dead or blocked token: asks the source for another one; a blocked
    /// token that Graph refused is validated again.
    pub(super) async fn recheck(&self, plan: &mut Plan) {
        let cred = self.current();
        if self.can_refresh() {
            match self
                .fetch(
                    FetchReason::Recover,
                    cred.stamp.as_ref().map(|s| s.token.clone()),
                )
                .await
            {
                Ok(token) if Some(&token.value) != cred.stamp.as_ref().map(|s| &s.token) => {
                    plan.failures = 0;
                    plan.lineage = lineage_of(&token.value);
                    tracing::info!(
                        generation = cred.generation + 1,
                        "the token source has a different token; using it"
                    );
                    self.install(token, cred.generation + 1, false, plan).await;
                    return;
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(%error, "token source failed while rechecking a dead token")
                }
            }
        }
        let config = self.config();
        let recheck_at = later(Instant::now(), config.dead_recheck);
        let revalidate = config.validation_interval.is_some();
        self.update(|cur| {
            if cur.generation != cred.generation {
                return None;
            }
            let state = match &cur.state {
                State::Dead { cause, .. } => State::Dead {
                    cause: cause.clone(),
                    recheck_at,
                },
                State::Blocked {
                    revalidate: true, ..
                } if revalidate => State::Unvalidated,
                State::Blocked {
                    revalidate: true, ..
                } => State::Ready,
                State::Blocked {
                    error, revalidate, ..
                } => State::Blocked {
                    error: error.clone(),
                    recheck_at,
                    revalidate: *revalidate,
                },
                _ => return None,
            };
            Some(cur.with_state(state))
        });
    }

    /// Renews the token for `reason`; single-flight by construction (only
    /// the cell's task calls it).
    pub(super) async fn renew(&self, reason: FetchReason, plan: &mut Plan) {
        let cred = self.current();
        let seen = cred.generation;
        let cause = match &cred.state {
            State::Refused(cause) | State::BackingOff { cause, .. } => Some(cause.clone()),
            _ => None,
        };
        // Back-off over: requests wait for this attempt instead of failing.
        if let (State::BackingOff { .. }, Some(cause)) = (&cred.state, &cause) {
            self.update(|cur| {
                (cur.generation == seen).then(|| cur.with_state(State::Refused(cause.clone())))
            });
        }
        if !self.can_refresh() {
            match cause {
                Some(cause) => self.finish_dead(seen, cause),
                None => {
                    tracing::warn!(
                        generation = seen,
                        "the token expires soon and its source cannot renew it"
                    );
                    self.update(|cur| {
                        (cur.generation == seen).then(|| {
                            let mut next = cur.clone();
                            next.schedule.renew_at = None;
                            next
                        })
                    });
                }
            }
            return;
        }
        let lock = match self.coordinate(seen, plan).await {
            super::coordinate::Coordination::Adopted => {
                plan.failures = 0;
                return;
            }
            super::coordinate::Coordination::Lead(lock) => lock,
        };
        self.shared.refreshes.fetch_add(1, Ordering::Relaxed);
        tracing::info!(generation = seen, ?reason, "renewing access token");
        let current = cred.stamp.as_ref().map(|s| s.token.clone());
        let result = self.fetch(reason, current.clone()).await;
        let fetched = match &result {
            Ok(token) if Some(&token.value) != current.as_ref() => Fetched::New,
            Ok(_) => Fetched::Same,
            Err(error) => Fetched::Failed(error.clone()),
        };
        if !matches!(fetched, Fetched::New) {
            plan.failures += 1;
        }
        let config = self.config();
        let delay = schedule::backoff(
            plan.failures,
            config.refresh_backoff,
            config.refresh_backoff_max,
        );
        let now = Instant::now();
        let time_left = cred.schedule.expires_at.is_none_or(|at| now < at);
        match (
            schedule::after_fetch(reason, &fetched, time_left, delay),
            result,
        ) {
            (AfterFetch::Install, Ok(token)) => {
                plan.failures = 0;
                self.install(token, seen + 1, true, plan).await;
            }
            (AfterFetch::RetryLater(delay), result) => {
                if let Err(error) = &result {
                    tracing::warn!(generation = seen, failures = plan.failures, retry_in = ?delay, %error, "token renewal failed; the current token stays in use");
                }
                let expiry = result.map_or(Expiry::Unknown, |t| t.expiry);
                self.update(|cur| {
                    (cur.generation == seen).then(|| {
                        let mut next = cur.clone();
                        super::renew::learn_expiry(&mut next, expiry, now, config, true);
                        next.schedule.renew_at = Some(later(now, delay));
                        next
                    })
                });
            }
            (AfterFetch::BackOff(delay), Err(error)) => {
                tracing::warn!(generation = seen, failures = plan.failures, backoff = ?delay, %error, "token renewal failed");
                let cause = cause.unwrap_or_else(|| expired_cause("renewal failed"));
                self.update(|cur| {
                    (cur.generation == seen).then(|| {
                        cur.with_state(State::BackingOff {
                            until: later(now, delay),
                            error: error.clone(),
                            cause: cause.clone(),
                        })
                    })
                });
            }
            (AfterFetch::Dead(refusal), result) => {
                if let Err(error) = &result {
                    tracing::warn!(generation = seen, %error, "token renewal refused");
                }
                let cause = refusal.or(cause).unwrap_or_else(|| {
                    expired_cause("the token was refused and its source has no other")
                });
                self.finish_dead(seen, cause);
            }
            (AfterFetch::Block(error), _) => {
                tracing::error!(generation = seen, %error, "token renewal refused: the configuration must be fixed; requests fail without being sent");
                let revalidate = matches!(error, crate::error::Error::Misconfigured { .. });
                let state = self.blocked_by(error, revalidate);
                self.update(|cur| (cur.generation == seen).then(|| cur.with_state(state.clone())));
            }
            (AfterFetch::Recheck, _) | (AfterFetch::Install | AfterFetch::BackOff(_), _) => {}
        }
        if let Some(lock) = lock {
            self.release(lock).await;
        }
    }

    fn finish_dead(&self, generation: u64, cause: GraphError) {
        let cause = self.advise(&cause);
        let state = self.dead(cause.clone());
        let changed = self
            .update(|cur| (cur.generation == generation).then(|| cur.with_state(state.clone())));
        if changed {
            super::log_refusal(generation, &cause, &state);
        }
    }

    /// Persists `token` and installs it as generation `generation`. It is
    /// saved first, so that a token in use is a token a restart (or another
    /// replica) can find. A token Graph just issued (`fresh`) needs no
    /// validation; one read from a file, a variable or a store does.
    pub(super) async fn install(
        &self,
        token: Token,
        generation: u64,
        fresh: bool,
        plan: &mut Plan,
    ) {
        let config = self.config();
        let now = Instant::now();
        let state = match config.validation_interval {
            Some(_) if !fresh => State::Unvalidated,
            _ => State::Ready,
        };
        let mut next = Credential::new(generation, token.value.clone(), state, config, now);
        learn_expiry(&mut next, token.expiry, now, config, self.can_refresh());
        next.schedule.validate_at = match config.validation_interval {
            Some(interval) if fresh => Some(later(now, interval)),
            _ => None,
        };
        next.attached = true;
        if fresh {
            // A renewal of the same user or system user: same type.
            next.token_type = self.current().token_type.clone();
        }
        let expires_at = next.schedule.expires_at;
        if let Some(store) = &self.shared.store {
            plan.store_generation += 1;
            let stored = StoredToken {
                token: token.value,
                expires_at: expires_at.and_then(|at| {
                    crate::clock::system_after(SystemTime::now(), at.saturating_duration_since(now))
                }),
                lineage: plan.lineage.clone(),
                saved_at: SystemTime::now(),
                generation: plan.store_generation,
            };
            if let Err(error) =
                super::coordinate::ask(config.store_timeout, store.save(stored)).await
            {
                tracing::warn!(generation, %error, "could not persist the renewed token; it is used anyway");
            }
        }
        self.update(|_| Some(next.clone()));
        tracing::info!(generation, expires_in = ?expires_at.map(|at| at.saturating_duration_since(now)), "access token installed");
    }
}

fn expired_cause(why: &str) -> GraphError {
    GraphError::new(http::StatusCode::UNAUTHORIZED, 190, None, why)
}
