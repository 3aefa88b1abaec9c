//! The fault matrix on the calls that carry a message or renew its token:
//! each fault injected into the message request and into the token
//! exchange, over real sockets. For every case the caller gets a typed error
//! or success within the configured timeouts, at most one replay happens,
//! and the next request after the fault clears succeeds. Faults on the
//! token checks, and Graph unreachable, are in `validation_faults.rs`.

#[path = "support/common/mod.rs"]
mod common;

use std::time::Duration;

use bytes::Bytes;
use common::fake_graph::{FakeConfig, Injected, Route};
use common::fault_stack::{
    is_transport, send, start, with_secret, REFRESH_TIMEOUT, TEN_MB, USER_TIMEOUT,
};
use tokio::time::Instant;
use tower::BoxError;
use tower_whatsapp_auth::{graph::GraphError, Error, RefreshError};

/// What a message-path case expects of the caller's result.
type MessageOutcome = fn(&Result<http::Response<Bytes>, BoxError>) -> bool;
/// What an exchange-path case expects of the renewal's error.
type RefreshOutcome = fn(&RefreshError) -> bool;

/// Message path: faults on `POST …/messages`.
#[tokio::test(start_paused = true)]
async fn message_path_faults() {
    let cases: Vec<(&str, Injected, MessageOutcome)> = vec![
        (
            "reset mid-response",
            Injected::ResetMidBody,
            |r| matches!(r, Err(e) if is_transport(e)),
        ),
        (
            "hang",
            Injected::Hang,
            |r| matches!(r, Err(e) if e.is::<tower::timeout::error::Elapsed>()),
        ),
        (
            "slow body",
            Injected::SlowBody(Duration::from_millis(50)),
            |r| matches!(r, Ok(res) if res.status() == 200),
        ),
        ("truncated JSON", Injected::TruncatedJson, |r| {
            matches!(r, Ok(res) if res.status() == 400
                && res.extensions().get::<GraphError>().is_none()
                && res.body().as_ref() == br#"{"error":{"message":"Error validating access token","type":"OAuthExcep"#)
        }),
        ("invalid JSON", Injected::InvalidJson, |r| {
            matches!(r, Ok(res) if res.status() == 400
                && res.extensions().get::<GraphError>().is_none()
                && res.body().as_ref() == br#"{"error": nope"#)
        }),
        ("HTML page", Injected::Html, |r| {
            matches!(r, Ok(res) if res.status() == 502
                && res.extensions().get::<GraphError>().is_none()
                && res.body().as_ref() == b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>")
        }),
        (
            "10 MB error body",
            Injected::HugeBody(TEN_MB),
            // Handed on whole: the classifier stopped at its limit, so no
            // `GraphError`, and the caller reads every byte once (the
            // fake's 21-byte `{"error":{"message":"` and 10 MB of `x`).
            |r| {
                matches!(r, Ok(res) if res.status() == 400
                && res.extensions().get::<GraphError>().is_none()
                && res.body().len() == 21 + TEN_MB
                && res.body().starts_with(br#"{"error":{"message":"xxx"#))
            },
        ),
        (
            "200 with an error object",
            Injected::ErrorIn200 {
                code: 190,
                subcode: Some(463),
            },
            // Only answers of 400 or more are classified: no `GraphError`,
            // the body as Graph sent it.
            |r| {
                matches!(r, Ok(res) if res.status() == 200
                && res.extensions().get::<GraphError>().is_none()
                && res.body().starts_with(br#"{"error":{"message":"error under 200""#))
            },
        ),
    ];
    for (name, injected, expected) in cases {
        let (fake, stack, cell) = start(with_secret(), |l| l.without_validation()).await;
        fake.inject(Route::Messages, injected, 1);
        let started = Instant::now();
        let result = send(&stack, &fake).await;
        assert!(expected(&result), "{name}: {result:?}");
        assert!(
            started.elapsed() <= USER_TIMEOUT,
            "{name}: took {:?}",
            started.elapsed()
        );
        assert_eq!(
            fake.counters().message_requests,
            1,
            "{name}: sent once, nothing replayed"
        );
        assert_eq!(fake.counters().exchanges, 0, "{name}: not an auth error");
        assert!(cell.blocked().is_none(), "{name}: the cell is not blocked");
        assert_eq!(
            send(&stack, &fake).await.unwrap().status(),
            200,
            "{name}: next request succeeds"
        );
    }
}

/// A token the exchange issues that Graph rejects too: one replay, then a
/// typed error; the next exchange that yields a good token recovers.
#[tokio::test(start_paused = true)]
async fn a_refreshed_token_rejected_again_is_replayed_once() {
    let config = FakeConfig {
        token_uses: Some(0),
        ..with_secret()
    };
    let (fake, stack, _cell) = start(config, |l| l.without_validation()).await;
    fake.set_exchanged_rejected(true);
    let err = send(&stack, &fake).await.unwrap_err();
    let Some(Error::Graph(g)) = err.downcast_ref::<Error>() else {
        panic!("{err}")
    };
    assert_eq!((g.code(), g.subcode()), (190, Some(463)));
    let graph = fake.counters();
    assert_eq!(
        (graph.message_requests, graph.exchanges),
        (2, 1),
        "original + one replay, one exchange"
    );
    fake.set_exchanged_rejected(false);
    assert_eq!(send(&stack, &fake).await.unwrap().status(), 200);
}

/// Exchange path: the message gets a 190, the renewal meets the fault.
#[tokio::test(start_paused = true)]
async fn exchange_path_faults() {
    let cases: Vec<(&str, Injected, RefreshOutcome)> = vec![
        ("reset mid-response", Injected::ResetMidBody, |e| {
            matches!(e, RefreshError::Transport(_))
        }),
        (
            "hang",
            Injected::Hang,
            |e| matches!(e, RefreshError::Timeout(t) if *t == REFRESH_TIMEOUT),
        ),
        (
            "slow body past the timeout",
            Injected::SlowBody(Duration::from_millis(500)),
            |e| matches!(e, RefreshError::Timeout(_)),
        ),
        ("truncated JSON", Injected::TruncatedJson, |e| {
            matches!(e, RefreshError::Unavailable { .. })
        }),
        ("invalid JSON", Injected::InvalidJson, |e| {
            matches!(e, RefreshError::Unavailable { .. })
        }),
        ("HTML page", Injected::Html, |e| {
            matches!(e, RefreshError::Unavailable { status: 502, .. })
        }),
        (
            "10 MB body",
            Injected::HugeBody(TEN_MB),
            |e| matches!(e, RefreshError::Unavailable { reason, .. } if reason.contains("larger")),
        ),
        (
            "200 with a transient error object",
            Injected::ErrorIn200 {
                code: 2,
                subcode: None,
            },
            |e| matches!(e, RefreshError::Unavailable { status: 200, .. }),
        ),
        (
            "empty access_token",
            Injected::EmptyToken,
            |e| matches!(e, RefreshError::Unavailable { reason, .. } if reason.contains("empty")),
        ),
        (
            "huge access_token",
            Injected::HugeToken,
            |e| matches!(e, RefreshError::Unavailable { reason, .. } if reason.contains("implausibly long")),
        ),
        (
            "non-string access_token",
            Injected::NonStringToken,
            |e| matches!(e, RefreshError::Unavailable { reason, .. } if reason.contains("not a string")),
        ),
    ];
    for (name, injected, expected) in cases {
        let config = FakeConfig {
            token_uses: Some(0),
            ..with_secret()
        };
        let (fake, stack, cell) = start(config, |l| l.without_validation()).await;
        fake.inject(Route::Exchange, injected, 1);
        let started = Instant::now();
        let err = send(&stack, &fake).await.unwrap_err();
        assert!(
            started.elapsed() <= REFRESH_TIMEOUT + Duration::from_millis(100),
            "{name}: took {:?}",
            started.elapsed()
        );
        // Every caller, the one that waited for the renewal too, gets the
        // back-off, carrying the renewal's error: `kind()` says Transient.
        let Some(Error::Refresh(RefreshError::BackingOff { last, .. })) = err.downcast_ref() else {
            panic!("{name}: {err:?}")
        };
        assert!(expected(last), "{name}: {last:?}");
        assert_eq!(
            err.downcast_ref::<Error>().unwrap().kind(),
            tower_whatsapp_auth::graph::ErrorKind::Transient,
            "{name}"
        );
        let graph = fake.counters();
        assert_eq!(
            (graph.message_requests, graph.exchanges),
            (1, 1),
            "{name}: the replay was not sent"
        );
        // Backing off: fails fast (no time passes), no new exchange.
        let again = Instant::now();
        let err = send(&stack, &fake).await.unwrap_err();
        assert!(
            matches!(
                err.downcast_ref(),
                Some(Error::Refresh(RefreshError::BackingOff { .. }))
            ),
            "{name}: {err:?}"
        );
        assert_eq!(again.elapsed(), Duration::ZERO, "{name}: fails fast");
        assert_eq!(fake.counters().exchanges, 1, "{name}");
        // Fault cleared, back-off over: the next request renews and succeeds.
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(send(&stack, &fake).await.unwrap().status(), 200, "{name}");
        assert_eq!(cell.stats().generation, 1, "{name}");
    }
}

/// An exchange refused under HTTP 200 is a refusal: the token is dead.
#[tokio::test]
async fn an_exchange_refused_under_200_marks_the_token_dead() {
    let config = FakeConfig {
        token_uses: Some(0),
        ..with_secret()
    };
    let (fake, stack, _cell) = start(config, |l| l.without_validation()).await;
    fake.inject(
        Route::Exchange,
        Injected::ErrorIn200 {
            code: 190,
            subcode: Some(460),
        },
        1,
    );
    let err = send(&stack, &fake).await.unwrap_err();
    assert!(
        matches!(err.downcast_ref::<Error>(), Some(Error::TokenDead { cause }) if cause.subcode() == Some(460)),
        "{err}"
    );
}
