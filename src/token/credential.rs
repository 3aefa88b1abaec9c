//! [`Credential`]: one immutable snapshot of the token state, swapped whole
//! whenever anything changes, so a request reads it without a lock.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::lifetime;
use super::stamp::Stamp;
use crate::access_token::Expiry;
use crate::clock::later;
use crate::config::Config;
use crate::error::{Error, RefreshError};
use crate::graph::GraphError;
use crate::secret::Secret;

/// Where the token stands, and so what a request does.
#[derive(Clone)]
pub(crate) enum State {
    /// Usable: requests send.
    Ready,
    /// Not validated yet: requests wait for the validation.
    Unvalidated,
    /// Graph refused this token and a renewal is due: requests wait for it.
    Refused(GraphError),
    /// No token yet: requests wait for the fetch, or fail fast until
    /// `retry_at` when the last fetch failed.
    Pending {
        error: Option<RefreshError>,
        retry_at: Instant,
    },
    /// A renewal after a refusal failed in a way that may pass: requests
    /// fail fast until `until`, when the renewal is tried again.
    BackingOff {
        until: Instant,
        error: RefreshError,
        cause: GraphError,
    },
    /// The token cannot be used and cannot be renewed: requests fail fast.
    /// The source is asked for a different one at `recheck_at`.
    Dead {
        cause: GraphError,
        recheck_at: Instant,
    },
    /// Something only the operator can fix (the configuration, the app
    /// secret, a missing permission): requests fail fast with `error`,
    /// checked again at `recheck_at`.
    Blocked {
        error: Error,
        recheck_at: Instant,
        revalidate: bool,
    },
}

/// When the token expires, when to renew it ahead of that, and when to
/// validate it next. `None`: not known, or never.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub(crate) struct Schedule {
    pub(crate) expires_at: Option<Instant>,
    pub(crate) renew_at: Option<Instant>,
    pub(crate) validate_at: Option<Instant>,
}

/// What a request does with a snapshot.
pub(crate) enum Admission {
    Send,
    Wait,
    Fail(Error),
}

/// One snapshot of the token state.
#[derive(Clone)]
pub(crate) struct Credential {
    pub(crate) generation: u64,
    pub(crate) stamp: Option<Arc<Stamp>>,
    pub(crate) state: State,
    pub(crate) schedule: Schedule,
    /// The token's `type` from `/debug_token`, when known.
    pub(crate) token_type: Option<Arc<str>>,
    /// Whether a task looks after this cell (schedules renewals, runs the
    /// work requests wait for). Without one, requests wait and start one.
    pub(crate) attached: bool,
}

impl Credential {
    /// Generation `generation` of `token`: `state` when the token can be
    /// sent, else blocked with a configuration error.
    pub(crate) fn new(
        generation: u64,
        token: Secret,
        state: State,
        config: &Config,
        now: Instant,
    ) -> Credential {
        let empty = token.expose().is_empty();
        let stamp = Stamp::new(token, config).map(Arc::new);
        let state = match &stamp {
            Some(_) => state,
            None => State::Blocked {
                error: Error::Config(if empty {
                    "the access token is empty".into()
                } else {
                    "the access token has characters that are not allowed in an HTTP header".into()
                }),
                recheck_at: later(now, config.dead_recheck),
                revalidate: false,
            },
        };
        Credential {
            generation,
            stamp,
            state,
            schedule: Schedule::default(),
            token_type: None,
            attached: false,
        }
    }

    /// Generation `generation` of `token`, installed now: to be validated
    /// first unless Graph itself just issued it (`trusted`: a renewal,
    /// here or by another replica), which is validated after the interval.
    pub(crate) fn installed(
        generation: u64,
        token: Secret,
        expiry: Expiry,
        trusted: bool,
        config: &Config,
        can_renew: bool,
        now: Instant,
    ) -> Credential {
        let state = match config.validation_interval {
            Some(_) if !trusted => State::Unvalidated,
            _ => State::Ready,
        };
        let mut cred = Credential::new(generation, token, state, config, now);
        cred.learn_expiry(expiry, now, config, can_renew);
        if trusted {
            // A token Graph issued with a lifetime of nothing (an exchange
            // answering `expires_in: 1`) must not renew, and expire, in a
            // tight loop: neither comes sooner than the first back-off.
            let floor = later(now, config.refresh_backoff.max(Duration::from_secs(1)));
            let s = &mut cred.schedule;
            s.renew_at = s.renew_at.map(|at| at.max(floor));
            s.expires_at = s.expires_at.map(|at| at.max(floor));
        }
        cred.schedule.validate_at = match config.validation_interval {
            Some(interval) if trusted => Some(later(now, interval)),
            _ => None,
        };
        cred.attached = true;
        cred
    }

    /// Records what is known of the token's expiry, learned at `now`, and
    /// plans its renewal (with a random share of the jitter).
    pub(crate) fn learn_expiry(
        &mut self,
        expiry: Expiry,
        now: Instant,
        config: &Config,
        can_renew: bool,
    ) {
        let draw = crate::random::fraction();
        if let Some((expires_at, renew_at)) =
            lifetime::plan_expiry(expiry, now, config, can_renew, draw)
        {
            self.schedule.expires_at = expires_at;
            self.schedule.renew_at = renew_at;
        }
    }

    /// The token's value, when there is one.
    pub(crate) fn token(&self) -> Option<&Secret> {
        self.stamp.as_ref().map(|s| &s.token)
    }

    /// Graph's refusal that a renewal (due, or backing off) answers.
    pub(crate) fn refusal(&self) -> Option<&GraphError> {
        match &self.state {
            State::Refused(cause) | State::BackingOff { cause, .. } => Some(cause),
            _ => None,
        }
    }

    /// No token yet.
    pub(crate) fn pending(error: Option<RefreshError>, retry_at: Instant) -> Credential {
        Credential {
            generation: 0,
            stamp: None,
            state: State::Pending { error, retry_at },
            schedule: Schedule::default(),
            token_type: None,
            attached: false,
        }
    }

    /// The same token in another state.
    pub(crate) fn with_state(&self, state: State) -> Credential {
        Credential {
            state,
            ..self.clone()
        }
    }

    /// The hot-path check: a token that may be sent as it is.
    #[inline]
    pub(crate) fn sendable(&self) -> Option<&Stamp> {
        match (&self.state, self.attached) {
            (State::Ready, true) => self.stamp.as_deref(),
            _ => None,
        }
    }

    /// What a request does now: send, wait for token work, or fail unsent.
    /// A deadline that has passed means the cell's task is about to act on
    /// it (retry a renewal, recheck a dead token): requests wait for that.
    pub(crate) fn admission(&self, now: Instant) -> Admission {
        if self.deadline().is_some_and(|at| now >= at) {
            return Admission::Wait;
        }
        if let Some(error) = self.failure(now) {
            return Admission::Fail(error);
        }
        match (&self.state, self.attached, &self.stamp) {
            (State::Ready, true, Some(_)) => Admission::Send,
            _ => Admission::Wait,
        }
    }

    /// The error requests fail with in this state, deadlines aside.
    pub(crate) fn failure(&self, now: Instant) -> Option<Error> {
        match &self.state {
            State::Pending {
                error: Some(error),
                retry_at,
            } => Some(backing_off(error, *retry_at, now)),
            State::BackingOff { until, error, .. } => Some(backing_off(error, *until, now)),
            State::Dead { cause, .. } => Some(Error::TokenDead {
                cause: cause.clone(),
            }),
            State::Blocked { error, .. } => Some(error.clone()),
            State::Ready | State::Unvalidated | State::Refused(_) | State::Pending { .. } => None,
        }
    }

    /// When the cell's task next acts on a failed state by itself.
    fn deadline(&self) -> Option<Instant> {
        match &self.state {
            State::Pending {
                error: Some(_),
                retry_at: at,
            }
            | State::BackingOff { until: at, .. }
            | State::Dead { recheck_at: at, .. }
            | State::Blocked { recheck_at: at, .. } => Some(*at),
            _ => None,
        }
    }

    /// Whether the token is in use (as opposed to refused, dead, blocked).
    pub(crate) fn is_live(&self) -> bool {
        matches!(self.state, State::Ready | State::Unvalidated)
    }
}

fn backing_off(error: &RefreshError, until: Instant, now: Instant) -> Error {
    Error::Refresh(RefreshError::BackingOff {
        remaining: until.saturating_duration_since(now),
        last: Box::new(error.clone()),
    })
}
