use std::time::Duration;

use http::StatusCode;
use tokio::time::Instant;

use super::*;
use crate::access_token::Expiry;
use crate::config::Config;
use crate::secret::Secret;
use crate::token::credential::Schedule;
use crate::token::lifetime::{backoff, plan_expiry, refresh_window};

const MIN: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);

fn config() -> Config {
    Config::new(Some(Secret::new("EAAG")))
}

fn cred(state: State) -> Credential {
    let now = Instant::now();
    let mut cred = Credential::new(0, Secret::new("EAAG"), state, &config(), now);
    cred.attached = true;
    cred
}

fn graph(code: i64, subcode: Option<i64>) -> GraphError {
    GraphError::new(StatusCode::BAD_REQUEST, code, subcode, "test")
}

#[test]
fn next_step_follows_the_state_and_the_deadlines() {
    let now = Instant::now();
    let past = now - Duration::from_secs(1);
    let soon = now + MIN;
    let with = |schedule: Schedule| Credential {
        schedule,
        ..cred(State::Ready)
    };
    let cases: Vec<(&str, Credential, bool, Step)> = vec![
        (
            "store not read",
            cred(State::Ready),
            false,
            Step::Run(Job::Start),
        ),
        ("nothing known", cred(State::Ready), true, Step::Idle),
        (
            "unvalidated",
            cred(State::Unvalidated),
            true,
            Step::Run(Job::Validate),
        ),
        (
            "refused",
            cred(State::Refused(graph(190, Some(463)))),
            true,
            Step::Run(Job::Renew(FetchReason::Rejected)),
        ),
        (
            "pending, nothing tried",
            Credential::pending(None, soon),
            false,
            Step::Run(Job::Fetch),
        ),
        (
            "pending after a failure",
            Credential::pending(Some(RefreshError::Timeout(MIN)), soon),
            false,
            Step::Sleep(soon),
        ),
        (
            "backing off",
            cred(State::BackingOff {
                until: soon,
                error: RefreshError::Timeout(MIN),
                cause: graph(190, Some(463)),
            }),
            true,
            Step::Sleep(soon),
        ),
        (
            "back-off over",
            cred(State::BackingOff {
                until: past,
                error: RefreshError::Timeout(MIN),
                cause: graph(190, Some(463)),
            }),
            true,
            Step::Run(Job::Renew(FetchReason::Rejected)),
        ),
        (
            "dead, recheck due",
            cred(State::Dead {
                cause: graph(190, Some(460)),
                recheck_at: past,
            }),
            true,
            Step::Run(Job::Recheck),
        ),
        (
            "validation due later",
            with(Schedule {
                validate_at: Some(soon),
                ..Schedule::default()
            }),
            true,
            Step::Sleep(soon),
        ),
        (
            "earliest deadline wins the sleep",
            with(Schedule {
                validate_at: Some(soon + HOUR),
                renew_at: Some(soon),
                expires_at: Some(soon + MIN),
            }),
            true,
            Step::Sleep(soon),
        ),
        (
            "renewal and validation both due: renewal",
            with(Schedule {
                validate_at: Some(past),
                renew_at: Some(past),
                expires_at: Some(soon),
            }),
            true,
            Step::Run(Job::Renew(FetchReason::AheadOfExpiry)),
        ),
        (
            "expired: before anything else",
            with(Schedule {
                validate_at: Some(past),
                renew_at: Some(past),
                expires_at: Some(past),
            }),
            true,
            Step::Run(Job::Expire),
        ),
    ];
    for (name, cred, started, expected) in cases {
        assert_eq!(next_step(&cred, started, now), expected, "{name}");
    }
}

#[test]
fn the_refresh_window_is_the_larger_of_minimum_and_fraction_plus_jitter() {
    let mut config = config();
    // (left, fraction, jitter, draw) → window
    let cases = [
        (HOUR, 0.1, 0.0, 0.9, 6 * MIN),
        (10 * MIN, 0.1, 0.0, 0.0, 5 * MIN),
        (2 * MIN, 0.1, 0.0, 0.0, 2 * MIN), // never past the lifetime
        (HOUR, 0.1, 0.5, 0.5, 6 * MIN + 90 * Duration::from_secs(1)),
        (HOUR, 0.1, 0.5, 0.999_999, Duration::from_secs(540)),
        (HOUR, f64::NAN, f64::NAN, 0.5, 5 * MIN),
        (HOUR, -3.0, -1.0, 0.5, 5 * MIN),
        (HOUR, 7.0, 0.0, 0.5, HOUR),
    ];
    for (left, fraction, jitter, draw, expected) in cases {
        config.refresh_window_fraction = fraction;
        config.refresh_jitter = jitter;
        let window = refresh_window(left, &config, draw);
        let diff = window.abs_diff(expected);
        assert!(
            diff < Duration::from_millis(1),
            "{left:?} {fraction} {jitter} {draw}: {window:?} != {expected:?}"
        );
    }
}

#[test]
fn expiry_plans_renewal_only_for_renewable_sources_and_never_overflows() {
    let config = config();
    let now = Instant::now();
    assert_eq!(
        plan_expiry(Expiry::Never, now, &config, true, 0.0),
        Some((None, None))
    );
    assert_eq!(plan_expiry(Expiry::Unknown, now, &config, true, 0.0), None);
    // A token just renewed with no lifetime: renewal and expiry no sooner
    // than the first back-off, so a source answering `expires_in: 0` or
    // `1` cannot spin. One learned from a source or a store renews now.
    let floor = config.refresh_backoff.max(Duration::from_secs(1));
    for (lifetime, trusted, renew) in [
        (Duration::ZERO, true, now + floor),
        (Duration::from_millis(300), true, now + floor),
        (Duration::from_secs(120), false, now),
    ] {
        let token = crate::secret::Secret::new("EAAG-x");
        let cred = crate::token::credential::Credential::installed(
            1,
            token,
            Expiry::In(lifetime),
            trusted,
            &config,
            true,
            now,
        );
        assert_eq!(cred.schedule.renew_at, Some(renew), "{lifetime:?}");
        assert!(cred.schedule.expires_at >= Some(now + lifetime.min(floor)));
    }
    let (expires, renew) = plan_expiry(Expiry::In(HOUR), now, &config, true, 0.0).unwrap();
    assert_eq!(expires, Some(now + HOUR));
    assert_eq!(renew, Some(now + HOUR - 6 * MIN));
    let (_, renew) = plan_expiry(Expiry::In(HOUR), now, &config, false, 0.0).unwrap();
    assert_eq!(renew, None);
    let (expires, renew) = plan_expiry(Expiry::In(Duration::MAX), now, &config, true, 0.5).unwrap();
    assert!(expires.unwrap() > now + 50 * 365 * 24 * HOUR);
    assert!(renew.unwrap() > now);
}

#[test]
fn backoff_doubles_from_the_initial_delay_up_to_the_cap() {
    let s = Duration::from_secs;
    let cases = [
        (1, s(1), s(60), s(1)),
        (2, s(1), s(60), s(2)),
        (3, s(1), s(60), s(4)),
        (6, s(1), s(60), s(32)),
        (7, s(1), s(60), s(60)),
        (u32::MAX, s(1), s(60), s(60)),
        (0, s(1), s(60), s(1)),
        (3, s(10), s(5), s(10)), // a cap below the initial delay keeps the initial
        (40, Duration::MAX, Duration::MAX, Duration::MAX),
    ];
    for (failures, initial, max, expected) in cases {
        assert_eq!(backoff(failures, initial, max), expected, "{failures}");
    }
}

#[test]
fn renewal_results_keep_install_back_off_or_kill() {
    use FetchReason::*;
    let d = Duration::from_secs(4);
    let refused = graph(190, Some(460));
    let cases = [
        (AheadOfExpiry, Fetched::New, true, AfterFetch::Install),
        (Rejected, Fetched::New, false, AfterFetch::Install),
        (Recover, Fetched::New, false, AfterFetch::Install),
        (
            AheadOfExpiry,
            Fetched::Same,
            true,
            AfterFetch::RetryLater(d),
        ),
        (Rejected, Fetched::Same, false, AfterFetch::Dead(None)),
        (Recover, Fetched::Same, false, AfterFetch::Recheck),
        (
            AheadOfExpiry,
            Fetched::Failed(RefreshError::Timeout(d)),
            true,
            AfterFetch::RetryLater(d),
        ),
        (
            AheadOfExpiry,
            Fetched::Failed(RefreshError::Timeout(d)),
            false,
            AfterFetch::BackOff(d),
        ),
        (
            Rejected,
            Fetched::Failed(RefreshError::Timeout(d)),
            false,
            AfterFetch::BackOff(d),
        ),
        (
            Rejected,
            Fetched::Failed(RefreshError::Rejected(refused.clone())),
            false,
            AfterFetch::Dead(Some(refused.clone())),
        ),
        // Refused for another reason than the token (a bad parameter):
        // dead too, and the refusal is kept to say why.
        (
            Rejected,
            Fetched::Failed(RefreshError::Rejected(graph(100, None))),
            false,
            AfterFetch::Dead(Some(graph(100, None))),
        ),
        (
            Rejected,
            Fetched::Failed(RefreshError::NotConfigured),
            false,
            AfterFetch::Dead(None),
        ),
        (
            Recover,
            Fetched::Failed(RefreshError::Timeout(d)),
            false,
            AfterFetch::Recheck,
        ),
    ];
    for (reason, fetched, time_left, expected) in cases {
        let got = after_fetch(reason, &fetched, time_left, d);
        assert_eq!(format!("{got:?}"), format!("{expected:?}"), "{reason:?}");
    }
    // Refusals only the operator can fix block, whatever the reason.
    let client_secret = GraphError::new(
        StatusCode::BAD_REQUEST,
        1,
        None,
        "Error validating client secret.",
    );
    let unsupported = GraphError::new(
        StatusCode::BAD_REQUEST,
        100,
        Some(33),
        "Unsupported post request.",
    );
    for (refusal, blocked) in [
        (client_secret, "Misconfigured"),
        (unsupported, "exchange_method"),
    ] {
        for reason in [AheadOfExpiry, Rejected] {
            let got = after_fetch(
                reason,
                &Fetched::Failed(RefreshError::Rejected(refusal.clone())),
                true,
                d,
            );
            assert!(
                matches!(&got, AfterFetch::Block(e) if format!("{e:?} {e}").contains(blocked)),
                "{reason:?}: {got:?}"
            );
        }
    }
    // A token the exchange refuses is dead even with time left.
    let got = after_fetch(
        AheadOfExpiry,
        &Fetched::Failed(RefreshError::Rejected(refused.clone())),
        true,
        d,
    );
    assert!(matches!(got, AfterFetch::Dead(Some(_))), "{got:?}");
}

/// The jitter really spreads renewals (replicas must not renew in
/// lockstep), and stays within its bound: with a 1 h token, a 6 min window
/// and jitter 0.5, renewal falls between 51 and 54 minutes.
#[test]
fn renewals_are_spread_by_jitter_within_its_bound() {
    let mut config = config();
    config.refresh_jitter = 0.5;
    let now = Instant::now();
    let mut at: Vec<Duration> = (0..200)
        .map(|_| {
            let mut cred = cred(State::Ready);
            cred.learn_expiry(Expiry::In(HOUR), now, &config, true);
            cred.schedule.renew_at.unwrap() - now
        })
        .collect();
    at.sort();
    let (earliest, latest) = (at[0], at[at.len() - 1]);
    assert!(
        earliest >= 51 * MIN && latest <= 54 * MIN,
        "{earliest:?}..{latest:?}"
    );
    assert!(
        latest - earliest > MIN,
        "spread over more than a minute: {earliest:?}..{latest:?}"
    );
}
