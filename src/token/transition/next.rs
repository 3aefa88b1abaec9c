//! What a [`Transition`] makes of a snapshot: pure functions of the
//! snapshot, the transition and the clock, tested as tables.

use std::sync::Arc;
use std::time::Duration;

use super::{Context, Observer, Transition};
use crate::access_token::Expiry;
use crate::clock::later;
use crate::config::Config;
use crate::error::{Error, RefreshError};
use crate::graph::{ErrorKind, GraphError};
use crate::refusal::Refusal;
use crate::token::credential::{Credential, State};
use crate::token::schedule::Job;

/// The snapshot after `transition`, or `None` when it changes nothing.
pub(crate) fn next(cur: &Credential, transition: &Transition, cx: &Context) -> Option<Credential> {
    use Transition as T;
    let ours = |generation: u64| cur.generation == generation;
    match transition {
        T::Unchanged | T::Renewing { .. } | T::Validating { .. } => None,
        T::Attached => (!cur.attached).then(|| attached(cur, true)),
        T::Detached => cur.attached.then(|| attached(cur, false)),
        T::Fetching => fetching(cur, cx),
        T::FetchFailed { error, retry_at } => {
            matches!(cur.state, State::Pending { .. }).then(|| {
                let mut next = Credential::pending(Some(error.clone()), *retry_at);
                next.attached = cur.attached;
                next
            })
        }
        T::Installed { credential, .. } => Some(credential.clone()),
        T::Validated {
            generation,
            token_type,
            expiry,
            forbidden,
            ..
        } => (ours(*generation) && cur.is_live())
            .then(|| validated(cur, token_type, *expiry, forbidden, cx)),
        T::ValidationDeferred { generation, .. } => {
            (ours(*generation) && cur.is_live()).then(|| validation_deferred(cur, cx))
        }
        T::Refused {
            generation,
            cause,
            seen_by,
        } => refused(cur, *generation, cause, *seen_by, cx),
        T::RenewalRetrying { .. }
        | T::RenewalUnavailable { .. }
        | T::RenewalDeferred { .. }
        | T::BackingOff { .. }
        | T::Dead { .. }
        | T::Blocked { .. } => renewal(cur, transition, cx),
        T::Removed { phone_number_id } => Some(cur.with_state(State::Blocked {
            error: Error::TenantRemoved {
                phone_number_id: phone_number_id.to_string(),
            },
            recheck_at: later(cx.now, Duration::MAX),
            revalidate: false,
        })),
        T::Rechecked {
            generation,
            accepted,
            ..
        } => ours(*generation)
            .then(|| rechecked(cur, *accepted, cx))
            .flatten(),
        T::Panicked {
            job: Job::Validate, ..
        } => cur.is_live().then(|| validation_deferred(cur, cx)),
        T::Panicked {
            job: Job::Start, ..
        } => None,
        T::Panicked { delay, .. } => Some(after_panic(cur, *delay, cx)),
    }
}

/// What a renewal's outcome makes of the token of its generation.
fn renewal(cur: &Credential, transition: &Transition, cx: &Context) -> Option<Credential> {
    use Transition as T;
    let mut next = cur.clone();
    match transition {
        T::RenewalRetrying { generation } if *generation == cur.generation => {
            next.state = State::Refused(cur.refusal()?.clone());
            matches!(cur.state, State::BackingOff { .. }).then_some(())?;
        }
        T::RenewalUnavailable { generation } if *generation == cur.generation => {
            next.schedule.renew_at = None;
        }
        T::RenewalDeferred {
            generation,
            expiry,
            retry_in,
            ..
        } if *generation == cur.generation => {
            next.learn_expiry(*expiry, cx.now, cx.config, true);
            next.schedule.renew_at = Some(later(cx.now, *retry_in));
        }
        T::BackingOff {
            generation,
            delay,
            error,
            cause,
            ..
        } if *generation == cur.generation => {
            next.state = State::BackingOff {
                until: later(cx.now, *delay),
                error: error.clone(),
                cause: cause.clone(),
            };
        }
        T::Dead {
            generation, cause, ..
        } if *generation == cur.generation => next.state = dead(cause, cx),
        T::Blocked {
            generation,
            error,
            revalidate,
        } if *generation == cur.generation => {
            next.state = blocked(error.clone(), *revalidate, cx);
        }
        _ => return None,
    }
    Some(next)
}

fn attached(cur: &Credential, attached: bool) -> Credential {
    let mut next = cur.clone();
    next.attached = attached;
    next
}

/// A failed first fetch is tried again: requests wait for it.
fn fetching(cur: &Credential, cx: &Context) -> Option<Credential> {
    match cur.state {
        State::Pending { error: Some(_), .. } => {
            let mut next = Credential::pending(None, cx.now);
            next.attached = cur.attached;
            Some(next)
        }
        _ => None,
    }
}

/// No verdict: the token stays in use, validated again after
/// `validation_retry`.
fn validation_deferred(cur: &Credential, cx: &Context) -> Credential {
    let mut next = cur.with_state(State::Ready);
    next.schedule.validate_at = Some(later(cx.now, cx.config.validation_retry));
    next
}

fn validated(
    cur: &Credential,
    token_type: &Option<Arc<str>>,
    expiry: Option<Expiry>,
    forbidden: &Option<Error>,
    cx: &Context,
) -> Credential {
    let mut next = cur.clone();
    if token_type.is_some() {
        next.token_type = token_type.clone();
    }
    if let Some(expiry) = expiry {
        next.learn_expiry(expiry, cx.now, cx.config, cx.can_renew);
    }
    next.schedule.validate_at = cx.config.validation_interval.map(|i| later(cx.now, i));
    next.state = match forbidden {
        None => State::Ready,
        Some(error) => blocked(error.clone(), false, cx),
    };
    next
}

/// Graph refused the token in use: renew it, or mark it dead or blocked.
/// A refusal of a token no longer in use (renewed since, already dead or
/// blocked) changes nothing. The expiry passing also stops its deadline.
fn refused(
    cur: &Credential,
    generation: u64,
    cause: &GraphError,
    seen_by: Observer,
    cx: &Context,
) -> Option<Credential> {
    let expiring = seen_by == Observer::Expiry;
    if cur.generation != generation || (expiring && cur.schedule.expires_at.is_none()) {
        return None;
    }
    let state = match Refusal::of(cause, cx.can_renew) {
        _ if !cur.is_live() => None,
        Refusal::Renew => Some(State::Refused(cause.clone())),
        Refusal::Dead => Some(dead(cause, cx)),
        Refusal::Block(what) => Some(blocked(
            Error::Misconfigured {
                what,
                cause: cause.clone(),
            },
            true,
            cx,
        )),
        Refusal::Forbidden | Refusal::NotAboutToken => None,
    };
    if state.is_none() && !expiring {
        return None;
    }
    let mut next = cur.clone();
    if let Some(state) = state {
        next.state = state;
    }
    if expiring {
        next.schedule.expires_at = None;
    }
    Some(next)
}

fn dead(cause: &GraphError, cx: &Context) -> State {
    State::Dead {
        cause: advise(cause, cx.config, cx.can_renew),
        recheck_at: later(cx.now, cx.config.dead_recheck),
    }
}

fn blocked(error: Error, revalidate: bool, cx: &Context) -> State {
    State::Blocked {
        error,
        recheck_at: later(cx.now, cx.config.dead_recheck),
        revalidate,
    }
}

/// No other token for a dead or blocked one: a dead one Graph accepted
/// again is back in use (validated now, so next after the interval), else
/// it waits for the next recheck; a blocked one Graph refused is validated
/// again (or, without validation, used again).
fn rechecked(cur: &Credential, accepted: bool, cx: &Context) -> Option<Credential> {
    let state = match &cur.state {
        State::Dead { .. } if accepted => {
            let mut next = cur.with_state(State::Ready);
            next.schedule.validate_at = cx.config.validation_interval.map(|i| later(cx.now, i));
            return Some(next);
        }
        State::Dead { cause, .. } => dead_again(cause, cx),
        State::Blocked {
            revalidate: true, ..
        } => match cx.config.validation_interval {
            Some(_) => State::Unvalidated,
            None => State::Ready,
        },
        State::Blocked { error, .. } => blocked(error.clone(), false, cx),
        _ => return None,
    };
    Some(cur.with_state(state))
}

/// The same dead token, rechecked again later (its cause already advised).
fn dead_again(cause: &GraphError, cx: &Context) -> State {
    State::Dead {
        cause: cause.clone(),
        recheck_at: later(cx.now, cx.config.dead_recheck),
    }
}

/// A job panicked: whatever it was doing is retried after `delay`, and a
/// failed state waits its usual interval again.
fn after_panic(cur: &Credential, delay: Duration, cx: &Context) -> Credential {
    let error = RefreshError::Source(Arc::from("the token work panicked"));
    let state = match &cur.state {
        State::Pending { .. } => State::Pending {
            error: Some(error),
            retry_at: later(cx.now, delay),
        },
        State::Refused(cause) | State::BackingOff { cause, .. } => State::BackingOff {
            until: later(cx.now, delay),
            error,
            cause: cause.clone(),
        },
        State::Dead { cause, .. } => dead_again(cause, cx),
        State::Blocked {
            error, revalidate, ..
        } => blocked(error.clone(), *revalidate, cx),
        // Renewal ahead of expiry: the token still works.
        State::Ready | State::Unvalidated => {
            let mut next = cur.clone();
            next.schedule.renew_at = Some(later(cx.now, delay));
            return next;
        }
    };
    cur.with_state(state)
}

/// `err` with a remediation that fits this configuration, where the
/// generic one would mislead: an expired token that cannot be exchanged
/// any more; a business's token in a tenant-aware stack, which only that
/// business can replace.
pub(crate) fn advise(err: &GraphError, config: &Config, can_renew: bool) -> GraphError {
    let advised = match err.kind() {
        ErrorKind::TokenExpired => err.advised(expired_advice(config, can_renew)),
        _ => err.clone(),
    };
    if !(config.tenant && advised.kind().is_token_rejected()) {
        return advised;
    }
    // The reason stays (what Graph said happened); the remedy is the
    // business's, not a user's log-in.
    let hint = advised.hint();
    let reason = hint.split_once(':').map_or(hint, |(reason, _)| reason);
    advised.advised(&format!("{reason}: this business's token no longer works; have the business connect again through Embedded Signup, exchange its code with TenantMap::exchange_code and install the token with TenantMap::replace (or store it where your TenantSource reads it and TenantMap::forget the number)"))
}

fn expired_advice(config: &Config, can_renew: bool) -> &'static str {
    let knows_expiry = config.use_debug_token && config.app_credentials().is_some();
    match (can_renew, knows_expiry) {
        (true, true) => "the token expired before it could be renewed, and Graph does not exchange an expired token: generate a new long-lived token (from then on the stack renews it ahead of expiry, knowing the expiry from /debug_token), or use a system-user token that never expires",
        (true, false) => "the token expired, and Graph does not exchange an expired token: generate a new long-lived token and keep validate_with_debug_token on, so the stack learns its expiry and renews it ahead of time; or use a system-user token that never expires",
        (false, _) => "the token expired and nothing renews it: configure the app id and secret (the stack then renews long-lived tokens ahead of expiry), or use a system-user token that never expires",
    }
}

#[cfg(test)]
mod tests;
