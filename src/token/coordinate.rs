//! The token store: read once before the first request, and, when several
//! processes share it, one renewal for all of them.

use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use super::credential::Credential;
use super::driver::Plan;
use super::transition::{Origin, Transition};
use super::TokenCell;
use crate::access_token::Expiry;
use crate::clock::later;
use crate::store::{RefreshLock, StoreError, StoredToken};

/// What coordinating a renewal through a shared store decided.
pub(super) enum Coordination {
    /// Another process renewed; this installs its token.
    Adopted(Transition),
    /// Renew here, holding the store's lock when there is one.
    Lead(Option<RefreshLock>),
}

/// A token store call, bounded by `limit`: the store never holds the cell
/// up for longer.
pub(super) async fn ask<T>(
    limit: Duration,
    call: impl std::future::Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    tokio::time::timeout(limit, call).await.unwrap_or_else(|_| {
        Err(StoreError::Io {
            location: "token store".into(),
            reason: format!("no answer within {limit:?}"),
        })
    })
}

impl TokenCell {
    /// Once, before the first request: reads the store.
    pub(super) async fn start(&self, plan: &mut Plan) -> Transition {
        plan.started = true;
        let config = self.config();
        let Some(store) = &self.shared.store else {
            return Transition::Unchanged;
        };
        match ask(config.store_timeout, store.load()).await {
            Ok(Some(stored)) if plan.keep_own => {
                // The next renewal here saves past what the store holds,
                // and wins over it.
                if stored.lineage == plan.lineage {
                    plan.store_generation = stored.generation;
                }
                Transition::Unchanged
            }
            Ok(Some(stored)) => self
                .adopt(stored, plan, false)
                .unwrap_or(Transition::Unchanged),
            Ok(None) => Transition::Unchanged,
            Err(error) => {
                tracing::error!(%error, "ignoring the token store; using the configured token");
                Transition::Unchanged
            }
        }
    }

    /// A token another process renewed and stored, to install when it
    /// descends from the same configured token, differs from ours, has time
    /// left, and (`renewed_since`) has a higher store generation than ours:
    /// such a token Graph just issued needs no validation; one found at
    /// start-up may be old, and is validated.
    pub(super) fn adopt(
        &self,
        stored: StoredToken,
        plan: &mut Plan,
        renewed_since: bool,
    ) -> Option<Transition> {
        let cred = self.current();
        let left = stored
            .expires_at
            .map(|at| at.duration_since(SystemTime::now()).unwrap_or_default());
        if stored.lineage == plan.lineage && cred.token() == Some(&stored.token) {
            // Ours already (loaded from the platform, or saved by us): a
            // renewal from here saves the generation after the store's.
            plan.store_generation = plan.store_generation.max(stored.generation);
            return None;
        }
        if stored.lineage != plan.lineage
            || left == Some(Duration::ZERO)
            || (renewed_since && stored.generation <= plan.store_generation)
        {
            return None;
        }
        plan.store_generation = stored.generation;
        let credential = Credential::installed(
            cred.generation + 1,
            stored.token,
            left.map_or(Expiry::Unknown, Expiry::In),
            renewed_since,
            self.config(),
            self.can_refresh(),
            Instant::now(),
        );
        let origin = match renewed_since {
            true => Origin::Adopted {
                store_generation: stored.generation,
            },
            false => Origin::Stored,
        };
        Some(Transition::Installed { credential, origin })
    }

    /// With a shared store: picks up a token another process already renewed,
    /// or takes the store's refresh lock, or waits (polling with back-off)
    /// for the process holding it, until the lock's TTL lets another take
    /// over. A store that fails or does not answer within `store_timeout`
    /// means renewing here, alone.
    pub(super) async fn coordinate(&self, generation: u64, plan: &mut Plan) -> Coordination {
        let config = self.config();
        let Some(store) = self.shared.store.as_ref().filter(|s| s.is_shared()) else {
            return Coordination::Lead(None);
        };
        let limit = config.store_timeout;
        let give_up = later(
            Instant::now(),
            config
                .refresh_lock_ttl
                .saturating_add(config.refresh_timeout),
        );
        let mut pause = Duration::from_millis(20);
        loop {
            match ask(limit, store.load()).await {
                Ok(Some(stored)) => {
                    if let Some(installed) = self.adopt(stored, plan, true) {
                        return Coordination::Adopted(installed);
                    }
                }
                Ok(None) => {}
                Err(error) => {
                    tracing::warn!(%error, "token store unavailable; renewing without it");
                    return Coordination::Lead(None);
                }
            }
            match ask(limit, store.lock_refresh(config.refresh_lock_ttl)).await {
                Ok(Some(lock)) => {
                    // Someone may have stored a renewal between our read and the lock.
                    if let Ok(Some(stored)) = ask(limit, store.load()).await {
                        if let Some(installed) = self.adopt(stored, plan, true) {
                            self.release(lock).await;
                            return Coordination::Adopted(installed);
                        }
                    }
                    tracing::debug!(generation, "holding the store's refresh lock");
                    return Coordination::Lead(Some(lock));
                }
                Ok(None) => {}
                Err(error) => {
                    tracing::warn!(%error, "token store lock unavailable; renewing without it");
                    return Coordination::Lead(None);
                }
            }
            if Instant::now() >= give_up {
                tracing::warn!("another process held the refresh lock too long; renewing here");
                return Coordination::Lead(None);
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(250));
        }
    }

    pub(super) async fn release(&self, lock: RefreshLock) {
        let config = self.config();
        let Some(store) = &self.shared.store else {
            return;
        };
        if ask(config.store_timeout, store.unlock_refresh(lock))
            .await
            .is_err()
        {
            tracing::warn!("could not release the store's refresh lock; it expires by itself");
        }
    }
}
