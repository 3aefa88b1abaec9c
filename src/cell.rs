//! [`TokenCell`]: the token state shared by every clone of the stack.
//!
//! The current token lives in an `Arc<Credential>` behind a `RwLock` that is
//! written only when the token or its health changes; readers clone the
//! `Arc` and find the `Authorization` value and `appsecret_proof` already
//! computed. Refresh and validation are single-flight through two async
//! mutexes: the first caller does the work while the rest queue, and each
//! waiter re-checks the state when its turn comes, so a finished refresh is
//! never repeated. A caller dropped mid-refresh releases its mutex, and the
//! next waiter simply does the work: the state never wedges.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use http::header::AUTHORIZATION;
use http::uri::PathAndQuery;
use http::{HeaderValue, Request, Uri};
use tokio::time::Instant;
use tower::BoxError;
use tower_service::Service;

use crate::config::Config;
use crate::graph_call::{self, GraphClient, Validation};
use crate::{appsecret_proof, Error, ErrorKind, GraphError, RefreshError, ReplayBody, Secret};

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
    current: RwLock<Arc<Credential>>,
    refresh_lock: tokio::sync::Mutex<u32>,
    validate_lock: tokio::sync::Mutex<()>,
    graph: GraphClient,
    epoch: Instant,
    exchanges: AtomicU64,
    validations: AtomicU64,
}

/// Counters a cell keeps, for metrics and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct TokenStats {
    /// Token generation in use: 0 for the configured token, +1 per refresh.
    pub generation: u64,
    /// Token exchanges attempted.
    pub exchanges: u64,
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
    /// Nanoseconds since the cell's epoch before which no validation is due.
    validate_after: AtomicU64,
}

#[derive(Clone)]
enum Health {
    Live,
    BackingOff { until: Instant, error: RefreshError },
    Dead(GraphError),
    Misconfigured(String),
}

impl Credential {
    fn new(generation: u64, token: Secret, config: &Config, validate_after: u64) -> Credential {
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
            validate_after: AtomicU64::new(validate_after),
        }
    }

    fn with_health(&self, health: Health) -> Credential {
        Credential {
            generation: self.generation,
            token: self.token.clone(),
            bearer: self.bearer.clone(),
            proof: self.proof.clone(),
            health,
            validate_after: AtomicU64::new(self.validate_after.load(Ordering::Relaxed)),
        }
    }

    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    pub(crate) fn token(&self) -> &Secret {
        &self.token
    }

    /// Why this token must not be sent, if it must not.
    pub(crate) fn unusable(&self) -> Option<Error> {
        match &self.health {
            Health::Live => None,
            Health::BackingOff { until, error } => {
                let now = Instant::now();
                (now < *until).then(|| {
                    Error::Refresh(RefreshError::BackingOff {
                        remaining: *until - now,
                        last: Box::new(error.clone()),
                    })
                })
            }
            Health::Dead(cause) => Some(Error::TokenDead {
                cause: cause.clone(),
            }),
            Health::Misconfigured(why) => Some(Error::Config(why.clone())),
        }
    }

    /// Sets `Authorization: Bearer …` (replacing any the caller set) and the
    /// `appsecret_proof` query parameter.
    pub(crate) fn apply<B>(&self, req: &mut Request<B>) {
        if let Some(bearer) = &self.bearer {
            req.headers_mut().insert(AUTHORIZATION, bearer.clone());
        }
        self.apply_proof(req);
    }

    /// Sets the `appsecret_proof` query parameter, replacing any present.
    pub(crate) fn apply_proof<B>(&self, req: &mut Request<B>) {
        if let Some(proof) = &self.proof {
            if let Some(uri) = with_query_pair(req.uri(), proof) {
                *req.uri_mut() = uri;
            }
        }
    }
}

fn with_query_pair(uri: &Uri, pair: &str) -> Option<Uri> {
    let name = &pair[..=pair.find('=')?];
    let path = uri.path();
    let query = uri.query().unwrap_or("");
    let mut pq = String::with_capacity(path.len() + query.len() + pair.len() + 2);
    pq.push_str(path);
    pq.push('?');
    for kv in query.split('&') {
        if !kv.is_empty() && !kv.starts_with(name) && kv != &name[..name.len() - 1] {
            pq.push_str(kv);
            pq.push('&');
        }
    }
    pq.push_str(pair);
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(PathAndQuery::try_from(pq).ok()?);
    Uri::from_parts(parts).ok()
}

const NEVER: u64 = u64::MAX;

impl TokenCell {
    pub(crate) fn new<S, ResB>(config: Config, service: S) -> TokenCell
    where
        S: Service<Request<ReplayBody>, Response = http::Response<ResB>> + Clone + Send + 'static,
        S::Future: Send + 'static,
        S::Error: Into<BoxError>,
        ResB: http_body::Body<Data = bytes::Bytes> + Send + 'static,
        ResB::Error: Into<BoxError>,
    {
        let validate_after = if config.validation_interval.is_some() {
            0
        } else {
            NEVER
        };
        let first = Credential::new(0, config.token.clone(), &config, validate_after);
        TokenCell {
            shared: Arc::new(Shared {
                current: RwLock::new(Arc::new(first)),
                config,
                refresh_lock: tokio::sync::Mutex::new(0),
                validate_lock: tokio::sync::Mutex::new(()),
                graph: GraphClient::new(service),
                epoch: Instant::now(),
                exchanges: AtomicU64::new(0),
                validations: AtomicU64::new(0),
            }),
        }
    }

    /// Counters: generation in use, exchanges and validations so far.
    pub fn stats(&self) -> TokenStats {
        TokenStats {
            generation: self.current().generation,
            exchanges: self.shared.exchanges.load(Ordering::Relaxed),
            validations: self.shared.validations.load(Ordering::Relaxed),
        }
    }

    /// Whether the token can be renewed (app id and app secret configured).
    pub fn can_refresh(&self) -> bool {
        self.shared.config.app_credentials().is_some()
    }

    /// The error a request would fail with right now without being sent, if
    /// any (dead token, refresh backing off, bad configuration).
    pub fn blocked(&self) -> Option<Error> {
        self.current().unusable()
    }

    pub(crate) fn current(&self) -> Arc<Credential> {
        self.shared
            .current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn now_nanos(&self) -> u64 {
        let nanos = Instant::now().duration_since(self.shared.epoch).as_nanos();
        u64::try_from(nanos).unwrap_or(NEVER - 1)
    }

    fn nanos_after(&self, delay: Duration) -> u64 {
        self.now_nanos()
            .saturating_add(u64::try_from(delay.as_nanos()).unwrap_or(NEVER))
    }

    /// Whether `cred` was validated recently enough to skip validation.
    pub(crate) fn is_validated(&self, cred: &Credential) -> bool {
        let after = cred.validate_after.load(Ordering::Acquire);
        after == NEVER || self.now_nanos() < after
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

    /// Records that Graph refused the token of `generation`. A token that a
    /// refresh cannot repair is marked dead, so requests stop going out.
    pub(crate) fn observe_rejection(&self, generation: u64, err: &GraphError) {
        let kind = err.kind();
        if !kind.is_token_rejected() || (kind == ErrorKind::TokenExpired && self.can_refresh()) {
            return;
        }
        let cred = self.current();
        if cred.generation == generation
            && matches!(cred.health, Health::Live)
            && self.set_health(generation, Health::Dead(err.clone()))
        {
            tracing::warn!(
                generation,
                code = err.code(),
                subcode = ?err.subcode(),
                hint = err.hint(),
                "access token is dead; requests fail without being sent until a different token is available"
            );
        }
    }

    /// Renews the token after Graph refused generation `seen`. Single-flight:
    /// when it returns, the token is renewed, or the cell is dead or backing
    /// off, and the caller's replay will see which.
    pub(crate) async fn refresh_after_rejection(&self, seen: u64) {
        let mut failures = self.shared.refresh_lock.lock().await;
        let cred = self.current();
        if cred.generation != seen {
            return; // someone else renewed it while we queued
        }
        match &cred.health {
            Health::Live => {}
            Health::BackingOff { until, .. } if Instant::now() >= *until => {}
            _ => return,
        }
        let config = &self.shared.config;
        if !self.can_refresh() {
            return;
        }
        self.shared.exchanges.fetch_add(1, Ordering::Relaxed);
        tracing::info!(
            generation = seen,
            "refreshing access token with fb_exchange_token"
        );
        let result = tokio::time::timeout(
            config.refresh_timeout,
            graph_call::exchange(&self.shared.graph, config, &cred),
        )
        .await
        .unwrap_or(Err(RefreshError::Timeout(config.refresh_timeout)));
        match result {
            Ok(new) => {
                *failures = 0;
                let generation = seen + 1;
                let validate_after = match config.validation_interval {
                    Some(interval) => self.nanos_after(interval),
                    None => NEVER,
                };
                let next = Credential::new(generation, new.token, config, validate_after);
                *self
                    .shared
                    .current
                    .write()
                    .unwrap_or_else(|p| p.into_inner()) = Arc::new(next);
                tracing::info!(generation, expires_in = ?new.expires_in, "access token refreshed");
            }
            Err(RefreshError::Rejected(err)) => {
                tracing::warn!(generation = seen, code = err.code(), subcode = ?err.subcode(), "token exchange refused; the token is dead");
                self.set_health(seen, Health::Dead(err));
            }
            Err(error) => {
                *failures += 1;
                let exponent = (*failures - 1).min(16);
                let delay = config
                    .refresh_backoff
                    .saturating_mul(1 << exponent)
                    .min(config.refresh_backoff_max);
                tracing::warn!(generation = seen, failures = *failures, backoff = ?delay, %error, "token exchange failed; backing off");
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

    /// Validates the current token unless it was validated within the
    /// interval. Single-flight. Only a verdict on the token itself fails the
    /// caller: when Graph cannot answer, traffic flows and validation is
    /// retried later.
    pub(crate) async fn ensure_validated(&self) -> Result<(), Error> {
        let guard = self.shared.validate_lock.lock().await;
        let cred = self.current();
        if let Some(err) = cred.unusable() {
            return Err(err);
        }
        if self.is_validated(&cred) {
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
        let interval = config.validation_interval.unwrap_or(Duration::MAX);
        let refused = match verdict {
            Validation::Valid => {
                cred.validate_after
                    .store(self.nanos_after(interval), Ordering::Release);
                tracing::debug!(generation = cred.generation, "access token validated");
                return Ok(());
            }
            Validation::Refused(err) if err.kind().is_token_rejected() => err,
            Validation::Refused(err) if err.kind() == ErrorKind::PermissionMissing => {
                // The token authenticated; what it may do is the request's concern.
                cred.validate_after
                    .store(self.nanos_after(interval), Ordering::Release);
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
        drop(guard);
        tracing::info!(generation = cred.generation, code = refused.code(), subcode = ?refused.subcode(), "validation: Graph refused the token");
        self.observe_rejection(cred.generation, &refused);
        if refused.kind() == ErrorKind::TokenExpired {
            self.refresh_after_rejection(cred.generation).await;
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
}
