//! What each transition makes of a snapshot: one row per case.

use std::time::Duration;

use http::StatusCode;

use tokio::time::Instant;

use super::*;
use crate::secret::Secret;
use crate::source::FetchReason;

mod renewals;

const SEC: Duration = Duration::from_secs(1);

fn config() -> Config {
    let mut config = Config::new(Some(Secret::new("EAAG")));
    config.app_id = Some("1".into());
    config.app_secret = Some(Secret::new("s"));
    config
}

fn cred(generation: u64, state: State) -> Credential {
    let mut cred = Credential::new(
        generation,
        Secret::new("EAAG"),
        state,
        &config(),
        Instant::now(),
    );
    cred.attached = true;
    cred
}

fn graph(code: i64, subcode: Option<i64>, message: &str) -> GraphError {
    GraphError::new(StatusCode::BAD_REQUEST, code, subcode, message)
}

fn expired() -> GraphError {
    graph(
        190,
        Some(463),
        "Error validating access token: Session has expired",
    )
}

/// The state's name, and for a block what it blocks with.
fn shown(state: &State) -> String {
    match state {
        State::Ready => "Ready".into(),
        State::Unvalidated => "Unvalidated".into(),
        State::Refused(cause) => format!("Refused({})", cause.code()),
        State::Pending { error, .. } => format!("Pending({})", error.is_some()),
        State::BackingOff { cause, .. } => format!("BackingOff({})", cause.code()),
        State::Dead { cause, .. } => format!("Dead({})", cause.code()),
        State::Blocked {
            error, revalidate, ..
        } => format!("Blocked({:?}, {revalidate})", error.kind()),
    }
}

fn refused(generation: u64, cause: GraphError, seen_by: Observer) -> Transition {
    Transition::Refused {
        generation,
        cause,
        seen_by,
    }
}

#[test]
fn refusals_move_only_the_token_in_use_and_as_refusal_of_says() {
    use Observer::*;
    let backing_off = State::BackingOff {
        until: Instant::now(),
        error: RefreshError::Timeout(SEC),
        cause: expired(),
    };
    let dead = State::Dead {
        cause: graph(190, Some(460), "revoked"),
        recheck_at: Instant::now(),
    };
    let wrong_secret = graph(
        100,
        None,
        "Invalid appsecret_proof provided in the API argument",
    );
    let cases: Vec<(&str, State, Transition, bool, Option<&str>)> = vec![
        (
            "expired, renewable",
            State::Ready,
            refused(3, expired(), Request),
            true,
            Some("Refused(190)"),
        ),
        (
            "expired, nothing renews",
            State::Ready,
            refused(3, expired(), Request),
            false,
            Some("Dead(190)"),
        ),
        (
            "revoked",
            State::Unvalidated,
            refused(3, graph(190, Some(460), "r"), Validation),
            true,
            Some("Dead(190)"),
        ),
        (
            "wrong app secret",
            State::Ready,
            refused(3, wrong_secret, Request),
            true,
            Some("Blocked(Misconfigured, true)"),
        ),
        (
            "missing permission",
            State::Ready,
            refused(3, graph(10, None, "p"), Request),
            true,
            None,
        ),
        (
            "rate limit",
            State::Ready,
            refused(3, graph(130429, None, "r"), Request),
            true,
            None,
        ),
        (
            "older generation",
            State::Ready,
            refused(2, expired(), Request),
            true,
            None,
        ),
        (
            "late, already dead",
            dead.clone(),
            refused(3, expired(), Request),
            true,
            None,
        ),
        (
            "late, backing off",
            backing_off,
            refused(3, expired(), Request),
            true,
            None,
        ),
    ];
    let config = config();
    for (name, state, transition, can_renew, want) in cases {
        let cx = Context {
            now: Instant::now(),
            config: &config,
            can_renew,
        };
        let got = next(&cred(3, state), &transition, &cx).map(|c| shown(&c.state));
        assert_eq!(got.as_deref(), want, "{name}");
    }
}

#[test]
fn a_token_whose_expiry_passed_is_refused_once_and_its_deadline_cleared() {
    let config = config();
    let cx = Context {
        now: Instant::now(),
        config: &config,
        can_renew: true,
    };
    let expiry = refused(0, expired(), Observer::Expiry);
    let mut ready = cred(0, State::Ready);
    ready.schedule.expires_at = Some(cx.now);
    let after = next(&ready, &expiry, &cx).unwrap();
    assert_eq!(shown(&after.state), "Refused(190)");
    assert_eq!(after.schedule.expires_at, None);
    // Once cleared, the same transition changes nothing.
    assert!(next(&after, &expiry, &cx).is_none());
    // A dead token keeps its state; only the deadline goes.
    let mut dead = cred(
        0,
        State::Dead {
            cause: expired(),
            recheck_at: cx.now,
        },
    );
    dead.schedule.expires_at = Some(cx.now);
    let after = next(&dead, &expiry, &cx).unwrap();
    assert_eq!(
        (shown(&after.state), after.schedule.expires_at),
        ("Dead(190)".into(), None)
    );
}

#[test]
fn validation_outcomes_set_the_state_and_the_next_validation() {
    let config = config();
    let now = Instant::now();
    let cx = Context {
        now,
        config: &config,
        can_renew: true,
    };
    let validated = |forbidden: Option<Error>| Transition::Validated {
        generation: 1,
        token_type: Some(Arc::from("SYSTEM_USER")),
        expiry: Some(Expiry::Never),
        forbidden,
        call_refused: None,
    };
    let after = next(&cred(1, State::Unvalidated), &validated(None), &cx).unwrap();
    assert_eq!(shown(&after.state), "Ready");
    assert_eq!(
        after.schedule.validate_at,
        Some(now + config.validation_interval.unwrap())
    );
    assert_eq!(after.token_type.as_deref(), Some("SYSTEM_USER"));
    let forbidden = Error::PermissionMissing {
        missing: Vec::new(),
    };
    let after = next(
        &cred(1, State::Unvalidated),
        &validated(Some(forbidden)),
        &cx,
    )
    .unwrap();
    assert_eq!(shown(&after.state), "Blocked(PermissionMissing, false)");
    // A verdict on a token since replaced, or refused meanwhile: nothing.
    assert!(next(&cred(2, State::Unvalidated), &validated(None), &cx).is_none());
    assert!(next(&cred(1, State::Refused(expired())), &validated(None), &cx).is_none());
    let deferred = Transition::ValidationDeferred {
        generation: 1,
        reason: "503".into(),
    };
    let after = next(&cred(1, State::Unvalidated), &deferred, &cx).unwrap();
    assert_eq!(shown(&after.state), "Ready");
    assert_eq!(
        after.schedule.validate_at,
        Some(now + config.validation_retry)
    );
}
