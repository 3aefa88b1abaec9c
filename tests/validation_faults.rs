//! The fault matrix on the token checks, over real sockets: each fault
//! injected into validation (`/debug_token` with app credentials, the phone
//! number node without) and into the permission check, and every connection
//! refused. A validation fault gives no verdict: the request goes through,
//! held at most `validation_timeout`, and validation is tried again only
//! after `validation_retry`. A permission check fault is a typed
//! `Error::Unavailable`. The next call after the fault clears succeeds.

#[path = "support/common/mod.rs"]
mod common;

use std::time::Duration;

use common::fake_graph::{FakeConfig, FakeGraph, Injected, Route};
use common::fault_stack::{
    is_transport, send, start, with_secret, SECRET, TEN_MB, USER_TIMEOUT, VALIDATION_TIMEOUT,
};
use common::sender::{build_stack, text_message};
use http::Request;
use http_body_util::Full;
use tokio::time::Instant;
use tower::ServiceExt;
use tower_whatsapp_auth::{Error, WhatsAppAuthLayer, DEFAULT_GRAPH_VERSION};

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

/// `/debug_token` of a partner's token that covers thousands of accounts
/// answers well past the 64 KiB error body limit: read whole all the same,
/// so its expiry is learned (it failed validation for ever before). In
/// memory: the answer's shape is Meta's `/debug_token` reference's.
#[tokio::test]
async fn a_debug_token_answer_past_the_error_limit_is_read() {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};
    use tower_whatsapp_auth::{ReplayBody, WhatsAppAuthLayer};

    let expires_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 30 * 86_400;
    let ids: Vec<String> = (0..8_000)
        .map(|n| format!("\"{}\"", 100_000_000_000_000u64 + n))
        .collect();
    let body = format!(
        r#"{{"data":{{"app_id":"1234567890","type":"USER","application":"Platform","data_access_expires_at":{expires_at},"expires_at":{expires_at},"is_valid":true,"scopes":["whatsapp_business_management","whatsapp_business_messaging"],"granular_scopes":[{{"scope":"whatsapp_business_management","target_ids":[{ids}]}},{{"scope":"whatsapp_business_messaging","target_ids":[{ids}]}}],"user_id":"10000000000001"}}}}"#,
        ids = ids.join(",")
    );
    assert!(body.len() > 256 * 1024);
    let client = tower::service_fn(move |_req: http::Request<ReplayBody>| {
        let body = body.clone();
        async move {
            Ok::<_, tower::BoxError>(
                http::Response::builder()
                    .header("content-type", "application/json")
                    .body(http_body_util::Full::new(bytes::Bytes::from(body)))
                    .unwrap(),
            )
        }
    });
    let cell = WhatsAppAuthLayer::new("EAAG-partner-token")
        .app_credentials("1234567890", "platform-app-secret")
        .token_cell(client);
    cell.ready().await.unwrap();
    let left = cell.expires_in().expect("the expiry /debug_token gave");
    assert!(left > Duration::from_secs(29 * 86_400), "{left:?}");
    assert_eq!(cell.stats().validations, 1);
}
