//! Renewals, rechecks, panics and the task's attendance.

use super::*;

#[test]
fn renewal_outcomes_set_the_state_or_the_next_attempt() {
    let config = config();
    let now = Instant::now();
    let cx = Context {
        now,
        config: &config,
        can_renew: true,
    };
    let backing_off = State::BackingOff {
        until: now,
        error: RefreshError::Timeout(SEC),
        cause: expired(),
    };
    let retrying = Transition::RenewalRetrying { generation: 0 };
    let after = next(&cred(0, backing_off), &retrying, &cx).unwrap();
    assert_eq!(shown(&after.state), "Refused(190)");
    assert!(next(&cred(0, State::Ready), &retrying, &cx).is_none());
    let backoff = Transition::BackingOff {
        generation: 0,
        delay: 4 * SEC,
        error: RefreshError::Timeout(SEC),
        cause: expired(),
        failures: 2,
    };
    let after = next(&cred(0, State::Refused(expired())), &backoff, &cx).unwrap();
    assert!(matches!(after.state, State::BackingOff { until, .. } if until == now + 4 * SEC));
    let deferred = Transition::RenewalDeferred {
        generation: 0,
        expiry: Expiry::Unknown,
        retry_in: 8 * SEC,
        error: None,
        failures: 1,
    };
    let after = next(&cred(0, State::Ready), &deferred, &cx).unwrap();
    assert_eq!(
        (shown(&after.state), after.schedule.renew_at),
        ("Ready".into(), Some(now + 8 * SEC))
    );
    let unavailable = Transition::RenewalUnavailable { generation: 0 };
    let mut planned = cred(0, State::Ready);
    planned.schedule.renew_at = Some(now);
    assert_eq!(
        next(&planned, &unavailable, &cx).unwrap().schedule.renew_at,
        None
    );
    let dead = Transition::Dead {
        generation: 0,
        cause: expired(),
        error: None,
    };
    let after = next(&cred(0, State::Refused(expired())), &dead, &cx).unwrap();
    let State::Dead { cause, recheck_at } = &after.state else {
        panic!("{}", shown(&after.state))
    };
    assert!(
        cause.hint().contains("expired before it could be renewed"),
        "advised: {}",
        cause.hint()
    );
    assert_eq!(*recheck_at, now + config.dead_recheck);
}

#[test]
fn rechecks_and_panics_retry_each_state_its_own_way() {
    let mut config = config();
    let now = Instant::now();
    let blocked = |revalidate| State::Blocked {
        error: Error::Config("x".into()),
        recheck_at: now,
        revalidate,
    };
    let recheck = Transition::Rechecked {
        generation: 0,
        error: None,
        accepted: false,
    };
    let panicked = |job| Transition::Panicked {
        job,
        delay: 2 * SEC,
    };
    let cases: Vec<(State, Transition, Option<&str>)> = vec![
        (
            State::Dead {
                cause: expired(),
                recheck_at: now,
            },
            Transition::Rechecked {
                generation: 0,
                error: None,
                accepted: false,
            },
            Some("Dead(190)"),
        ),
        // Graph accepts the dead token again (a spurious refusal): back
        // in use, validated.
        (
            State::Dead {
                cause: expired(),
                recheck_at: now,
            },
            Transition::Rechecked {
                generation: 0,
                error: None,
                accepted: true,
            },
            Some("Ready"),
        ),
        // Accepted means nothing to a state that is not dead.
        (
            blocked(false),
            Transition::Rechecked {
                generation: 0,
                error: None,
                accepted: true,
            },
            Some("Blocked(Misconfigured, false)"),
        ),
        (
            blocked(true),
            Transition::Rechecked {
                generation: 0,
                error: None,
                accepted: false,
            },
            Some("Unvalidated"),
        ),
        (
            blocked(false),
            Transition::Rechecked {
                generation: 0,
                error: None,
                accepted: false,
            },
            Some("Blocked(Misconfigured, false)"),
        ),
        (
            State::Ready,
            Transition::Rechecked {
                generation: 0,
                error: None,
                accepted: false,
            },
            None,
        ),
        (
            State::Refused(expired()),
            panicked(Job::Renew(FetchReason::Rejected)),
            Some("BackingOff(190)"),
        ),
        (State::Unvalidated, panicked(Job::Validate), Some("Ready")),
        (State::Ready, panicked(Job::Start), None),
        (
            State::Pending {
                error: None,
                retry_at: now,
            },
            panicked(Job::Fetch),
            Some("Pending(true)"),
        ),
    ];
    let cx = Context {
        now,
        config: &config,
        can_renew: true,
    };
    for (state, transition, want) in cases {
        let name = shown(&state);
        let got = next(&cred(0, state), &transition, &cx).map(|c| shown(&c.state));
        assert_eq!(got.as_deref(), want, "{name}");
    }
    // Without validation, a refused configuration is simply used again.
    config.validation_interval = None;
    let cx = Context {
        now,
        config: &config,
        can_renew: true,
    };
    let after = next(&cred(0, blocked(true)), &recheck, &cx).unwrap();
    assert_eq!(shown(&after.state), "Ready");
}

#[test]
fn the_task_attaching_and_a_failed_first_fetch_keep_the_rest() {
    let config = config();
    let now = Instant::now();
    let cx = Context {
        now,
        config: &config,
        can_renew: true,
    };
    let ready = cred(0, State::Ready);
    assert!(next(&ready, &Transition::Attached, &cx).is_none());
    let detached = next(&ready, &Transition::Detached, &cx).unwrap();
    assert!(!detached.attached);
    assert!(
        next(&detached, &Transition::Attached, &cx)
            .unwrap()
            .attached
    );
    let failed = Transition::FetchFailed {
        error: RefreshError::Timeout(SEC),
        retry_at: now + SEC,
    };
    let mut pending = Credential::pending(None, now);
    pending.attached = true;
    let after = next(&pending, &failed, &cx).unwrap();
    assert!(after.attached);
    assert_eq!(shown(&after.state), "Pending(true)");
    assert!(next(&ready, &failed, &cx).is_none(), "a token in use stays");
    let again = next(&after, &Transition::Fetching, &cx).unwrap();
    assert_eq!(shown(&again.state), "Pending(false)");
    assert!(again.attached);
}

#[test]
fn a_dead_business_token_s_remedy_is_that_business_onboarding_again() {
    let mut tenant = config();
    tenant.tenant = true;
    let one_token = config();
    let onboard = "this business's token no longer works; have the business connect again through Embedded Signup";
    // (error, tenant?, the advised hint starts with, and says)
    let cases = [
        (graph(190, Some(460), "password changed"), true, "the session was invalidated (password changed): ", Some(onboard)),
        (graph(190, Some(458), "app removed"), true, "the app is not installed or was removed by the user: ", Some(onboard)),
        (graph(190, None, "invalid token"), true, "invalid OAuth access token: ", Some(onboard)),
        (graph(190, Some(463), "expired"), true, "the token expired before it could be renewed, and Graph does not exchange an expired token: ", Some(onboard)),
        (graph(190, Some(460), "password changed"), false, "the session was invalidated (password changed): the user must log in again", None),
        (graph(190, Some(463), "expired"), false, "the token expired before it could be renewed", None),
        (graph(130429, None, "rate limit hit"), true, "Cloud API throughput limit reached", None),
        (graph(10, None, "permission denied"), true, "permission denied", None),
    ];
    for (err, is_tenant, starts, says) in cases {
        let config = if is_tenant { &tenant } else { &one_token };
        let hint = advise(&err, config, true).hint().to_owned();
        assert!(hint.starts_with(starts), "{hint}");
        match says {
            Some(remedy) => assert!(
                hint.contains(remedy) && hint.contains("TenantMap::replace"),
                "{hint}"
            ),
            None => assert!(!hint.contains("Embedded Signup"), "{hint}"),
        }
    }
}
