//! [`TokenCell`]: the token state shared by every clone of a stack.
//!
//! Requests read an immutable snapshot ([`Credential`]) without a lock and
//! send while it is ready. Everything else (first validation, periodic
//! re-validation, renewal ahead of expiry or after a refusal, recovery of a
//! dead token, the store) is work that one task per cell does beside the
//! requests ([`driver`]): requests keep using the current token while it is
//! usable and wait only when there is none, on the task's published result.
//! They never run the work themselves, so a request that is dropped or timed
//! out cannot cancel it.

mod coordinate;
pub(crate) mod credential;
mod diagnose;
mod driver;
mod lifetime;
mod renew;
mod save;
mod schedule;
mod stamp;
#[cfg(test)]
mod tests;
mod transition;
mod validate;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::sync::{watch, Notify};
use tokio::time::Instant;
use tower::BoxError;

pub(crate) use credential::{Admission, Credential, State};
pub use save::TokenStats;
pub(crate) use stamp::Stamp;
use transition::{Observer, Transition};

use crate::bounds::HttpService;
use crate::calls::GraphIo;
use crate::config::Config;
use crate::error::{Error, TransportError};
use crate::graph::GraphError;
use crate::refusal::Refusal;
use crate::secret::Secret;
use crate::source::{FbExchange, StaticToken, TokenSource};
use crate::store::TokenStore;

/// Where a cell's tokens come from, and where renewed ones are kept.
#[derive(Clone, Default)]
pub(crate) struct Supply {
    /// A custom source; `None`: the configured token (exchanged when app
    /// credentials are set).
    pub(crate) source: Option<Arc<dyn TokenSource>>,
    pub(crate) store: Option<Arc<dyn TokenStore>>,
    /// The source's token was just put in place by hand (a tenant
    /// replaced): a stored token of its lineage is not adopted over it.
    pub(crate) replaced: bool,
}

impl std::fmt::Debug for Supply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Supply")
            .field("custom_source", &self.source.is_some())
            .field("store", &self.store.is_some())
            .finish()
    }
}

/// Shared token state for one stack and all its clones. Build it with
/// [`WhatsAppAuthLayer::token_cell`](crate::WhatsAppAuthLayer::token_cell)
/// to assemble the parts by hand; [`WhatsAppAuthLayer`](crate::WhatsAppAuthLayer)
/// makes one per wrapped service.
#[derive(Clone)]
pub struct TokenCell {
    shared: Arc<Shared>,
}

// Aligned to 128 bytes so that, inside the `Arc`, the reference counts
// (written by every clone of a stack, from every core) sit on their own
// cache lines, apart from what every request reads (`current`, `source`):
// otherwise each clone on one core would evict the line that requests on
// the others are reading.
#[repr(align(128))]
pub(crate) struct Shared {
    graph: Arc<GraphIo>,
    source: Arc<dyn TokenSource>,
    /// `source.can_renew()`, asked once (it may not change; requests read it).
    renews: bool,
    store: Option<Arc<dyn TokenStore>>,
    current: ArcSwap<Credential>,
    /// Bumped on every change of `current`; waiting requests watch it.
    published: watch::Sender<u64>,
    /// Wakes the task: a request needs work, or the schedule changed.
    wake: Arc<Notify>,
    /// Whether a task looks after this cell.
    driven: AtomicBool,
    /// What only the task touches, kept here so it survives a new task.
    plan: tokio::sync::Mutex<driver::Plan>,
    refreshes: AtomicU64,
    validations: AtomicU64,
    /// A renewed token's save failed and is being retried.
    save_behind: AtomicBool,
}

impl Drop for Shared {
    fn drop(&mut self) {
        // A parked task holds only a weak reference: let it see the end.
        self.wake.notify_one();
    }
}

impl TokenCell {
    /// A cell for `config`, with no client yet ([`bind`](Self::bind)).
    pub(crate) fn new(config: Config, supply: Supply) -> TokenCell {
        let config = Arc::new(config.seal());
        let source: Arc<dyn TokenSource> = match (&supply.source, &config.token) {
            (Some(source), _) => source.clone(),
            (None, Some(token)) if config.app_credentials().is_some() => {
                Arc::new(FbExchange::new(token.clone()))
            }
            (None, token) => Arc::new(StaticToken::new(
                token.clone().unwrap_or_else(|| Secret::new("")),
            )),
        };
        let now = Instant::now();
        let mut lineage = String::new();
        let first = match source.initial() {
            Some(Ok(token)) => {
                lineage = save::lineage(&config, &token.value);
                let state = match config.validation_interval {
                    Some(_) => State::Unvalidated,
                    None => State::Ready,
                };
                let mut cred = Credential::new(0, token.value.clone(), state, &config, now);
                cred.learn_expiry(token.expiry, now, &config, source.can_renew());
                cred
            }
            Some(Err(error)) => Credential::pending(Some(error), now),
            None => Credential::pending(None, now),
        };
        let mut plan = driver::Plan::new(lineage, supply.store.is_none());
        plan.keep_own = supply.replaced;
        TokenCell {
            shared: Arc::new(Shared {
                graph: Arc::new(GraphIo::new(config)),
                renews: source.can_renew(),
                source,
                store: supply.store,
                current: ArcSwap::from_pointee(first),
                published: watch::Sender::new(0),
                wake: Arc::new(Notify::new()),
                driven: AtomicBool::new(false),
                plan: tokio::sync::Mutex::new(plan),
                refreshes: AtomicU64::new(0),
                validations: AtomicU64::new(0),
                save_behind: AtomicBool::new(false),
            }),
        }
    }

    /// Makes the cell's own Graph calls through `service` (the client of
    /// the stack it serves), unless it has a client already.
    pub(crate) fn bind<S: HttpService>(&self, service: S) {
        self.shared.graph.bind(service);
    }

    /// Whether the cell has a client for its own Graph calls.
    pub(crate) fn is_bound(&self) -> bool {
        self.shared.graph.is_bound()
    }

    /// Ends the use of this cell's token: its tenant (`phone_number_id`)
    /// was removed. Requests holding the cell, or waiting on it, fail
    /// unsent with [`Error::TenantRemoved`].
    #[cfg_attr(not(feature = "tenants"), allow(dead_code))]
    pub(crate) fn forget(&self, phone_number_id: &str) {
        self.apply(Transition::Removed {
            phone_number_id: phone_number_id.into(),
        });
    }

    /// Whether `other` is this cell (a clone of it).
    #[cfg(all(test, feature = "tenants"))]
    pub(crate) fn ptr_eq(&self, other: &TokenCell) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    /// What the cell's client cannot do that the configuration needs.
    pub(crate) fn check_client(&self) -> Result<(), Error> {
        self.shared.graph.check_client()
    }

    /// Whether the token source can produce a new token (a plain token: with
    /// app id and app secret configured).
    #[inline]
    pub fn can_refresh(&self) -> bool {
        self.shared.renews
    }

    /// The error a request would fail with right now without being sent, if
    /// any (dead token, refresh backing off, bad configuration).
    pub fn blocked(&self) -> Option<Error> {
        match self.current().admission(Instant::now()) {
            Admission::Fail(error) => Some(error),
            Admission::Send | Admission::Wait => None,
        }
    }

    /// Waits until requests would be sent, or fail, without waiting: the
    /// first fetch and validation are done, and no renewal after a refusal
    /// is in flight. Call it at start-up to validate the token before
    /// serving (an error says why requests would fail).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # let client = tower::service_fn(|_req: http::Request<tower_whatsapp_auth::ReplayBody>| async {
    /// #     Ok::<_, tower::BoxError>(http::Response::new(http_body_util::Empty::<bytes::Bytes>::new()))
    /// # });
    /// let cell = tower_whatsapp_auth::WhatsAppAuthLayer::new("EAAG-token").token_cell(client);
    /// cell.ready().await.expect("Graph accepts the token");
    /// assert_eq!(cell.stats().validations, 1);
    /// # }
    /// ```
    pub async fn ready(&self) -> Result<(), Error> {
        self.clone().settled().await.map(drop)
    }

    /// Waits until the token work due now (a renewal ahead of expiry, a
    /// validation) and the work under way are done: for a graceful
    /// shutdown, so that a renewal started by the last requests reaches the
    /// store before the process exits. Starts no work, and returns at once
    /// when none is due.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # let client = tower::service_fn(|_req: http::Request<tower_whatsapp_auth::ReplayBody>| async {
    /// #     Ok::<_, tower::BoxError>(http::Response::new(http_body_util::Empty::<bytes::Bytes>::new()))
    /// # });
    /// let cell = tower_whatsapp_auth::WhatsAppAuthLayer::new("EAAG-token").token_cell(client);
    /// cell.finish_work().await; // nothing started, nothing to wait for
    /// assert_eq!(cell.stats().validations, 0);
    /// # }
    /// ```
    pub async fn finish_work(&self) {
        loop {
            let mut changed = self.shared.published.subscribe();
            // Held by the task while a job runs: this waits for it.
            let started = self.shared.plan.lock().await.started;
            let step = schedule::next_step(&self.current(), started, Instant::now());
            let driven = self.shared.driven.load(Ordering::Acquire);
            if !(matches!(step, schedule::Step::Run(_)) && driven) {
                return;
            }
            let _ = changed.changed().await;
        }
    }

    /// The messages endpoint of the configured phone number; see
    /// [`WhatsAppAuthLayer::messages_url`](crate::WhatsAppAuthLayer::messages_url).
    pub fn messages_url(&self) -> Option<String> {
        self.config().messages_url()
    }

    /// Time left before the current token expires, when known.
    pub fn expires_in(&self) -> Option<Duration> {
        let at = self.current().schedule.expires_at?;
        Some(at.saturating_duration_since(Instant::now()))
    }

    pub(crate) fn config(&self) -> &Config {
        &self.shared.graph.config
    }

    pub(crate) fn graph(&self) -> &Arc<GraphIo> {
        &self.shared.graph
    }

    /// The current snapshot.
    pub(crate) fn current(&self) -> Arc<Credential> {
        self.shared.current.load_full()
    }

    /// The hot path: `f` on a sendable token's stamp (no lock, no count taken).
    #[inline]
    pub(crate) fn with_sendable<R>(&self, f: impl FnOnce(u64, &Stamp) -> R) -> Option<R> {
        let cred = self.shared.current.load();
        let stamp = cred.sendable()?;
        Some(f(cred.generation, stamp))
    }

    /// Waits while token work is due (first validation, a renewal, the first
    /// fetch), then gives the snapshot to send with, or the error to fail
    /// with. Waiting never runs the work: dropping this cancels nothing.
    pub(crate) async fn settled(self) -> Result<Arc<Credential>, Error> {
        loop {
            let mut changed = self.shared.published.subscribe();
            let cred = self.current();
            match cred.admission(Instant::now()) {
                Admission::Send => return Ok(cred),
                Admission::Fail(error) => return Err(error),
                Admission::Wait => {
                    self.kick()?;
                    // The sender lives as long as `self`: this only returns on a change.
                    let _ = changed.changed().await;
                }
            }
        }
    }

    /// Records that Graph refused the token of `generation` with `err`: an
    /// expired token is renewed (requests wait for it), a token that cannot
    /// be repaired is marked dead (requests fail fast), a refused
    /// configuration blocks requests until it is fixed. Only an answer
    /// from Graph's own host (`from_graph`) marks it dead or blocked: from
    /// a media host, a refusal may start a renewal, no more.
    pub(crate) fn observe(&self, generation: u64, err: &GraphError, from_graph: bool) {
        if !from_graph && Refusal::of(err, self.can_refresh()) != Refusal::Renew {
            return;
        }
        let refused = Transition::Refused {
            generation,
            cause: err.clone(),
            seen_by: Observer::Request,
        };
        if self.apply(refused) {
            // Best effort: a request that needs the work kicks again.
            let _ = self.kick();
        }
    }

    /// What the client under the stack returned, as the crate's error: its
    /// own failures become [`Error::Transport`] with the token, its proof
    /// and the app secret taken out of every message; the crate's errors
    /// pass as they are.
    pub(crate) fn transport_error(&self, err: BoxError) -> BoxError {
        if err.is::<Error>() {
            return err;
        }
        let cred = self.current();
        let stamp = cred.stamp.as_deref();
        let secrets: Vec<&str> = stamp
            .map(|s| s.token.expose())
            .into_iter()
            .chain(stamp.and_then(Stamp::proof))
            .chain(self.config().app_secret.as_ref().map(Secret::expose))
            .collect();
        Error::Transport(TransportError::new(err.as_ref(), &secrets)).into()
    }

    /// `err` with a remediation that fits this stack's configuration, where
    /// the generic one would mislead: an expired token that cannot be
    /// exchanged any more.
    pub(crate) fn advise(&self, err: &GraphError) -> GraphError {
        transition::advise(err, self.config(), self.can_refresh())
    }

    /// Replaces the snapshot with what `f` makes of it, unless `f` declines
    /// (`None`) or another writer got there first (`f` then sees the newer).
    pub(crate) fn update(&self, mut f: impl FnMut(&Credential) -> Option<Credential>) -> bool {
        loop {
            let cur = self.shared.current.load_full();
            let Some(next) = f(&cur) else { return false };
            let prev = self.shared.current.compare_and_swap(&cur, Arc::new(next));
            if Arc::ptr_eq(&prev, &cur) {
                return true; // Waiters are woken by `apply`, once it is recorded.
            }
        }
    }

    /// Makes sure a task looks after this cell, and wakes it.
    pub(crate) fn kick(&self) -> Result<(), Error> {
        driver::ensure(&self.shared)?;
        self.shared.wake.notify_one();
        Ok(())
    }
}

impl std::fmt::Debug for TokenCell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCell")
            .field("config", self.config())
            .field("stats", &self.stats())
            .finish()
    }
}
