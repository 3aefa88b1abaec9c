//! [`TokenCell`]: the token state shared by every clone of the stack.
//!
//! The current token lives in an `Arc<Credential>` behind a `RwLock` that is
//! written only when the token or its health changes; readers clone the
//! `Arc` and find the `Authorization` value and `appsecret_proof` already
//! computed, and the deadlines (next validation, refresh ahead of expiry) in
//! atomics. Renewal and validation are single-flight through two async
//! mutexes: the first caller does the work while the rest queue, and each
//! waiter re-checks the state when its turn comes, so finished work is never
//! repeated. A caller dropped mid-renewal releases its mutex and the next
//! waiter does the work: the state never wedges.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use http::header::AUTHORIZATION;
use http::uri::PathAndQuery;
use http::{HeaderValue, Request, Uri};
use tokio::time::Instant;
use tower::BoxError;
use tower_service::Service;

use crate::config::Config;
use crate::graph_call::{self, GraphClient, Validation};
use crate::source::{
    Expiry, FbExchange, FetchContext, FetchReason, StaticToken, Token, TokenSource,
};
use crate::store::{lineage_of, LockToken, StoreError, StoredToken};
use crate::{
    appsecret_proof, Error, ErrorKind, GraphError, PermissionReport, RefreshError, ReplayBody,
    Secret,
};

/// Shared token state for one stack and all its clones. Build it with
/// [`WhatsAppAuthLayer::token_cell`](crate::WhatsAppAuthLayer::token_cell)
/// to assemble the parts by hand; [`WhatsAppAuthLayer`](crate::WhatsAppAuthLayer)
/// makes one per wrapped service.
#[derive(Clone)]
pub struct TokenCell {
    shared: Arc<Shared>,
}

struct Shared {
    config: Config,
    source: Arc<dyn TokenSource>,
    current: RwLock<Arc<Credential>>,
    renew_lock: tokio::sync::Mutex<RenewState>,
    validate_lock: tokio::sync::Mutex<()>,
    started: AtomicBool,
    graph: GraphClient,
    epoch: Instant,
    refreshes: AtomicU64,
    validations: AtomicU64,
}

/// Guarded by the renewal mutex.
struct RenewState {
    failures: u32,
    /// Fingerprint of the configured token the current one descends from.
    lineage: String,
    /// The store generation of the current token (see [`StoredToken`]).
    store_generation: u64,
}

/// What coordinating a renewal through a shared store decided.
enum Coordination {
    /// Another process renewed; its token is installed.
    Adopted,
    /// Renew here, holding the store's lock when there is one.
    Lead(Option<LockToken>),
}

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
}

/// One token and everything derived from it.
pub(crate) struct Credential {
    generation: u64,
    token: Secret,
    bearer: Option<HeaderValue>,
    proof: Option<Arc<str>>,
    health: Health,
    proof_cache: std::sync::Mutex<Option<(PathAndQuery, PathAndQuery)>>,
    // Deadlines in nanoseconds since the cell's epoch; NEVER when none.
    expires_at: AtomicU64,
    refresh_at: AtomicU64,
    validate_after: AtomicU64,
}

#[derive(Clone)]
enum Health {
    Live,
    /// No token yet (a source with no initial token); `error` when the last
    /// fetch failed and `retry_at` has not come.
    Pending {
        retry_at: Instant,
        error: Option<RefreshError>,
    },
    BackingOff {
        until: Instant,
        error: RefreshError,
    },
    Dead {
        cause: GraphError,
        recheck_at: Instant,
    },
    /// Lacks permissions the stack must require.
    Forbidden(Error),
    Misconfigured(String),
}

const NEVER: u64 = u64::MAX;

impl Credential {
    fn new(generation: u64, token: Secret, config: &Config) -> Credential {
        let bearer = HeaderValue::from_str(&format!("Bearer {}", token.expose())).ok();
        let health = match &bearer {
            Some(_) if !token.expose().is_empty() => Health::Live,
            Some(_) => Health::Misconfigured("the access token is empty".into()),
            None => Health::Misconfigured(
                "the access token has characters that are not allowed in an HTTP header".into(),
            ),
        };
        let bearer = bearer.map(|mut v| {
            v.set_sensitive(true);
            v
        });
        let proof = config.app_secret.as_ref().map(|secret| {
            Arc::from(format!(
                "appsecret_proof={}",
                appsecret_proof(secret, &token)
            ))
        });
        Credential {
            generation,
            token,
            bearer,
            proof,
            health,
            proof_cache: std::sync::Mutex::new(None),
            expires_at: AtomicU64::new(NEVER),
            refresh_at: AtomicU64::new(NEVER),
            validate_after: AtomicU64::new(0),
        }
    }

    fn pending(error: Option<RefreshError>, retry_at: Instant) -> Credential {
        Credential {
            generation: 0,
            token: Secret::new(""),
            bearer: None,
            proof: None,
            health: Health::Pending { retry_at, error },
            proof_cache: std::sync::Mutex::new(None),
            expires_at: AtomicU64::new(NEVER),
            refresh_at: AtomicU64::new(NEVER),
            validate_after: AtomicU64::new(0),
        }
    }

    fn with_health(&self, health: Health) -> Credential {
        let copy = |a: &AtomicU64| AtomicU64::new(a.load(Ordering::Acquire));
        Credential {
            generation: self.generation,
            token: self.token.clone(),
            bearer: self.bearer.clone(),
            proof: self.proof.clone(),
            health,
            proof_cache: std::sync::Mutex::new(None),
            expires_at: copy(&self.expires_at),
            refresh_at: copy(&self.refresh_at),
            validate_after: copy(&self.validate_after),
        }
    }

    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    pub(crate) fn token(&self) -> &Secret {
        &self.token
    }

    fn is_live(&self) -> bool {
        matches!(self.health, Health::Live)
    }

    /// Why this token must not be sent, if it must not.
    pub(crate) fn unusable(&self) -> Option<Error> {
        match &self.health {
            Health::Live => None,
            Health::Pending { retry_at, error } => Some(match error {
                Some(error) => Error::Refresh(RefreshError::BackingOff {
                    remaining: retry_at.saturating_duration_since(Instant::now()),
                    last: Box::new(error.clone()),
                }),
                None => Error::Refresh(RefreshError::Source(Arc::from(
                    "no token fetched yet (the ValidateIfNeeded layer fetches it)",
                ))),
            }),
            Health::BackingOff { until, error } => {
                let now = Instant::now();
                (now < *until).then(|| {
                    Error::Refresh(RefreshError::BackingOff {
                        remaining: *until - now,
                        last: Box::new(error.clone()),
                    })
                })
            }
            Health::Dead { cause, .. } => Some(Error::TokenDead {
                cause: cause.clone(),
            }),
            Health::Forbidden(error) => Some(error.clone()),
            Health::Misconfigured(why) => Some(Error::Config(why.clone())),
        }
    }

    /// Sets `Authorization: Bearer …` (replacing any the caller set) and the
    /// `appsecret_proof` query parameter.
    pub(crate) fn apply<B>(&self, req: &mut Request<B>) {
        if let Some(bearer) = &self.bearer {
            req.headers_mut().insert(AUTHORIZATION, bearer.clone());
        }
        if let Some(proof) = &self.proof {
            self.apply_proof(req.uri_mut(), proof);
        }
    }

    /// Sets `appsecret_proof` in `uri`. Clients send to a handful of URLs, so
    /// the authorized path of the last one is kept: a hit costs a string
    /// comparison instead of building and parsing a new path. The cache is
    /// skipped, not waited for, when another request holds it.
    fn apply_proof(&self, uri: &mut Uri, pair: &str) {
        let original = uri.path_and_query().cloned();
        let cached =
            self.proof_cache
                .try_lock()
                .ok()
                .and_then(|cache| match (&*cache, &original) {
                    (Some((from, to)), Some(pq)) if from == pq => Some(to.clone()),
                    _ => None,
                });
        let mut parts = std::mem::take(uri).into_parts();
        let authorized = match cached {
            Some(to) => Some(to),
            None => {
                let fresh = authorized_path(parts.path_and_query.as_ref(), pair);
                if let (Some(from), Some(to), Ok(mut cache)) =
                    (original, &fresh, self.proof_cache.try_lock())
                {
                    *cache = Some((from, to.clone()));
                }
                fresh
            }
        };
        let previous = parts.path_and_query.clone();
        if authorized.is_some() {
            parts.path_and_query = authorized;
        }
        *uri = Uri::from_parts(parts).unwrap_or_else(|e| {
            // Cannot happen for a URI that was valid with its old path; keep
            // the request sendable regardless.
            tracing::error!(error = %e, "could not set appsecret_proof");
            let mut fallback = http::uri::Parts::default();
            fallback.path_and_query = previous;
            Uri::from_parts(fallback).unwrap_or_default()
        });
    }
}

/// The path and query of `pq` with `pair` (`name=value`) set in the query,
/// replacing any earlier value of `name`.
fn authorized_path(pq: Option<&PathAndQuery>, pair: &str) -> Option<PathAndQuery> {
    let name = &pair[..=pair.find('=')?];
    let path = pq.map_or("/", |pq| pq.path());
    let query = pq.and_then(|pq| pq.query()).unwrap_or("");
    let mut out = String::with_capacity(path.len() + query.len() + pair.len() + 2);
    out.push_str(path);
    out.push('?');
    for kv in query.split('&') {
        if !kv.is_empty() && !kv.starts_with(name) && kv != &name[..name.len() - 1] {
            out.push_str(kv);
            out.push('&');
        }
    }
    out.push_str(pair);
    PathAndQuery::try_from(out).ok()
}

/// `uri` with `name=value` (given as `pair`) set in its query, replacing any
/// earlier value of `name`.
pub(crate) fn with_query_pair(uri: &Uri, pair: &str) -> Option<Uri> {
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(authorized_path(parts.path_and_query.as_ref(), pair)?);
    Uri::from_parts(parts).ok()
}

/// A token store call, bounded by `limit`: the store never holds requests
/// up for longer.
async fn ask<T>(
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

/// A uniformly random fraction in [0, 1), from std's randomly keyed hasher.
fn random_fraction() -> f64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(0x5eed);
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

fn duration_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(NEVER - 1)
}

impl TokenCell {
    pub(crate) fn new<S, ResB>(config: Config, service: S) -> TokenCell
    where
        S: Service<Request<ReplayBody>, Response = http::Response<ResB>> + Clone + Send + 'static,
        S::Future: Send + 'static,
        S::Error: Into<BoxError>,
        ResB: http_body::Body<Data = bytes::Bytes> + Send + 'static,
        ResB::Error: Into<BoxError>,
    {
        let source: Arc<dyn TokenSource> = match (&config.source, &config.token) {
            (Some(source), _) => source.clone(),
            (None, Some(token)) if config.app_credentials().is_some() => {
                Arc::new(FbExchange::new(token.clone()))
            }
            (None, token) => Arc::new(StaticToken::new(
                token.clone().unwrap_or_else(|| Secret::new("")),
            )),
        };
        let epoch = Instant::now();
        let (first, lineage) = match source.initial() {
            Some(Ok(token)) => {
                let lineage = lineage_of(&token.value);
                (
                    Credential::new(0, token.value.clone(), &config),
                    Some((lineage, token.expiry)),
                )
            }
            Some(Err(error)) => (Credential::pending(Some(error), epoch), None),
            None => (Credential::pending(None, epoch), None),
        };
        let cell = TokenCell {
            shared: Arc::new(Shared {
                current: RwLock::new(Arc::new(first)),
                renew_lock: tokio::sync::Mutex::new(RenewState {
                    failures: 0,
                    lineage: lineage.as_ref().map(|l| l.0.clone()).unwrap_or_default(),
                    store_generation: 0,
                }),
                validate_lock: tokio::sync::Mutex::new(()),
                // Nothing to do before the first request unless a store must be read.
                started: AtomicBool::new(config.store.is_none() && lineage.is_some()),
                source,
                config,
                graph: GraphClient::new(service),
                epoch,
                refreshes: AtomicU64::new(0),
                validations: AtomicU64::new(0),
            }),
        };
        if let Some((_, expiry)) = lineage {
            let cred = cell.current();
            cell.set_expiry(&cred, expiry);
            if cell.shared.config.validation_interval.is_none() {
                cred.validate_after.store(NEVER, Ordering::Release);
            }
        }
        cell
    }

    /// Counters: generation in use, renewals and validations so far.
    pub fn stats(&self) -> TokenStats {
        TokenStats {
            generation: self.current().generation,
            refreshes: self.shared.refreshes.load(Ordering::Relaxed),
            validations: self.shared.validations.load(Ordering::Relaxed),
        }
    }

    /// Whether the token source can produce a new token (for a plain token:
    /// whether app id and app secret are configured).
    pub fn can_refresh(&self) -> bool {
        self.shared.source.can_renew()
    }

    /// The error a request would fail with right now without being sent, if
    /// any (dead token, refresh backing off, bad configuration).
    pub fn blocked(&self) -> Option<Error> {
        self.current().unusable()
    }

    /// Time left before the current token expires, when known.
    pub fn expires_in(&self) -> Option<Duration> {
        let at = self.current().expires_at.load(Ordering::Acquire);
        (at != NEVER).then(|| Duration::from_nanos(at.saturating_sub(self.now_nanos())))
    }

    /// Runs `f` on the current credential under the read lock, saving the
    /// reference-count traffic of [`current`](Self::current) on the hot path.
    pub(crate) fn with_current<R>(&self, f: impl FnOnce(&Credential) -> R) -> R {
        f(&self
            .shared
            .current
            .read()
            .unwrap_or_else(|p| p.into_inner()))
    }

    pub(crate) fn current(&self) -> Arc<Credential> {
        self.shared
            .current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn now_nanos(&self) -> u64 {
        duration_nanos(Instant::now().duration_since(self.shared.epoch))
    }

    fn nanos_after(&self, delay: Duration) -> u64 {
        self.now_nanos().saturating_add(duration_nanos(delay))
    }

    fn instant_of(&self, nanos: u64) -> Option<Instant> {
        (nanos != NEVER).then(|| self.shared.epoch + Duration::from_nanos(nanos))
    }

    /// Whether `cred` can be sent as it is: live, validated within the
    /// interval, and not due for renewal. One clock read, two atomic loads.
    pub(crate) fn is_ready(&self, cred: &Credential) -> bool {
        if !cred.is_live() {
            return false;
        }
        let now = self.now_nanos();
        now < cred.validate_after.load(Ordering::Acquire)
            && now < cred.refresh_at.load(Ordering::Acquire)
    }

    /// Records what is known of `cred`'s expiry and plans its renewal: the
    /// window is the larger of the configured minimum and a fraction of the
    /// lifetime left, plus up to `refresh_jitter` of it at random, so that
    /// replicas do not renew in lockstep.
    fn set_expiry(&self, cred: &Credential, expiry: Expiry) {
        let Expiry::In(left) = expiry else {
            if expiry == Expiry::Never {
                cred.expires_at.store(NEVER, Ordering::Release);
                cred.refresh_at.store(NEVER, Ordering::Release);
            }
            return;
        };
        let config = &self.shared.config;
        let window = config
            .refresh_window
            .max(left.mul_f64(config.refresh_window_fraction.clamp(0.0, 1.0)));
        let window =
            window + window.mul_f64(config.refresh_jitter.clamp(0.0, 1.0) * random_fraction());
        cred.expires_at
            .store(self.nanos_after(left), Ordering::Release);
        let refresh_at = if self.shared.source.can_renew() {
            self.nanos_after(left.saturating_sub(window))
        } else {
            NEVER
        };
        cred.refresh_at.store(refresh_at, Ordering::Release);
    }

    fn replace(&self, next: Credential) {
        *self
            .shared
            .current
            .write()
            .unwrap_or_else(|p| p.into_inner()) = Arc::new(next);
    }

    /// Replaces the health of generation `generation`, if it is still current.
    fn set_health(&self, generation: u64, health: Health) -> bool {
        let mut current = self
            .shared
            .current
            .write()
            .unwrap_or_else(|p| p.into_inner());
        if current.generation != generation {
            return false;
        }
        *current = Arc::new(current.with_health(health));
        true
    }

    fn mark_dead(&self, generation: u64, cause: GraphError) {
        let recheck_at = Instant::now() + self.shared.config.dead_recheck;
        tracing::warn!(
            generation,
            code = cause.code(),
            subcode = ?cause.subcode(),
            hint = cause.hint(),
            "access token is dead; requests fail without being sent until the token source yields a different token"
        );
        self.set_health(generation, Health::Dead { cause, recheck_at });
    }

    /// Records that Graph refused the token of `generation`. A token that a
    /// renewal cannot repair is marked dead, so requests stop going out.
    pub(crate) fn observe_rejection(&self, generation: u64, err: &GraphError) {
        let kind = err.kind();
        if !kind.is_token_rejected() || (kind == ErrorKind::TokenExpired && self.can_refresh()) {
            return;
        }
        let cred = self.current();
        if cred.generation == generation && cred.is_live() {
            self.mark_dead(generation, err.clone());
        }
    }

    /// Exchanges `token` through the stack's own service.
    pub(crate) async fn exchange(&self, token: &Secret) -> Result<Token, RefreshError> {
        graph_call::exchange(&self.shared.graph, &self.shared.config, token).await
    }

    fn backoff(&self, failures: u32) -> Duration {
        let config = &self.shared.config;
        config
            .refresh_backoff
            .saturating_mul(1 << failures.saturating_sub(1).min(16))
            .min(config.refresh_backoff_max)
    }

    /// Installs `token` as generation `generation` and persists it.
    async fn install(&self, token: Token, generation: u64, fresh: bool, state: &mut RenewState) {
        let config = &self.shared.config;
        let next = Credential::new(generation, token.value.clone(), config);
        self.set_expiry(&next, token.expiry);
        let validate_after = match config.validation_interval {
            None => NEVER,
            // A token Graph just issued needs no validation; one read from a
            // file or variable does.
            Some(interval) if fresh => self.nanos_after(interval),
            Some(_) => 0,
        };
        next.validate_after.store(validate_after, Ordering::Release);
        let expires_at = self.instant_of(next.expires_at.load(Ordering::Acquire));
        self.replace(next);
        tracing::info!(generation, expires_in = ?expires_at.map(|at| at - Instant::now()), "access token installed");
        if let Some(store) = &config.store {
            state.store_generation += 1;
            let stored = StoredToken {
                token: token.value,
                expires_at: expires_at
                    .map(|at| SystemTime::now() + at.saturating_duration_since(Instant::now())),
                lineage: state.lineage.clone(),
                saved_at: SystemTime::now(),
                generation: state.store_generation,
            };
            if let Err(error) = ask(config.store_timeout, store.save(stored)).await {
                tracing::warn!(generation, %error, "could not persist the renewed token; it stays in use");
            }
        }
    }

    /// Once, before the first request: fetch a token from a source that had
    /// none ready, then read the store.
    async fn start(&self) {
        let mut state = self.shared.renew_lock.lock().await;
        if self.shared.started.load(Ordering::Acquire) {
            return;
        }
        let config = &self.shared.config;
        if let Health::Pending { retry_at, .. } = self.current().health {
            if Instant::now() < retry_at {
                return;
            }
            let ctx = FetchContext {
                reason: FetchReason::Startup,
                current: None,
                cell: self.clone(),
            };
            let fetched =
                tokio::time::timeout(config.refresh_timeout, self.shared.source.fetch(ctx))
                    .await
                    .unwrap_or(Err(RefreshError::Timeout(config.refresh_timeout)));
            match fetched {
                Ok(token) => {
                    state.lineage = lineage_of(&token.value);
                    let next = Credential::new(0, token.value.clone(), config);
                    self.set_expiry(&next, token.expiry);
                    self.replace(next);
                }
                Err(error) => {
                    state.failures += 1;
                    let retry_at = Instant::now() + self.backoff(state.failures);
                    tracing::warn!(%error, "could not fetch the first access token");
                    self.replace(Credential::pending(Some(error), retry_at));
                    return;
                }
            }
        }
        if let Some(store) = &config.store {
            match ask(config.store_timeout, store.load()).await {
                Ok(Some(stored)) => {
                    self.adopt(stored, &mut state, false);
                }
                Ok(None) => {}
                Err(error) => {
                    tracing::error!(%error, "ignoring the token store; using the configured token")
                }
            }
        }
        self.shared.started.store(true, Ordering::Release);
    }

    /// Installs a token another process renewed and stored, when it descends
    /// from the same configured token, differs from ours, has time left, and
    /// (with `require_newer`) has a higher store generation than ours.
    fn adopt(&self, stored: StoredToken, state: &mut RenewState, require_newer: bool) -> bool {
        let cred = self.current();
        let left = stored
            .expires_at
            .map(|at| at.duration_since(SystemTime::now()).unwrap_or_default());
        if stored.lineage != state.lineage
            || stored.token == cred.token
            || left == Some(Duration::ZERO)
            || (require_newer && stored.generation <= state.store_generation)
        {
            return false;
        }
        let generation = cred.generation + 1;
        tracing::info!(
            generation,
            store_generation = stored.generation,
            "using the token renewed by another process, from the store"
        );
        state.store_generation = stored.generation;
        let next = Credential::new(generation, stored.token, &self.shared.config);
        self.set_expiry(&next, left.map_or(Expiry::Unknown, Expiry::In));
        let validate_after = match self.shared.config.validation_interval {
            None => NEVER,
            Some(interval) if require_newer => self.nanos_after(interval),
            Some(_) => 0,
        };
        next.validate_after.store(validate_after, Ordering::Release);
        self.replace(next);
        true
    }

    /// With a shared store: picks up a token another process already renewed,
    /// or takes the store's refresh lock, or waits (polling with back-off)
    /// for the process holding it, until the lock's TTL lets another take
    /// over. A store that fails or does not answer within `store_timeout`
    /// means renewing here, alone: requests never wait on the store for
    /// longer than that.
    async fn coordinate(&self, cred: &Credential, state: &mut RenewState) -> Coordination {
        let config = &self.shared.config;
        let Some(store) = config.store.as_ref().filter(|s| s.is_shared()) else {
            return Coordination::Lead(None);
        };
        let limit = config.store_timeout;
        let give_up = Instant::now() + config.refresh_lock_ttl + config.refresh_timeout;
        let mut pause = Duration::from_millis(20);
        loop {
            match ask(limit, store.load()).await {
                Ok(Some(stored)) => {
                    if self.adopt(stored, state, true) {
                        return Coordination::Adopted;
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
                        if self.adopt(stored, state, true) {
                            let _ = ask(limit, store.unlock_refresh(lock)).await;
                            return Coordination::Adopted;
                        }
                    }
                    tracing::debug!(
                        generation = cred.generation,
                        "holding the store's refresh lock"
                    );
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

    /// Asks the source for a new token for generation `seen`. Single-flight:
    /// when it returns, the token is renewed, or the cell is dead or backing
    /// off, and callers see which. `cause` is Graph's refusal, for
    /// [`FetchReason::Rejected`].
    pub(crate) async fn renew(&self, seen: u64, reason: FetchReason, cause: Option<GraphError>) {
        let mut state = self.shared.renew_lock.lock().await;
        let cred = self.current();
        if cred.generation != seen {
            return; // renewed by someone else while we queued
        }
        let now = Instant::now();
        let due = match (reason, &cred.health) {
            (FetchReason::Rejected, Health::Live) => true,
            (FetchReason::Rejected, Health::BackingOff { until, .. }) => now >= *until,
            (FetchReason::AheadOfExpiry, Health::Live) => {
                self.now_nanos() >= cred.refresh_at.load(Ordering::Acquire)
            }
            (FetchReason::Recover, Health::Dead { recheck_at, .. }) => now >= *recheck_at,
            _ => false,
        };
        if !due {
            return;
        }
        let config = &self.shared.config;
        let dead_cause = || {
            cause.clone().unwrap_or_else(|| {
                GraphError::new(
                    http::StatusCode::UNAUTHORIZED,
                    190,
                    None,
                    "the token was refused and its source has no other",
                )
            })
        };
        if !self.can_refresh() {
            match reason {
                FetchReason::Rejected => self.mark_dead(seen, dead_cause()),
                FetchReason::AheadOfExpiry => {
                    cred.refresh_at.store(NEVER, Ordering::Release);
                    tracing::warn!(
                        generation = seen,
                        "the token expires soon and its source cannot renew it"
                    );
                }
                _ => self.recheck_later(&cred),
            }
            return;
        }
        let lock = match self.coordinate(&cred, &mut state).await {
            Coordination::Adopted => {
                state.failures = 0;
                return;
            }
            Coordination::Lead(lock) => lock,
        };
        self.shared.refreshes.fetch_add(1, Ordering::Relaxed);
        tracing::info!(generation = seen, ?reason, "renewing access token");
        let ctx = FetchContext {
            reason,
            current: Some(cred.token.clone()),
            cell: self.clone(),
        };
        let fetched = tokio::time::timeout(config.refresh_timeout, self.shared.source.fetch(ctx))
            .await
            .unwrap_or(Err(RefreshError::Timeout(config.refresh_timeout)));
        match fetched {
            Ok(token) if token.value != cred.token => {
                state.failures = 0;
                if reason == FetchReason::Recover {
                    state.lineage = lineage_of(&token.value);
                }
                let fresh = reason != FetchReason::Recover;
                self.install(token, seen + 1, fresh, &mut state).await;
            }
            Ok(same) => match reason {
                FetchReason::Rejected => self.mark_dead(seen, dead_cause()),
                FetchReason::Recover => self.recheck_later(&cred),
                _ => {
                    // Nothing newer yet: learn any expiry it reports, and
                    // ask again after a back-off rather than on every request.
                    state.failures += 1;
                    self.set_expiry(&cred, same.expiry);
                    let later = self.nanos_after(self.backoff(state.failures));
                    cred.refresh_at.fetch_max(later, Ordering::AcqRel);
                }
            },
            Err(error) => {
                state.failures += 1;
                let delay = self.backoff(state.failures);
                tracing::warn!(generation = seen, failures = state.failures, backoff = ?delay, %error, "token renewal failed");
                let time_left = self.now_nanos() < cred.expires_at.load(Ordering::Acquire);
                match (reason, error) {
                    // The old token still works: keep using it, try again later.
                    (FetchReason::AheadOfExpiry, _) if time_left => {
                        cred.refresh_at
                            .store(self.nanos_after(delay), Ordering::Release);
                    }
                    (FetchReason::Recover, _) => self.recheck_later(&cred),
                    (_, RefreshError::Rejected(refusal)) => self.mark_dead(seen, refusal),
                    (_, error) if !error.is_transient() => self.mark_dead(seen, dead_cause()),
                    (_, error) => {
                        self.set_health(
                            seen,
                            Health::BackingOff {
                                until: Instant::now() + delay,
                                error,
                            },
                        );
                    }
                }
            }
        }
        if let (Some(lock), Some(store)) = (lock, config.store.as_ref()) {
            let released =
                tokio::time::timeout(config.store_timeout, store.unlock_refresh(lock)).await;
            if !matches!(released, Ok(Ok(()))) {
                tracing::warn!("could not release the store's refresh lock; it expires by itself");
            }
        }
    }

    fn recheck_later(&self, cred: &Credential) {
        if let Health::Dead { cause, .. } = &cred.health {
            let recheck_at = Instant::now() + self.shared.config.dead_recheck;
            self.set_health(
                cred.generation,
                Health::Dead {
                    cause: cause.clone(),
                    recheck_at,
                },
            );
        }
    }

    /// Everything due before a request may be sent: the first fetch and the
    /// store read, recovery of a dead token, renewal ahead of expiry, and
    /// validation. Fails only when the request must not be sent.
    pub(crate) async fn prepare(&self) -> Result<(), Error> {
        let cred = self.started_credential().await;
        if let Health::Dead { recheck_at, .. } = &cred.health {
            if Instant::now() >= *recheck_at {
                self.renew(cred.generation, FetchReason::Recover, None)
                    .await;
            }
        }
        if let Some(err) = self.current().unusable() {
            return Err(err);
        }
        // Validation first: with /debug_token it is where the expiry is learned.
        self.ensure_validated().await?;
        let cred = self.current();
        if self.now_nanos() >= cred.refresh_at.load(Ordering::Acquire) {
            self.renew(cred.generation, FetchReason::AheadOfExpiry, None)
                .await;
            if let Some(err) = self.current().unusable() {
                return Err(err);
            }
        }
        Ok(())
    }

    /// Validates the current token unless it was validated within the
    /// interval. Single-flight. Only a verdict on the token itself fails the
    /// caller: when Graph cannot answer, traffic flows and validation is
    /// retried later.
    async fn ensure_validated(&self) -> Result<(), Error> {
        let _guard = self.shared.validate_lock.lock().await;
        let cred = self.current();
        if let Some(err) = cred.unusable() {
            return Err(err);
        }
        if self.now_nanos() < cred.validate_after.load(Ordering::Acquire) {
            return Ok(());
        }
        let config = &self.shared.config;
        self.shared.validations.fetch_add(1, Ordering::Relaxed);
        let verdict = tokio::time::timeout(
            config.validation_timeout,
            graph_call::validate(&self.shared.graph, config, &cred),
        )
        .await
        .unwrap_or_else(|_| Validation::Unknown("validation timed out".into()));
        let refused = match verdict {
            Validation::Valid(info) => {
                self.mark_validated(&cred, info.as_ref().and_then(|i| i.expiry));
                tracing::debug!(generation = cred.generation, "access token validated");
                return self.enforce_permissions(&cred, info).await;
            }
            Validation::Refused(err) if err.kind().is_token_rejected() => err,
            Validation::Refused(err) if err.kind() == ErrorKind::PermissionMissing => {
                // The token authenticated; what it may do is the request's concern.
                self.mark_validated(&cred, None);
                tracing::warn!(
                    generation = cred.generation,
                    code = err.code(),
                    "validation call lacks a permission; token accepted as valid"
                );
                return Ok(());
            }
            Validation::Refused(err) => {
                self.retry_validation_later(&cred, &err.to_string());
                return Ok(());
            }
            Validation::Unknown(reason) => {
                self.retry_validation_later(&cred, &reason);
                return Ok(());
            }
        };
        // The validation lock stays held through the renewal: requests queued
        // behind it would otherwise each validate the same refused token.
        tracing::info!(generation = cred.generation, code = refused.code(), subcode = ?refused.subcode(), "validation: Graph refused the token");
        self.observe_rejection(cred.generation, &refused);
        if refused.kind() == ErrorKind::TokenExpired {
            self.renew(
                cred.generation,
                FetchReason::Rejected,
                Some(refused.clone()),
            )
            .await;
        }
        let now = self.current();
        if let Some(err) = now.unusable() {
            return Err(err);
        }
        if now.generation == cred.generation {
            return Err(Error::Graph(refused));
        }
        Ok(())
    }

    /// With required permissions configured, refuses a token that lacks one.
    async fn enforce_permissions(
        &self,
        cred: &Credential,
        info: Option<graph_call::TokenInfo>,
    ) -> Result<(), Error> {
        let config = &self.shared.config;
        if config.required_permissions.is_empty() {
            return Ok(());
        }
        let report = match info {
            Some(info) => {
                PermissionReport::judge(info.listing(), config.business_account_id.as_deref())
            }
            None => match self.permission_report(cred).await {
                Ok(report) => report,
                Err(error) => {
                    // No verdict: let traffic through and ask again later.
                    self.retry_validation_later(cred, &error.to_string());
                    return Ok(());
                }
            },
        };
        let missing = report.missing(&config.required_permissions);
        if missing.is_empty() {
            return Ok(());
        }
        let error = Error::PermissionMissing { missing };
        tracing::error!(generation = cred.generation, %error, "required permission missing; requests fail without being sent");
        self.set_health(cred.generation, Health::Forbidden(error.clone()));
        Err(error)
    }

    async fn permission_report(&self, cred: &Credential) -> Result<PermissionReport, Error> {
        let config = &self.shared.config;
        let listing =
            tokio::time::timeout(config.validation_timeout, self.permission_listing(cred))
                .await
                .unwrap_or_else(|_| {
                    Err(Validation::Unknown("the permission check timed out".into()))
                });
        match listing {
            Ok(listing) => Ok(PermissionReport::judge(
                listing,
                config.business_account_id.as_deref(),
            )),
            Err(Validation::Refused(err)) => Err(Error::Graph(err)),
            Err(Validation::Unknown(why)) => Err(Error::Unavailable(why)),
            Err(Validation::Valid(_)) => Err(Error::Unavailable("unexpected verdict".into())),
        }
    }

    async fn permission_listing(
        &self,
        cred: &Credential,
    ) -> Result<crate::permissions::Listing, Validation> {
        let config = &self.shared.config;
        if config.use_debug_token && config.app_credentials().is_some() {
            let info = graph_call::inspect(&self.shared.graph, config, cred.token()).await?;
            // The same answer validates the token: no second call.
            self.mark_validated(cred, info.expiry);
            Ok(info.listing())
        } else {
            graph_call::me_permissions(&self.shared.graph, config, cred).await
        }
    }

    /// Which of the WhatsApp permissions the current token has (from
    /// `/debug_token` with app credentials, else `/me/permissions`).
    pub async fn check_permissions(&self) -> Result<PermissionReport, Error> {
        let cred = self.started_credential().await;
        if let Some(err) = cred.unusable() {
            return Err(err);
        }
        self.permission_report(&cred).await
    }

    pub(crate) fn graph(&self) -> &GraphClient {
        &self.shared.graph
    }

    pub(crate) fn config(&self) -> &Config {
        &self.shared.config
    }

    /// The current credential, after the one-time start (first fetch, store read).
    pub(crate) async fn started_credential(&self) -> Arc<Credential> {
        if !self.shared.started.load(Ordering::Acquire) {
            self.start().await;
        }
        self.current()
    }

    /// Records that `cred` was found valid now, and what is known of its expiry.
    fn mark_validated(&self, cred: &Credential, expiry: Option<Expiry>) {
        let interval = self
            .shared
            .config
            .validation_interval
            .unwrap_or(Duration::MAX);
        cred.validate_after
            .store(self.nanos_after(interval), Ordering::Release);
        if let Some(expiry) = expiry {
            self.set_expiry(cred, expiry);
        }
    }

    fn retry_validation_later(&self, cred: &Credential, reason: &str) {
        let retry = self.shared.config.validation_retry;
        cred.validate_after
            .store(self.nanos_after(retry), Ordering::Release);
        tracing::warn!(generation = cred.generation, reason, retry_in = ?retry, "could not validate the access token; requests continue");
    }
}

impl std::fmt::Debug for TokenCell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCell")
            .field("config", &self.shared.config)
            .field("stats", &self.stats())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proof_pair_replaces_an_existing_one_and_keeps_other_params() {
        let uri: Uri = "https://graph.facebook.com/v24.0/123/messages?a=1&appsecret_proof=old&b=2"
            .parse()
            .unwrap();
        let out = with_query_pair(&uri, "appsecret_proof=abc").unwrap();
        assert_eq!(
            out.to_string(),
            "https://graph.facebook.com/v24.0/123/messages?a=1&b=2&appsecret_proof=abc"
        );
        let bare: Uri = "/v24.0/me".parse().unwrap();
        assert_eq!(
            with_query_pair(&bare, "appsecret_proof=x")
                .unwrap()
                .to_string(),
            "/v24.0/me?appsecret_proof=x"
        );
    }

    #[test]
    fn random_fractions_stay_in_range_and_vary() {
        let draws: Vec<f64> = (0..100).map(|_| random_fraction()).collect();
        assert!(draws.iter().all(|f| (0.0..1.0).contains(f)));
        assert!(draws.windows(2).any(|w| w[0] != w[1]));
    }
}
