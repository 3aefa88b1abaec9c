//! The tracing events of token state changes, all emitted from
//! [`TokenCell::apply`](crate::token::TokenCell::apply): one line per change, with
//! generations and reasons, never a secret.

use tokio::time::Instant;

use super::{Observer, Origin, Transition};
use crate::error::Error;
use crate::token::credential::{Credential, State};

/// Tells tracing what `transition` did: `before` and `after` are the
/// snapshots around it, `changed` whether it changed anything (a refusal
/// of a token already replaced, say, changes nothing and says nothing).
pub(crate) fn emit(
    transition: &Transition,
    before: &Credential,
    after: &Credential,
    changed: bool,
) {
    use Transition as T;
    match transition {
        T::Unchanged | T::Attached | T::Detached | T::Fetching | T::RenewalRetrying { .. } => {}
        T::Validating { generation } => tracing::debug!(generation, "validating the access token"),
        T::Renewing { generation, reason } => {
            tracing::info!(generation, ?reason, "renewing access token")
        }
        T::FetchFailed { error, retry_at } => tracing::warn!(
            %error,
            retry_in = ?retry_at.saturating_duration_since(Instant::now()),
            "could not fetch the first access token"
        ),
        T::Installed { origin, .. } => installed(*origin, after),
        T::Validated { .. } if !changed => {}
        T::Validated {
            generation,
            forbidden,
            call_refused,
            ..
        } => validated(*generation, forbidden.as_ref(), call_refused.as_ref()),
        T::ValidationDeferred { generation, reason } => tracing::warn!(
            generation,
            reason,
            "could not validate the access token; requests continue"
        ),
        T::Refused { .. } | T::Dead { .. } | T::Blocked { .. } if !changed => {}
        T::Refused {
            generation,
            cause,
            seen_by,
        } => {
            if *seen_by == Observer::Validation {
                tracing::info!(generation, code = cause.code(), subcode = ?cause.subcode(), "validation: Graph refused the token");
            }
            refused(*generation, &after.state);
        }
        T::RenewalUnavailable { .. }
        | T::RenewalDeferred { .. }
        | T::BackingOff { .. }
        | T::Dead { .. }
        | T::Blocked { .. } => renewal(transition, after),
        T::Rechecked {
            generation,
            error,
            accepted,
        } => {
            if let Some(error) = error {
                tracing::warn!(generation, %error, "token source failed while rechecking a dead token");
            }
            if *accepted && changed {
                tracing::info!(
                    generation,
                    "Graph accepts the refused token again; requests use it once more"
                );
            }
            if matches!(
                before.state,
                State::Blocked {
                    revalidate: true,
                    ..
                }
            ) && changed
            {
                tracing::info!(generation, "checking the refused configuration again");
            }
        }
        T::Removed { phone_number_id } => tracing::info!(
            phone_number_id = &**phone_number_id,
            "tenant removed; its token is not used any more"
        ),
        T::Panicked { job, delay } => {
            tracing::error!(?job, retry_in = ?delay, "token work panicked; it is retried later")
        }
    }
}

/// What a renewal ended in.
fn renewal(transition: &Transition, after: &Credential) {
    use Transition as T;
    match transition {
        T::RenewalUnavailable { generation } => tracing::warn!(
            generation,
            "the token expires soon and its source cannot renew it"
        ),
        T::RenewalDeferred {
            generation,
            retry_in,
            error: Some(error),
            failures,
            ..
        } => {
            tracing::warn!(generation, failures, ?retry_in, %error, "token renewal failed; the current token stays in use")
        }
        T::RenewalDeferred { .. } => {}
        T::BackingOff {
            generation,
            delay,
            error,
            failures,
            ..
        } => tracing::warn!(generation, failures, backoff = ?delay, %error, "token renewal failed"),
        T::Dead {
            generation, error, ..
        } => {
            if let Some(error) = error {
                tracing::warn!(generation, %error, "token renewal refused");
            }
            refused(*generation, &after.state);
        }
        T::Blocked {
            generation, error, ..
        } => {
            tracing::error!(generation, %error, "token renewal refused: the configuration must be fixed; requests fail without being sent")
        }
        _ => {}
    }
}

fn installed(origin: Origin, after: &Credential) {
    let generation = after.generation;
    let expires_in = after
        .schedule
        .expires_at
        .map(|at| at.saturating_duration_since(Instant::now()));
    match origin {
        Origin::Adopted { store_generation } => tracing::info!(
            generation,
            store_generation,
            "using the token renewed by another process, from the store"
        ),
        Origin::Stored => tracing::info!(generation, "using the token found in the store"),
        Origin::Source if generation > 0 => tracing::info!(
            generation,
            "the token source has a different token; using it"
        ),
        Origin::Source | Origin::Renewed => {}
    }
    tracing::info!(generation, ?expires_in, "access token installed");
}

fn validated(
    generation: u64,
    forbidden: Option<&Error>,
    call_refused: Option<&crate::graph::GraphError>,
) {
    if let Some(refusal) = call_refused {
        tracing::warn!(
            generation,
            code = refusal.code(),
            "validation call lacks a permission; token accepted as valid"
        );
    }
    match forbidden {
        Some(error) => tracing::error!(
            generation,
            %error,
            "required permission missing; requests fail without being sent"
        ),
        None => tracing::debug!(generation, "access token validated"),
    }
}

/// What a refusal made of the token: a renewal, a dead token, or a block.
fn refused(generation: u64, state: &State) {
    match state {
        State::Refused(cause) => tracing::info!(
            generation,
            code = cause.code(),
            subcode = ?cause.subcode(),
            "Graph refused the access token; renewing it"
        ),
        State::Dead { cause, .. } => tracing::warn!(
            generation,
            code = cause.code(),
            subcode = ?cause.subcode(),
            hint = cause.hint(),
            "access token is dead; requests fail without being sent until the token source yields a different token"
        ),
        State::Blocked { error, .. } => tracing::error!(
            generation,
            %error,
            "Graph refused the app's configuration; requests fail without being sent until it is fixed"
        ),
        _ => {}
    }
}
