//! [`GraphRetry`]: a retry policy with Graph's semantics, for tower's
//! `RetryLayer` outside [`WhatsAppAuthLayer`](crate::WhatsAppAuthLayer).
//!
//! It is a tower [`Policy`](https://docs.rs/tower/0.5/tower/retry/trait.Policy.html). It retries only what Graph *refused* and says is temporary, so a retry
//! can never deliver a message twice:
//!
//! | answer | retried? |
//! |---|---|
//! | rate limits 4, 17, 32, 341, 613, 80007, 130429; a 429 | yes, exponential back-off with full jitter |
//! | 131056 (too many messages to one recipient) | yes, after 4^n seconds, as Meta says |
//! | transient errors 1, 2, 1150, 1200, 131000, 131016, 133004, or `is_transient` | yes |
//! | the connection was refused (nothing was sent) | yes |
//! | 131048 (spam limit), auth, permission, misconfiguration, invalid request | never |
//! | outcome unknown: a timeout, a transport error after sending, a 5xx or HTML page without a Graph error | only with [`RetryIfUnknown`] on the request, or [`retry_idempotent`](GraphRetry::retry_idempotent) for GET |
//!
//! Each wait honours `Retry-After` and the usage header's
//! `estimated_time_to_regain_access` when Graph sends them (a wait longer
//! than what is left of the total allowed is not waited: the answer goes to
//! the caller). Attempts, each wait and the total delay are capped, and a
//! retry budget (tower's `TpsBudget`, shared by every clone of the policy)
//! keeps retries from multiplying an outage. Bodies are replayed without
//! copying ([`CloneBody`]).
//!
//! Put it outside a per-attempt timeout, which goes outside the auth layer:
//! each attempt gets its own timeout, a timed-out attempt is an unknown
//! outcome (not retried), and the auth layer's own renewal and replay stay
//! inside one attempt.
//!
//! ```
//! use std::time::Duration;
//! use tower::retry::RetryLayer;
//! use tower::timeout::TimeoutLayer;
//! use tower::ServiceBuilder;
//! use tower_whatsapp_auth::{retry::GraphRetry, WhatsAppAuthLayer};
//! # let client = tower::service_fn(|_req: http::Request<tower_whatsapp_auth::ReplayBody>| async {
//! #     Ok::<_, tower::BoxError>(http::Response::new(http_body_util::Empty::<bytes::Bytes>::new()))
//! # });
//! let stack = ServiceBuilder::new()
//!     .layer(RetryLayer::new(GraphRetry::new().max_retries(3)))
//!     .layer(TimeoutLayer::new(Duration::from_secs(30)))
//!     .layer(WhatsAppAuthLayer::new("EAAG-token"))
//!     .service(client);
//! # let _ = stack;
//! ```

mod decide;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{Empty, Full};
use tower::retry::budget::{Budget, TpsBudget};
use tower::retry::Policy;
use tower::BoxError;

use decide::{asked_wait, idempotent, outcome, wait, Backoff, Outcome};

use crate::body::ReplayBody;

/// Request extension: retry this request even when its outcome is unknown
/// (a timeout, a 5xx): for requests that are safe to repeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryIfUnknown;

/// A body that can be sent again without copying its bytes.
pub trait CloneBody: Sized {
    /// A copy sharing the bytes, or `None` when the body can be read once.
    fn clone_body(&self) -> Option<Self>;
}

impl CloneBody for ReplayBody {
    fn clone_body(&self) -> Option<Self> {
        self.try_clone()
    }
}

impl CloneBody for Full<Bytes> {
    fn clone_body(&self) -> Option<Self> {
        Some(self.clone())
    }
}

impl CloneBody for Empty<Bytes> {
    fn clone_body(&self) -> Option<Self> {
        Some(Empty::new())
    }
}

impl CloneBody for Bytes {
    fn clone_body(&self) -> Option<Self> {
        Some(self.clone())
    }
}

impl CloneBody for String {
    fn clone_body(&self) -> Option<Self> {
        Some(self.clone())
    }
}

#[derive(Debug, Clone)]
struct Settings {
    max_retries: u32,
    max_total: Duration,
    backoff: Backoff,
    retry_idempotent: bool,
}

/// Retry policy with Graph's semantics. See the [module docs](self).
#[derive(Clone)]
pub struct GraphRetry {
    settings: Arc<Settings>,
    budget: Arc<TpsBudget>,
    // This request's retries so far, and the time waited for them.
    retries: u32,
    waited: Duration,
    deposited: bool,
}

impl std::fmt::Debug for GraphRetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphRetry")
            .field("settings", &self.settings)
            .field("retries", &self.retries)
            .finish_non_exhaustive()
    }
}

impl Default for GraphRetry {
    fn default() -> Self {
        GraphRetry::new()
    }
}

impl GraphRetry {
    /// Up to 3 retries; waits from 500 ms doubling, at most 30 s each and
    /// 60 s in all; 4^n seconds for the pair limit; a budget of 20% of
    /// recent requests (at least 10 retries a second).
    pub fn new() -> GraphRetry {
        GraphRetry {
            settings: Arc::new(Settings {
                max_retries: 3,
                max_total: Duration::from_secs(60),
                backoff: Backoff {
                    base: Duration::from_millis(500),
                    max_wait: Duration::from_secs(30),
                    pair_base: Duration::from_secs(1),
                },
                retry_idempotent: false,
            }),
            budget: Arc::new(TpsBudget::new(Duration::from_secs(10), 10, 0.2)),
            retries: 0,
            waited: Duration::ZERO,
            deposited: false,
        }
    }

    fn settings(mut self, change: impl FnOnce(&mut Settings)) -> Self {
        let mut settings = (*self.settings).clone();
        change(&mut settings);
        self.settings = Arc::new(settings);
        self
    }

    /// Retries per request at most (0 turns retries off).
    pub fn max_retries(self, retries: u32) -> Self {
        self.settings(|s| s.max_retries = retries)
    }

    /// The first wait's bound (doubling per retry, with full jitter) and
    /// the largest single wait.
    pub fn backoff(self, base: Duration, max_wait: Duration) -> Self {
        self.settings(|s| {
            s.backoff.base = base;
            s.backoff.max_wait = max_wait;
        })
    }

    /// The most a request may wait in all, across its retries.
    pub fn max_total_delay(self, total: Duration) -> Self {
        self.settings(|s| s.max_total = total)
    }

    /// Also retries GET (and HEAD, OPTIONS) requests whose outcome is
    /// unknown: repeating them changes nothing.
    pub fn retry_idempotent(self, enabled: bool) -> Self {
        self.settings(|s| s.retry_idempotent = enabled)
    }

    /// A retry budget of its own (shared by this policy's clones).
    pub fn budget(mut self, budget: TpsBudget) -> Self {
        self.budget = Arc::new(budget);
        self
    }
}

impl<B: CloneBody, ResB> Policy<Request<B>, Response<ResB>, BoxError> for GraphRetry {
    type Future = tokio::time::Sleep;

    fn retry(
        &mut self,
        req: &mut Request<B>,
        result: &mut Result<Response<ResB>, BoxError>,
    ) -> Option<Self::Future> {
        let settings = &*self.settings;
        if self.retries >= settings.max_retries {
            return None;
        }
        let found = outcome(result);
        let allowed = match found {
            Outcome::Refused { .. } | Outcome::NotSent => true,
            Outcome::Unknown => {
                req.extensions().get::<RetryIfUnknown>().is_some()
                    || (settings.retry_idempotent && idempotent(req.method()))
            }
            Outcome::Final => false,
        };
        if !allowed {
            return None;
        }
        let pair_limit = matches!(found, Outcome::Refused { pair_limit: true });
        let retry = self.retries + 1;
        let mut delay = wait(
            &settings.backoff,
            retry,
            pair_limit,
            crate::random::fraction(),
        );
        if let Ok(res) = result {
            if let Some(asked) = asked_wait(res.headers(), SystemTime::now()) {
                delay = delay.max(asked);
            }
        }
        if self.waited.saturating_add(delay) > settings.max_total {
            tracing::debug!(?delay, waited = ?self.waited, "not retried: the wait would pass max_total_delay");
            return None;
        }
        if !self.budget.withdraw() {
            tracing::warn!("not retried: the retry budget is spent (too many retries lately)");
            return None;
        }
        self.retries = retry;
        self.waited += delay;
        tracing::debug!(retry, ?delay, ?found, "retrying");
        Some(tokio::time::sleep(delay))
    }

    fn clone_request(&mut self, req: &Request<B>) -> Option<Request<B>> {
        if !self.deposited {
            // Each request earns the budget a share of a retry.
            self.budget.deposit();
            self.deposited = true;
        }
        if self.retries >= self.settings.max_retries {
            return None;
        }
        let mut copy = Request::new(req.body().clone_body()?);
        *copy.method_mut() = req.method().clone();
        *copy.uri_mut() = req.uri().clone();
        *copy.version_mut() = req.version();
        *copy.headers_mut() = req.headers().clone();
        *copy.extensions_mut() = req.extensions().clone();
        Some(copy)
    }
}
