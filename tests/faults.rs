//! The fault matrix: each fault injected into each Graph call the stack
//! makes, over real sockets. For every case the caller gets a typed error
//! or success within the configured timeouts, at most one replay happens,
//! and the next request after the fault clears succeeds.

#[path = "../examples/common/mod.rs"]
mod common;

use std::time::Duration;

use bytes::Bytes;
use common::fake_graph::{FakeConfig, FakeGraph, Injected, Route};
use common::sender::{build_stack, text_message, Stack};
use http::Request;
use http_body_util::{BodyExt, Full};
use tokio::time::Instant;
use tower::{BoxError, ServiceExt};
use tower_whatsapp_auth::{
    Error, GraphError, RefreshError, TokenCell, WhatsAppAuthLayer, DEFAULT_GRAPH_VERSION,
};

const SECRET: &str = "fake-app-secret";
const USER_TIMEOUT: Duration = Duration::from_secs(5);
const REFRESH_TIMEOUT: Duration = Duration::from_secs(2);
const VALIDATION_TIMEOUT: Duration = Duration::from_secs(1);
const TEN_MB: usize = 10 * 1024 * 1024;

fn layer(fake: &FakeGraph, config: &FakeConfig) -> WhatsAppAuthLayer {
    fake.layer(config)
        .refresh_timeout(REFRESH_TIMEOUT)
        .validation_timeout(VALIDATION_TIMEOUT)
        .refresh_backoff(Duration::from_secs(1), Duration::from_secs(1))
}

async fn start(
    config: FakeConfig,
    adjust: impl FnOnce(WhatsAppAuthLayer) -> WhatsAppAuthLayer,
) -> (FakeGraph, Stack, TokenCell) {
    let fake = FakeGraph::start(config.clone()).await;
    let (stack, cell) = build_stack(adjust(layer(&fake, &config)), USER_TIMEOUT);
    (fake, stack, cell)
}

/// Sends one message and reads the whole answer.
async fn send(stack: &Stack, fake: &FakeGraph) -> Result<http::Response<Bytes>, BoxError> {
    let req = Request::post(fake.messages_url(DEFAULT_GRAPH_VERSION))
        .body(Full::new(text_message("1555", "faults")))
        .unwrap();
    let res = stack.clone().oneshot(req).await?;
    let (parts, body) = res.into_parts();
    Ok(http::Response::from_parts(
        parts,
        body.collect().await?.to_bytes(),
    ))
}

fn with_secret() -> FakeConfig {
    FakeConfig {
        app_secret: Some(SECRET.into()),
        ..FakeConfig::default()
    }
}

/// What a message-path case expects of the caller's result.
type MessageOutcome = fn(&Result<http::Response<Bytes>, BoxError>) -> bool;
/// What an exchange-path case expects of the renewal's error.
type RefreshOutcome = fn(&RefreshError) -> bool;

/// A failure of the client under the stack, as the stack reports it.
fn is_transport(err: &BoxError) -> bool {
    matches!(err.downcast_ref::<Error>(), Some(Error::Transport(_)))
}

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
            tower_whatsapp_auth::ErrorKind::Transient,
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

/// A call that never answers is given up at exactly `validation_timeout`;
/// a quick fault takes less.
fn held_for_the_timeout(started: Instant, held: bool, case: &str) {
    let elapsed = started.elapsed();
    if held {
        assert_eq!(elapsed, VALIDATION_TIMEOUT, "{case}");
    } else {
        assert!(elapsed < VALIDATION_TIMEOUT, "{case}: {elapsed:?}");
    }
}

/// Validation path: `/debug_token` (app credentials) or the phone number
/// node (without). A fault gives no verdict: the request goes through and
/// validation is retried later.
#[tokio::test(start_paused = true)]
async fn validation_path_faults() {
    let faults = [
        ("reset mid-response", Injected::ResetMidBody),
        ("hang", Injected::Hang),
        (
            "slow body past the timeout",
            Injected::SlowBody(Duration::from_millis(200)),
        ),
        ("truncated JSON", Injected::TruncatedJson),
        ("invalid JSON", Injected::InvalidJson),
        ("HTML page", Injected::Html),
        ("10 MB body", Injected::HugeBody(TEN_MB)),
        (
            "200 with an error object",
            Injected::ErrorIn200 {
                code: 1,
                subcode: None,
            },
        ),
    ];
    for (route, config) in [
        (Route::DebugToken, with_secret()),
        (Route::Node, FakeConfig::default()),
    ] {
        for (name, injected) in faults.clone() {
            let (fake, stack, cell) = start(config.clone(), |l| {
                l.validation_retry(Duration::from_secs(30))
            })
            .await;
            // A validation that never answers holds the request for exactly
            // `validation_timeout`; a quick fault not at all.
            let held = matches!(injected, Injected::Hang | Injected::SlowBody(_));
            fake.inject(route, injected, 1);
            let started = Instant::now();
            assert_eq!(
                send(&stack, &fake).await.unwrap().status(),
                200,
                "{route:?} {name}"
            );
            held_for_the_timeout(started, held, &format!("{route:?} {name}"));
            assert_eq!(fake.counters().validations, 1, "{route:?} {name}");
            assert!(cell.blocked().is_none());
            tokio::time::advance(Duration::from_secs(30)).await;
            assert_eq!(send(&stack, &fake).await.unwrap().status(), 200);
            assert_eq!(
                fake.counters().validations,
                2,
                "{route:?} {name}: validated again after the retry delay"
            );
        }
    }
}

/// Permission check path: `/debug_token` or `/me/permissions`; a fault is a
/// typed `Error::Unavailable` within the validation timeout.
#[tokio::test(start_paused = true)]
async fn permission_check_faults() {
    let faults = [
        ("reset mid-response", Injected::ResetMidBody),
        ("hang", Injected::Hang),
        ("truncated JSON", Injected::TruncatedJson),
        ("invalid JSON", Injected::InvalidJson),
        ("HTML page", Injected::Html),
        ("10 MB body", Injected::HugeBody(TEN_MB)),
    ];
    for (route, config) in [
        (Route::DebugToken, with_secret()),
        (Route::Permissions, FakeConfig::default()),
    ] {
        for (name, injected) in faults.clone() {
            let (fake, _stack, cell) = start(config.clone(), |l| l).await;
            let held = matches!(injected, Injected::Hang);
            fake.inject(route, injected, 1);
            let started = Instant::now();
            let err = cell.check_permissions().await.unwrap_err();
            assert!(
                matches!(err, Error::Unavailable(_)),
                "{route:?} {name}: {err}"
            );
            held_for_the_timeout(started, held, &format!("{route:?} {name}"));
            assert!(
                cell.check_permissions().await.is_ok(),
                "{route:?} {name}: next check succeeds"
            );
        }
    }
}

/// Connection refused on every call (Graph unreachable): transport errors
/// at once, no renewal, validation tried again only after
/// `validation_retry`, and recovery once Graph is back on the same address.
#[tokio::test(start_paused = true)]
async fn refused_connections_fail_fast_and_recover() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let config = with_secret();
    let retry = Duration::from_secs(30);
    let auth = WhatsAppAuthLayer::new(config.token.as_str())
        .phone_number_id(config.phone_number_id.as_str())
        .graph_base(format!("http://{addr}"))
        .app_credentials(config.app_id.as_str(), SECRET)
        .validation_timeout(VALIDATION_TIMEOUT)
        .validation_retry(retry);
    let (stack, cell) = build_stack(auth, USER_TIMEOUT);
    let url = format!(
        "http://{addr}/{DEFAULT_GRAPH_VERSION}/{}/messages",
        config.phone_number_id
    );
    let message = || {
        Request::post(url.as_str())
            .body(Full::new(text_message("1555", "refused")))
            .unwrap()
    };
    for _ in 0..3 {
        let started = Instant::now();
        let err = stack.clone().oneshot(message()).await.unwrap_err();
        assert!(is_transport(&err), "{err}");
        // Refused at once: no timeout was waited for.
        assert!(
            started.elapsed() < VALIDATION_TIMEOUT,
            "{:?}",
            started.elapsed()
        );
    }
    assert_eq!(cell.stats().refreshes, 0);
    assert_eq!(
        cell.stats().validations,
        1,
        "validation without a verdict is retried later, not per request"
    );
    assert!(cell.blocked().is_none());
    // After validation_retry, one more validation attempt, not before.
    tokio::time::advance(retry - Duration::from_secs(1)).await;
    let _ = stack.clone().oneshot(message()).await;
    assert_eq!(cell.stats().validations, 1);
    tokio::time::advance(Duration::from_secs(2)).await;
    let _ = stack.clone().oneshot(message()).await;
    for _ in 0..100 {
        if cell.stats().validations == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(cell.stats().validations, 2);
    // Graph comes back on the same address.
    let fake = FakeGraph::start_on(config, addr).await;
    assert_eq!(
        stack.clone().oneshot(message()).await.unwrap().status(),
        200
    );
    assert_eq!(fake.counters().messages_accepted, 1);
}
