//! A token exchange that fails, through the full stack over real sockets on
//! a paused clock: whether it answers 500 or hangs, 50 waiting callers cause
//! one exchange and each gets a typed error within `refresh_timeout`, no
//! replay reaches Graph, and once the back-off ends the next renewal
//! succeeds.

#[path = "support/common/mod.rs"]
mod common;

use std::time::Duration;

use bytes::Bytes;
use common::fake_graph::{ExchangeMode, FakeGraph};
use common::full_stack::{crate_error, fake_config, message, send_one, start};
use common::sender::text_message;
use http_body_util::BodyExt;
use tower::{BoxError, ServiceExt};
use tower_whatsapp_auth::{Error, RefreshError};

async fn failing_exchange(
    mode: ExchangeMode,
) -> (
    Vec<Result<http::Response<Bytes>, BoxError>>,
    FakeGraph,
    Duration,
) {
    let (fake, stack, _cell) = start(fake_config(Some(0)), |l| {
        l.without_validation()
            .refresh_timeout(Duration::from_millis(800))
    })
    .await;
    fake.set_exchange_mode(mode);
    let body = text_message("1555", "exchange fails");
    let started = tokio::time::Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let (stack, req) = (stack.clone(), message(&fake, &body));
        tasks.spawn(async move {
            let res = stack.oneshot(req).await?;
            let (parts, body) = res.into_parts();
            Ok::<_, BoxError>(http::Response::from_parts(
                parts,
                body.collect().await?.to_bytes(),
            ))
        });
    }
    let results = tasks.join_all().await;
    (results, fake, started.elapsed())
}

#[tokio::test(start_paused = true)]
async fn an_exchange_answering_500_gives_a_typed_error_and_one_exchange_for_all_waiters() {
    let (results, fake, _) = failing_exchange(ExchangeMode::ServerError).await;
    for result in &results {
        let err = result.as_ref().unwrap_err();
        assert!(matches!(crate_error(err), Error::Refresh(_)), "{err}");
    }
    assert!(results.iter().any(|r| matches!(
        crate_error(r.as_ref().unwrap_err()),
        Error::Refresh(RefreshError::BackingOff { .. })
    )));
    assert_eq!(
        fake.counters().exchanges,
        1,
        "one exchange however many waited"
    );
    assert!(
        fake.counters().message_requests <= 50,
        "no replay reached Graph"
    );
}

#[tokio::test(start_paused = true)]
async fn a_hanging_exchange_gives_a_typed_error_within_the_refresh_timeout() {
    let (results, fake, elapsed) = failing_exchange(ExchangeMode::Hang).await;
    for result in &results {
        let err = result.as_ref().unwrap_err();
        let Error::Refresh(refresh) = crate_error(err) else {
            panic!("{err}")
        };
        let timed_out = match refresh {
            RefreshError::Timeout(t) => *t == Duration::from_millis(800),
            RefreshError::BackingOff { last, .. } => matches!(**last, RefreshError::Timeout(_)),
            _ => false,
        };
        assert!(timed_out, "{refresh}");
    }
    assert_eq!(fake.counters().exchanges, 1);
    assert!(
        elapsed >= Duration::from_millis(800) && elapsed < Duration::from_millis(900),
        "{elapsed:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn after_a_failed_exchange_the_backoff_ends_and_the_next_refresh_succeeds() {
    let (fake, stack, _cell) = start(fake_config(Some(0)), |l| {
        l.without_validation()
            .refresh_backoff(Duration::from_secs(5), Duration::from_secs(60))
    })
    .await;
    fake.set_exchange_mode(ExchangeMode::ServerError);
    let body = text_message("1555", "backoff");
    assert!(send_one(&stack, &fake, &body).await.is_err());
    fake.set_exchange_mode(ExchangeMode::Issue);
    let err = send_one(&stack, &fake, &body).await.unwrap_err();
    assert!(
        matches!(
            crate_error(&err),
            Error::Refresh(RefreshError::BackingOff { .. })
        ),
        "{err}"
    );
    assert_eq!(
        fake.counters().exchanges,
        1,
        "no exchange while backing off"
    );
    tokio::time::advance(Duration::from_secs(5)).await;
    assert_eq!(send_one(&stack, &fake, &body).await.unwrap().status(), 200);
    assert_eq!(fake.counters().exchanges, 2);
}
