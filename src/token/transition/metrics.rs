//! The token metrics of state changes, all fed from
//! [`TokenCell::apply`](crate::token::TokenCell::apply), beside the
//! tracing events: what a transition says about a validation or a
//! renewal, and the expiry of the token in use. Without the
//! `opentelemetry` feature the instruments are no-ops and this compiles
//! to the two table lookups below.

use super::{Observer, Origin, Transition};
use crate::telemetry::{Metrics, Renewal, Validation};
use crate::token::credential::Credential;
use crate::token::schedule::Job;

/// Counts what `transition` says of a validation or a renewal, and tells
/// the expiry gauge about the token in use after it (`after`).
/// `can_renew`: whether the cell's source can renew.
pub(crate) fn record(
    metrics: &Metrics,
    transition: &Transition,
    after: &Credential,
    can_renew: bool,
) {
    if let Some(outcome) = validation(transition) {
        metrics.validation(outcome);
    }
    if let Some(outcome) = renewal(transition, can_renew) {
        metrics.renewal(outcome);
    }
    match after.schedule.expires_at {
        Some(at) => metrics.expires_at(Some(at)),
        // A new token, or a verdict, with no known expiry: none to report.
        None if matches!(
            transition,
            Transition::Installed { .. } | Transition::Validated { .. }
        ) =>
        {
            metrics.expires_at(None)
        }
        // The expiry passed (the gauge reads 0), or the token is dead:
        // the last known expiry stays.
        None => {}
    }
}

/// The verdict on the token a transition carries. Counted whether or not
/// it changed the snapshot: it is what Graph said.
pub(crate) fn validation(transition: &Transition) -> Option<Validation> {
    match transition {
        Transition::Validated { .. } | Transition::Rechecked { accepted: true, .. } => {
            Some(Validation::Valid)
        }
        Transition::Refused {
            seen_by: Observer::Validation,
            ..
        } => Some(Validation::Refused),
        Transition::ValidationDeferred { .. }
        | Transition::Panicked {
            job: Job::Validate, ..
        } => Some(Validation::Failed),
        _ => None,
    }
}

/// What a renewal made here ended in. Every transition a renewal ends in
/// is one of these; a token another process renewed (`Origin::Adopted`)
/// was not renewed here, and a renewal ahead of expiry that gave the same
/// token (`RenewalDeferred` without an error) is tried again quietly.
pub(crate) fn renewal(transition: &Transition, can_renew: bool) -> Option<Renewal> {
    use Transition as T;
    match transition {
        T::Installed {
            origin: Origin::Renewed,
            ..
        } => Some(Renewal::Renewed),
        T::RenewalDeferred { error: Some(_), .. }
        | T::BackingOff { .. }
        | T::Dead { error: Some(_), .. }
        | T::Blocked { .. }
        | T::Panicked {
            job: Job::Renew(_), ..
        } => Some(Renewal::Failed),
        // A refused token whose source gave it back unchanged. Without a
        // source that can renew, no renewal was tried.
        T::Dead { error: None, .. } if can_renew => Some(Renewal::Failed),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
