//! Graph as it really behaves, not as the crate pictures it: read calls
//! that Graph refuses as POSTs, a wrong app secret or app id, and an
//! expired token Graph will not exchange, over real sockets, through the
//! stack and through the `send` and `doctor` examples.
#![cfg(all(feature = "throughput", feature = "retry"))]

#[path = "support/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::fake_graph::{FakeConfig, FakeGraph};
use common::run::{env_for, printed, run_example};
use common::sender::{build_stack, status};
use tower_whatsapp_auth::{
    graph::{ErrorKind, Misconfiguration},
    Error, ExchangeMethod,
};

const SECRET: &str = "fake-app-secret";

fn with_secret() -> FakeConfig {
    FakeConfig {
        app_secret: Some(SECRET.into()),
        ..FakeConfig::default()
    }
}

/// Graph refuses `/debug_token` and `/me/permissions` as POSTs (100/33, as
/// logly/mureo#740 saw): validation and the permission check go on through
/// the documented GET, renewal works with one exchange, and neither the app
/// secret nor the app token is ever in a URL.
#[tokio::test]
async fn read_calls_work_when_graph_refuses_them_as_posts() {
    let config = FakeConfig {
        refuse_post_reads: true,
        token_uses: Some(5),
        ..with_secret()
    };
    let fake = FakeGraph::start(config.clone()).await;
    let (stack, cell) = build_stack(fake.layer(&config), Duration::from_secs(10));
    let report = cell.check_permissions().await.unwrap();
    assert!(report
        .missing(&[tower_whatsapp_auth::permissions::Permission::WhatsappBusinessMessaging])
        .is_empty());
    for _ in 0..10 {
        assert_eq!(status(&stack, &fake).await.unwrap(), 200);
    }
    let graph = fake.counters();
    assert_eq!(graph.exchanges, 1, "{graph:?}");
    assert_eq!(graph.messages_accepted, 10);
    // One POST refused, and from then on every /debug_token call by GET.
    assert_eq!(graph.refused_posts, 1, "{graph:?}");
    assert_eq!(graph.debug_token_calls, graph.tokens_in_url, "{graph:?}");
    assert_eq!(
        graph.secrets_in_url, 0,
        "no app secret or app token in a URL"
    );
    // Without app credentials the permission check is /me/permissions, a GET.
    let config = FakeConfig {
        refuse_post_reads: true,
        ..FakeConfig::default()
    };
    let fake = FakeGraph::start(config.clone()).await;
    let (_stack, cell) = build_stack(fake.layer(&config), Duration::from_secs(10));
    assert!(cell.check_permissions().await.is_ok());
    assert_eq!(fake.counters().secrets_in_url, 0);
}

/// Graph refuses the exchange as a POST: a configuration error naming
/// `exchange_method`, nothing secret in a URL; with the documented GET
/// chosen explicitly, renewal works.
#[tokio::test]
async fn an_exchange_refused_as_a_post_names_exchange_method() {
    let config = FakeConfig {
        refuse_post_exchange: true,
        token_uses: Some(1),
        ..with_secret()
    };
    let fake = FakeGraph::start(config.clone()).await;
    let (stack, _cell) = build_stack(fake.layer(&config), Duration::from_secs(10));
    assert_eq!(status(&stack, &fake).await.unwrap(), 200);
    for _ in 0..3 {
        let err = status(&stack, &fake).await.unwrap_err();
        let Some(Error::Config(why)) = err.downcast_ref::<Error>() else {
            panic!("{err}")
        };
        assert!(
            why.contains("exchange_method(ExchangeMethod::GetQuery)"),
            "{why}"
        );
    }
    let graph = fake.counters();
    assert_eq!(graph.exchanges, 1, "refused once, not retried: {graph:?}");
    assert_eq!(graph.message_requests, 2, "later requests fail unsent");
    assert_eq!(graph.secrets_in_url, 0);

    let fake = FakeGraph::start(config.clone()).await;
    let (stack, _cell) = build_stack(
        fake.layer(&config)
            .exchange_method(ExchangeMethod::GetQuery),
        Duration::from_secs(10),
    );
    for _ in 0..3 {
        assert_eq!(status(&stack, &fake).await.unwrap(), 200);
    }
    assert_eq!(fake.counters().exchanges, 1);
}

/// A wrong app secret, through the stack: the first refusal names the app
/// secret (never the token), and later requests fail unsent.
#[tokio::test]
async fn a_wrong_app_secret_is_a_configuration_error_not_a_token_error() {
    for debug_token in [true, false] {
        let config = with_secret();
        let fake = FakeGraph::start(config.clone()).await;
        let layer = fake
            .layer(&config)
            .app_secret("not-the-app-secret")
            .validate_with_debug_token(debug_token);
        let (stack, cell) = build_stack(layer, Duration::from_secs(10));
        let err = status(&stack, &fake).await.unwrap_err();
        let Some(Error::Misconfigured { what, cause }) = err.downcast_ref::<Error>() else {
            panic!("{err}")
        };
        assert_eq!(*what, Misconfiguration::AppSecret, "{err}");
        assert_eq!(cause.kind(), ErrorKind::Misconfigured);
        let shown = err.to_string();
        assert!(shown.contains("app secret"), "{shown}");
        assert!(!shown.contains("new token"), "{shown}");
        let sent = fake.counters().message_requests;
        for _ in 0..5 {
            let err = status(&stack, &fake).await.unwrap_err();
            assert!(matches!(
                err.downcast_ref::<Error>(),
                Some(Error::Misconfigured { .. })
            ));
        }
        assert_eq!(fake.counters().message_requests, sent, "nothing more sent");
        assert_eq!(
            cell.stats().refreshes,
            0,
            "no renewal of a token that is fine"
        );
    }
}

/// The app requires `appsecret_proof` and the stack has no secret: the
/// first refusal names the missing setting, later requests fail unsent, and
/// each `dead_recheck` asks Graph again: once the operator turns the
/// requirement off, traffic flows with the same token.
#[tokio::test(start_paused = true)]
async fn a_required_proof_without_a_secret_is_rechecked_every_dead_recheck() {
    let config = with_secret();
    let fake = FakeGraph::start(config.clone()).await;
    let recheck = Duration::from_secs(30);
    let layer = tower_whatsapp_auth::WhatsAppAuthLayer::new(config.token.as_str())
        .phone_number_id(config.phone_number_id.as_str())
        .graph_base(fake.base_url())
        .dead_recheck(recheck);
    let (stack, cell) = build_stack(layer, Duration::from_secs(10));
    let err = status(&stack, &fake).await.unwrap_err();
    assert!(
        matches!(err.downcast_ref::<Error>(), Some(Error::Misconfigured { what, .. })
            if *what == Misconfiguration::AppSecretMissing),
        "{err}"
    );
    let asked = fake.counters().validations;
    // Before the re-check: fails unsent, Graph not asked again.
    tokio::time::advance(recheck / 2).await;
    assert!(status(&stack, &fake).await.is_err());
    assert_eq!(fake.counters().validations, asked, "not re-checked early");
    // Still required at the re-check: still blocked, nothing sent.
    tokio::time::advance(recheck / 2).await;
    assert!(status(&stack, &fake).await.is_err());
    assert!(
        fake.counters().validations > asked,
        "the re-check asked Graph"
    );
    assert_eq!(fake.counters().message_requests, 0);
    // The operator turns "Require App Secret" off; the next re-check sees it.
    fake.set_app_secret(None);
    tokio::time::advance(recheck).await;
    assert_eq!(status(&stack, &fake).await.unwrap(), 200);
    assert_eq!(cell.stats().refreshes, 0, "the token was never the problem");
}

fn send_args(count: &'static str, concurrency: &'static str) -> [&'static str; 8] {
    [
        "--to",
        "15551234567",
        "--text",
        "hi",
        "--count",
        count,
        "--concurrency",
        concurrency,
    ]
}

/// `send` and `doctor` with a wrong app secret, and separately a wrong app
/// id: both name the setting, neither tells the user to regenerate the
/// token, and `send` stops before sending (at most `--concurrency`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_and_doctor_name_a_wrong_app_secret_or_app_id() {
    let config = with_secret();
    for (var, value, named) in [
        ("META_APP_SECRET", "not-the-app-secret", "app secret"),
        ("META_APP_ID", "999999", "app id"),
    ] {
        let fake = FakeGraph::start(config.clone()).await;
        let mut envs = env_for(&fake, &config);
        envs.retain(|(k, _)| k != var);
        envs.push((var.into(), value.into()));
        let out = run_example("send", &envs, &send_args("200", "16")).await;
        let shown = printed(&out);
        assert_eq!(out.status.code(), Some(1), "{shown}");
        assert!(shown.contains(named), "{var}: {shown}");
        for wrong in ["regenerate", "generate a new token", "new long-lived token"] {
            assert!(!shown.contains(wrong), "{var}: blames the token: {shown}");
        }
        assert!(
            fake.counters().message_requests <= 16,
            "{:?}",
            fake.counters()
        );

        let out = run_example("doctor", &envs, &[]).await;
        let shown = printed(&out);
        assert_eq!(out.status.code(), Some(1), "{shown}");
        assert!(shown.contains("FAIL  app id+secret"), "{shown}");
        assert!(shown.contains(named), "{var}: {shown}");
        assert!(!shown.contains("regenerate"), "{shown}");
    }
    // An app secret without an app id: the refused appsecret_proof names it.
    let fake = FakeGraph::start(config.clone()).await;
    let mut envs = env_for(&fake, &config);
    envs.retain(|(k, _)| k != "META_APP_ID" && k != "META_APP_SECRET");
    envs.push(("META_APP_SECRET".into(), "not-the-app-secret".into()));
    let out = run_example("send", &envs, &send_args("200", "16")).await;
    let shown = printed(&out);
    assert_eq!(out.status.code(), Some(1), "{shown}");
    assert!(shown.contains("app secret is wrong"), "{shown}");
    assert!(fake.counters().message_requests <= 16);
}

/// An expired token that Graph refuses to exchange (as real Graph does):
/// `send` exits non-zero at once, saying why renewal after expiry cannot
/// work and what to do instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_explains_an_expired_token_graph_will_not_exchange() {
    let config = FakeConfig {
        token_uses: Some(0),
        exchange_accepts_expired: false,
        ..with_secret()
    };
    let fake = FakeGraph::start(config.clone()).await;
    let started = Instant::now();
    let out = run_example("send", &env_for(&fake, &config), &send_args("200", "16")).await;
    let shown = printed(&out);
    assert_eq!(out.status.code(), Some(1), "{shown}");
    assert!(started.elapsed() < Duration::from_secs(10), "quickly");
    assert!(
        shown.contains("Graph does not exchange an expired token"),
        "{shown}"
    );
    assert!(
        shown.contains("system-user token that never expires"),
        "{shown}"
    );
    assert_eq!(fake.counters().message_requests, 0, "nothing sent");
    assert_eq!(fake.counters().exchanges, 1, "renewal tried once");
}

/// A 60-day system-user token (as `/debug_token` reports it) is renewed
/// ahead of expiry the way Meta documents for them, with
/// `set_token_expires_in_60_days=true`; a user token without it; and a token
/// that never expires (`expires_at: 0`) is never renewed.
#[tokio::test(start_paused = true)]
async fn system_user_tokens_are_renewed_for_another_60_days() {
    const DAY: Duration = Duration::from_secs(86_400);
    for (token_type, lifetime, renewed, with_param) in [
        ("SYSTEM_USER", Some(60 * DAY), true, true),
        ("USER", Some(60 * DAY), true, false),
        ("SYSTEM_USER", None, false, false),
    ] {
        let config = FakeConfig {
            token_type: token_type.into(),
            token_lifetime: lifetime,
            ..with_secret()
        };
        let fake = FakeGraph::start(config.clone()).await;
        let (stack, cell) = build_stack(
            fake.layer(&config).refresh_jitter(0.0),
            Duration::from_secs(10),
        );
        assert_eq!(status(&stack, &fake).await.unwrap(), 200);
        tokio::time::advance(59 * DAY).await;
        assert_eq!(status(&stack, &fake).await.unwrap(), 200);
        cell.ready().await.unwrap();
        for _ in 0..100 {
            if !renewed || cell.stats().generation == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(
            cell.stats().generation,
            u64::from(renewed),
            "{token_type} {lifetime:?}"
        );
        assert_eq!(
            fake.counters().exchanges,
            u64::from(renewed),
            "{token_type}"
        );
        let params = fake.exchange_params();
        assert_eq!(
            params.iter().any(|p| p == "set_token_expires_in_60_days"),
            with_param,
            "{token_type}: {params:?}"
        );
    }
}
