//! Which transitions count as what: one row per transition.

use std::time::Duration;

use http::StatusCode;
use tokio::time::Instant;

use super::*;
use crate::access_token::Expiry;
use crate::config::Config;
use crate::error::{Error, RefreshError};
use crate::graph::GraphError;
use crate::secret::Secret;
use crate::source::FetchReason;
use crate::telemetry::{Renewal as R, Validation as V};
use crate::token::credential::State;

const SEC: Duration = Duration::from_secs(1);

fn cred() -> Credential {
    Credential::new(
        1,
        Secret::new("EAAG"),
        State::Ready,
        &Config::new(None),
        Instant::now(),
    )
}

fn expired() -> GraphError {
    GraphError::new(
        StatusCode::UNAUTHORIZED,
        190,
        Some(463),
        "Session has expired",
    )
}

fn failure() -> RefreshError {
    RefreshError::Timeout(SEC)
}

fn installed(origin: Origin) -> Transition {
    Transition::Installed {
        credential: cred(),
        origin,
    }
}

fn refused(seen_by: Observer) -> Transition {
    Transition::Refused {
        generation: 1,
        cause: expired(),
        seen_by,
    }
}

fn deferred(error: Option<RefreshError>) -> Transition {
    Transition::RenewalDeferred {
        generation: 1,
        expiry: Expiry::Unknown,
        retry_in: SEC,
        error,
        failures: 1,
    }
}

fn dead(error: Option<RefreshError>) -> Transition {
    Transition::Dead {
        generation: 1,
        cause: expired(),
        error,
    }
}

/// A row: a transition's name, the transition, the validation it counts,
/// the renewal it counts with a source that can renew, and without one.
type Row = (&'static str, Transition, Option<V>, Option<R>, Option<R>);

/// Every transition, with what it counts.
fn table() -> Vec<Row> {
    use Transition as T;
    let validated = T::Validated {
        generation: 1,
        token_type: None,
        expiry: None,
        forbidden: None,
        call_refused: None,
    };
    let forbidden = T::Validated {
        generation: 1,
        token_type: None,
        expiry: None,
        forbidden: Some(Error::PermissionMissing { missing: vec![] }),
        call_refused: Some(expired()),
    };
    let backing_off = T::BackingOff {
        generation: 1,
        delay: SEC,
        error: failure(),
        cause: expired(),
        failures: 1,
    };
    let blocked = T::Blocked {
        generation: 1,
        error: Error::Config("wrong".into()),
        revalidate: true,
    };
    let panicked = |job| T::Panicked { job, delay: SEC };
    let deferred_validation = T::ValidationDeferred {
        generation: 1,
        reason: "5xx".into(),
    };
    let renewing = T::Renewing {
        generation: 1,
        reason: FetchReason::Rejected,
    };
    let fetch_failed = T::FetchFailed {
        error: failure(),
        retry_at: Instant::now(),
    };
    let rechecked = T::Rechecked {
        generation: 1,
        error: Some(failure()),
        accepted: false,
    };
    let (valid, refused_v, failed_v) = (Some(V::Valid), Some(V::Refused), Some(V::Failed));
    let (renewed, failed) = (Some(R::Renewed), Some(R::Failed));
    vec![
        ("validated", validated, valid, None, None),
        (
            "validated, a permission missing",
            forbidden,
            valid,
            None,
            None,
        ),
        (
            "refused by validation",
            refused(Observer::Validation),
            refused_v,
            None,
            None,
        ),
        (
            "refused by a request",
            refused(Observer::Request),
            None,
            None,
            None,
        ),
        (
            "refused by the expiry",
            refused(Observer::Expiry),
            None,
            None,
            None,
        ),
        (
            "validation deferred",
            deferred_validation,
            failed_v,
            None,
            None,
        ),
        (
            "validation panicked",
            panicked(Job::Validate),
            failed_v,
            None,
            None,
        ),
        (
            "renewed",
            installed(Origin::Renewed),
            None,
            renewed,
            renewed,
        ),
        (
            "from the source",
            installed(Origin::Source),
            None,
            None,
            None,
        ),
        (
            "from the store",
            installed(Origin::Stored),
            None,
            None,
            None,
        ),
        (
            "adopted",
            installed(Origin::Adopted {
                store_generation: 2,
            }),
            None,
            None,
            None,
        ),
        (
            "deferred, an error",
            deferred(Some(failure())),
            None,
            failed,
            failed,
        ),
        ("deferred, the same token", deferred(None), None, None, None),
        ("backing off", backing_off, None, failed, failed),
        (
            "dead, the renewal refused",
            dead(Some(failure())),
            None,
            failed,
            failed,
        ),
        ("dead, the same token back", dead(None), None, failed, None),
        ("blocked", blocked, None, failed, failed),
        (
            "renewal panicked",
            panicked(Job::Renew(FetchReason::Rejected)),
            None,
            failed,
            failed,
        ),
        ("recheck panicked", panicked(Job::Recheck), None, None, None),
        ("renewing", renewing, None, None, None),
        (
            "unavailable",
            T::RenewalUnavailable { generation: 1 },
            None,
            None,
            None,
        ),
        (
            "retrying",
            T::RenewalRetrying { generation: 1 },
            None,
            None,
            None,
        ),
        (
            "validating",
            T::Validating { generation: 1 },
            None,
            None,
            None,
        ),
        ("fetch failed", fetch_failed, None, None, None),
        ("rechecked", rechecked, None, None, None),
        ("fetching", T::Fetching, None, None, None),
        ("attached", T::Attached, None, None, None),
        ("detached", T::Detached, None, None, None),
        ("unchanged", T::Unchanged, None, None, None),
    ]
}

#[test]
fn each_transition_counts_as_the_table_says() {
    for (name, transition, validates, renews, renews_alone) in table() {
        assert_eq!(validation(&transition), validates, "{name}");
        assert_eq!(renewal(&transition, true), renews, "{name}");
        assert_eq!(
            renewal(&transition, false),
            renews_alone,
            "{name}: cannot renew"
        );
    }
}
