//! Saving a renewed token where it is kept (the store; for a tenant, the
//! platform's `TenantSource::save` first, then the shared store), so that
//! no renewal is lost: a save that fails, or takes longer than the store
//! timeout, goes on in a task of its own, retried with back-off until it
//! lands or a newer token takes the place of this one. The cell's
//! counters ([`TokenStats`]) say when a save is behind.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::oneshot;

use super::{Shared, TokenCell};
use crate::config::Config;
use crate::secret::Secret;
use crate::store::{lineage_of, Saved, StoreError, StoredToken, TokenStore};
use crate::telemetry::{Metrics, Save};

/// Counters a cell keeps, for metrics and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct TokenStats {
    /// Token generation in use: 0 for the first token, +1 per renewal.
    pub generation: u64,
    /// Renewals attempted (token exchanges, for `fb_exchange_token`).
    pub refreshes: u64,
    /// Validation calls made.
    pub validations: u64,
    /// The token in use is not saved yet: its save failed (or has not
    /// answered) and is being retried. A restart now would not find it.
    pub save_behind: bool,
}

/// The longest pause between two attempts at one save.
const MAX_SAVE_PAUSE: Duration = Duration::from_secs(60);

/// Attempts at one save before it is given up (with the pauses, a day and
/// more): a store that fails that long needs its operator, and the
/// `whatsapp.token.saves` failures have said so all along.
const MAX_ATTEMPTS: u32 = 1500;

/// The lineage a cell's tokens carry in a shared store: the configured
/// token's fingerprint (an operator replacing it starts a new lineage), or
/// for a tenant its phone number's, which no renewal or eviction changes,
/// so replicas that loaded the tenant's token at different renewals still
/// agree on one stored token.
pub(super) fn lineage(config: &Config, token: &Secret) -> String {
    match (&config.tenant, &config.phone_number_id) {
        (true, Some(phone)) => lineage_of(&Secret::new(format!("tenant {phone}"))),
        _ => lineage_of(token),
    }
}

impl TokenCell {
    /// Counters: generation in use, renewals and validations so far, and
    /// whether a save is behind.
    pub fn stats(&self) -> TokenStats {
        TokenStats {
            generation: self.current().generation,
            refreshes: self.shared.refreshes.load(Ordering::Relaxed),
            validations: self.shared.validations.load(Ordering::Relaxed),
            save_behind: self.shared.save_behind.load(Ordering::Relaxed),
        }
    }

    /// Saves `stored` (compare-and-set on its generation) and waits for
    /// the first answer up to the store timeout. A newer token the store
    /// already holds is returned, to adopt instead. Whatever the first
    /// attempt gives, the save is not dropped: it goes on beside the cell
    /// until it lands.
    pub(super) async fn persist(&self, stored: StoredToken) -> Option<StoredToken> {
        let store = self.shared.store.clone()?;
        let config = self.config();
        let (first, answer) = oneshot::channel();
        let saving = Saving {
            store,
            stored,
            cell: Arc::downgrade(&self.shared),
            attempt_limit: config.refresh_timeout.max(config.store_timeout),
            first_pause: config.refresh_backoff.max(Duration::from_millis(100)),
            metrics: self.graph().metrics().clone(),
        };
        // Behind from now until the save lands.
        self.shared.save_behind.store(true, Ordering::Relaxed);
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn(saving.run(first))),
            Err(_) => return None,
        }
        match tokio::time::timeout(config.store_timeout, answer).await {
            Ok(Ok(Ok(Saved::Superseded(newer)))) => Some(newer),
            Ok(Ok(Ok(Saved::Stored))) => None,
            Ok(Ok(Err(error))) => {
                tracing::warn!(%error, "could not save the renewed token; it is used, and its save retried");
                None
            }
            Ok(Err(_)) | Err(_) => {
                tracing::warn!(
                    "the renewed token's save has not answered yet; it is used, and the save goes on"
                );
                None
            }
        }
    }
}

impl TokenCell {
    /// Another process saved a newer token than `ours` while its save was
    /// retried: every replica ends on the token saved first.
    async fn adopt_superseded(&self, ours: &StoredToken, newer: StoredToken) {
        let mut plan = self.shared.plan.lock().await;
        if self.current().token() != Some(&ours.token) {
            return;
        }
        plan.store_generation = plan
            .store_generation
            .min(newer.generation.saturating_sub(1));
        if let Some(adopted) = self.adopt(newer, &mut plan, true) {
            drop(plan);
            self.apply(adopted);
        }
    }
}

/// One token's save, until it lands.
struct Saving {
    store: Arc<dyn TokenStore>,
    stored: StoredToken,
    cell: Weak<Shared>,
    attempt_limit: Duration,
    first_pause: Duration,
    metrics: Metrics,
}

impl Saving {
    async fn run(self, first: oneshot::Sender<Result<Saved, StoreError>>) {
        let mut first = Some(first);
        let mut pause = self.first_pause;
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let result = tokio::time::timeout(
                self.attempt_limit,
                self.store.save_if_newer(self.stored.clone()),
            )
            .await
            .unwrap_or_else(|_| {
                Err(StoreError::Io {
                    location: "token store".into(),
                    reason: format!("no answer within {:?}", self.attempt_limit),
                })
            });
            let landed = result.is_ok();
            self.metrics.save(match landed {
                true => Save::Saved,
                false => Save::Failed,
            });
            if let Err(error) = &result {
                if first.is_none() {
                    tracing::warn!(attempts, %error, "the renewed token's save failed again; retrying");
                }
            }
            // The first answer goes to the renewal that waits for it; a
            // later one (or one it stopped waiting for) is acted on here.
            let unheard = match first.take() {
                Some(first) => first.send(result.clone()).is_err(),
                None => true,
            };
            // A cell gone (its tenant evicted, its stack dropped) leaves
            // the save to go on: the store is where a restart, or the
            // tenant's next look-up, finds the token.
            let cell = self.cell.upgrade();
            if let (Some(cell), true, Ok(Saved::Superseded(newer))) = (&cell, unheard, result) {
                (TokenCell {
                    shared: cell.clone(),
                })
                .adopt_superseded(&self.stored, newer)
                .await;
            }
            if landed {
                if let Some(cell) = cell {
                    if cell.save_behind.swap(false, Ordering::Relaxed) && attempts > 1 {
                        tracing::info!(attempts, "the renewed token is saved");
                    }
                }
                return;
            }
            if let Some(cell) = &cell {
                cell.save_behind.store(true, Ordering::Relaxed);
            }
            drop(cell);
            if attempts >= MAX_ATTEMPTS {
                tracing::error!(attempts, "giving up saving a renewed token");
                return;
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(MAX_SAVE_PAUSE);
            // A newer token took this one's place: its own save (or the
            // store it came from) keeps it; this one is no longer wanted.
            let Some(cell) = self.cell.upgrade() else {
                continue;
            };
            if cell.current.load().token() != Some(&self.stored.token) {
                cell.save_behind.store(false, Ordering::Relaxed);
                return;
            }
        }
    }
}
