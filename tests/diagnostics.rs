//! Permission checks, required permissions, every classified error code
//! through the stack, and the `doctor` example's output.

#[path = "support/common/mod.rs"]
mod common;

use std::time::Duration;

use common::fake_graph::{FakeConfig, FakeGraph, Fault};
use common::run::{env_for, printed, run_example};
use common::sender::{build_stack, text_message, Stack};
use http::Request;
use http_body_util::Full;
use tower::{BoxError, ServiceExt};
use tower_whatsapp_auth::{
    graph::{hint, ErrorKind, GraphError},
    permissions::{Permission, PermissionStatus},
    Error, WhatsAppAuthLayer, DEFAULT_GRAPH_VERSION,
};

const SECRET: &str = "fake-app-secret";
const WABA: &str = "102290129340398";

fn scopes(granted: &[(&str, &str)]) -> Vec<(String, Vec<String>)> {
    granted
        .iter()
        .map(|(s, t)| (s.to_string(), vec![t.to_string()]))
        .collect()
}

fn layer(fake: &FakeGraph, config: &FakeConfig) -> WhatsAppAuthLayer {
    fake.layer(config).business_account_id(WABA)
}

async fn start(
    config: FakeConfig,
    adjust: impl FnOnce(WhatsAppAuthLayer) -> WhatsAppAuthLayer,
) -> (FakeGraph, Stack, tower_whatsapp_auth::TokenCell) {
    let fake = FakeGraph::start(config.clone()).await;
    let (stack, cell) = build_stack(adjust(layer(&fake, &config)), Duration::from_secs(10));
    (fake, stack, cell)
}

async fn send(
    stack: &Stack,
    fake: &FakeGraph,
) -> Result<http::Response<tower_whatsapp_auth::classify::GraphBody<hyper::body::Incoming>>, BoxError>
{
    let req = Request::post(fake.messages_url(DEFAULT_GRAPH_VERSION))
        .body(Full::new(text_message("1555", "diagnostics")))
        .unwrap();
    stack.clone().oneshot(req).await
}

#[tokio::test]
async fn permission_states_granted_declined_missing_and_other_account() {
    // Granted, from /debug_token with its target accounts.
    let (_fake, _stack, cell) = start(
        FakeConfig {
            app_secret: Some(SECRET.into()),
            ..FakeConfig::default()
        },
        |l| l,
    )
    .await;
    let report = cell.check_permissions().await.unwrap();
    assert!(report.from_debug_token());
    for p in Permission::ALL {
        assert_eq!(report.status(p), &PermissionStatus::Granted, "{p}");
    }
    assert_eq!(
        report.target_ids(Permission::WhatsappBusinessMessaging),
        Some(&[WABA.to_string()][..])
    );

    // Declined and missing, from /me/permissions (no app credentials).
    let config = FakeConfig {
        scopes: scopes(&[("whatsapp_business_management", WABA)]),
        declined: vec!["whatsapp_business_messaging".into()],
        ..FakeConfig::default()
    };
    let (_fake, _stack, cell) = start(config, |l| l).await;
    let report = cell.check_permissions().await.unwrap();
    assert!(!report.from_debug_token());
    assert_eq!(
        report.status(Permission::WhatsappBusinessMessaging),
        &PermissionStatus::Declined
    );
    assert_eq!(
        report.status(Permission::WhatsappBusinessManagement),
        &PermissionStatus::Granted
    );
    assert_eq!(
        report.status(Permission::BusinessManagement),
        &PermissionStatus::Missing
    );

    // Granted, but for another business account.
    let config = FakeConfig {
        app_secret: Some(SECRET.into()),
        scopes: scopes(&[("whatsapp_business_messaging", "999999999")]),
        ..FakeConfig::default()
    };
    let (_fake, _stack, cell) = start(config, |l| l).await;
    let report = cell.check_permissions().await.unwrap();
    assert_eq!(
        report.status(Permission::WhatsappBusinessMessaging),
        &PermissionStatus::GrantedForOtherAccounts {
            target_ids: vec!["999999999".into()]
        }
    );
}

#[tokio::test]
async fn a_required_permission_that_is_missing_fails_every_request_without_sending() {
    for app_secret in [None, Some(SECRET.to_string())] {
        let config = FakeConfig {
            app_secret: app_secret.clone(),
            scopes: scopes(&[("whatsapp_business_management", WABA)]),
            ..FakeConfig::default()
        };
        let (fake, stack, _cell) = start(config, |l| {
            l.require_permissions(&[Permission::WhatsappBusinessMessaging])
        })
        .await;
        for _ in 0..5 {
            let err = send(&stack, &fake).await.unwrap_err();
            let Some(Error::PermissionMissing { missing }) = err.downcast_ref::<Error>() else {
                panic!("{err}")
            };
            assert_eq!(
                missing,
                &vec![(
                    Permission::WhatsappBusinessMessaging,
                    PermissionStatus::Missing
                )]
            );
            assert!(
                err.to_string().contains(
                    "whatsapp_business_messaging is missing; to grant it: in Business Settings"
                ),
                "{err}"
            );
        }
        let graph = fake.counters();
        assert_eq!(
            graph.message_requests,
            0,
            "nothing sent (app secret: {})",
            app_secret.is_some()
        );
        assert_eq!(
            graph.validations, 1,
            "checked once, then failed without network"
        );
    }
}

#[tokio::test]
async fn required_permissions_that_are_granted_let_traffic_through() {
    let config = FakeConfig {
        app_secret: Some(SECRET.into()),
        ..FakeConfig::default()
    };
    let (fake, stack, _cell) = start(config, |l| l.require_permissions(&Permission::ALL)).await;
    assert_eq!(send(&stack, &fake).await.unwrap().status(), 200);
}

include!("fixtures/error_table.rs");

/// Every code and subcode the crate classifies, sent by Graph in answer to a
/// message: auth errors become typed errors, the rest pass through.
#[tokio::test]
async fn every_classified_code_is_handled_as_its_kind_says() {
    let cases: Vec<(i64, Option<i64>)> = TABLE
        .iter()
        .flat_map(|(codes, sub, _)| expand(codes, sub))
        .collect();
    for (code, subcode) in cases {
        let (fake, stack, _cell) = start(FakeConfig::default(), |l| l.without_validation()).await;
        fake.push_fault(Fault::GraphError {
            status: 400,
            code,
            subcode,
        });
        let kind = ErrorKind::from_codes(code, subcode);
        match send(&stack, &fake).await {
            Err(err) => {
                assert!(kind.is_auth(), "{code}/{subcode:?} became an error: {err}");
                let g = match (err.downcast_ref::<Error>(), kind) {
                    (Some(Error::Misconfigured { cause: g, .. }), ErrorKind::Misconfigured) => g,
                    (Some(Error::Graph(g)), kind) if kind != ErrorKind::Misconfigured => g,
                    _ => panic!("{code}/{subcode:?} as {kind:?}: {err}"),
                };
                assert_eq!((g.code(), g.subcode(), g.kind()), (code, subcode, kind));
                // The hint fits the setup: an expired token nothing renews
                // says how to renew it, not just that it expired.
                if kind == ErrorKind::TokenExpired {
                    assert!(g.hint().contains("nothing renews it"), "{}", g.hint());
                } else {
                    assert_eq!(g.hint(), hint(code, subcode));
                }
                assert!(err.to_string().contains(g.hint()));
            }
            Ok(res) => {
                assert!(!kind.is_auth(), "{code}/{subcode:?} passed through");
                assert_eq!(res.status(), 400);
                let g = res.extensions().get::<GraphError>().unwrap();
                assert_eq!((g.code(), g.kind()), (code, kind));
            }
        }
        // Only dead tokens and refused configurations stop later requests.
        let next = send(&stack, &fake).await;
        assert_eq!(
            next.is_err(),
            kind.is_token_rejected() || kind == ErrorKind::Misconfigured,
            "{code}/{subcode:?}"
        );
        if matches!(
            kind,
            ErrorKind::RateLimited | ErrorKind::Transient | ErrorKind::Other
        ) {
            assert_eq!(fake.counters().exchanges, 0);
        }
    }
}

async fn doctor(fake: &FakeGraph, config: &FakeConfig) -> (Option<i32>, String) {
    let mut envs = env_for(fake, config);
    envs.push(("WHATSAPP_BUSINESS_ACCOUNT_ID".into(), WABA.into()));
    let out = run_example("doctor", &envs, &[]).await;
    let text = printed(&out);
    assert!(
        !text.contains(&config.token) && !text.contains(SECRET),
        "no secret printed"
    );
    (out.status.code(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_reports_a_healthy_setup() {
    let config = FakeConfig {
        app_secret: Some(SECRET.into()),
        token_type: "SYSTEM_USER".into(),
        ..FakeConfig::default()
    };
    let fake = FakeGraph::start(config.clone()).await;
    let (code, out) = doctor(&fake, &config).await;
    assert_eq!(code, Some(0), "{out}");
    for expected in [
        "ok    token            present, EAAF…(35 chars)",
        "ok    valid            yes",
        "info  type             system user",
        "ok    expiry           never",
        "ok    permission       whatsapp_business_messaging: granted",
        "ok    appsecret_proof  accepted",
        "ok    phone number     106540352242922 reachable: +1 555-010-0000 \"Fake Business\" (quality GREEN)",
        "verdict: this setup can send WhatsApp messages",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in\n{out}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_reports_an_expired_token_with_its_fix() {
    let config = FakeConfig {
        app_secret: Some(SECRET.into()),
        token_uses: Some(0),
        ..FakeConfig::default()
    };
    let fake = FakeGraph::start(config.clone()).await;
    let (code, out) = doctor(&fake, &config).await;
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("FAIL  valid            token expired (Graph code 190/463)"),
        "{out}"
    );
    assert!(out.contains("FAIL  expiry           expired"), "{out}");
    assert!(
        out.contains("fix: the token expired before it could be renewed, and Graph does not exchange an expired token"),
        "{out}"
    );
    assert!(
        out.contains("verdict: this setup cannot send WhatsApp messages"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_reports_a_revoked_token_with_its_fix() {
    let config = FakeConfig {
        app_secret: Some(SECRET.into()),
        ..FakeConfig::default()
    };
    let fake = FakeGraph::start(config.clone()).await;
    fake.push_fault(Fault::Revoke { subcode: 460 });
    // Revoke through one message sent with the token, as a user changing their password would.
    let (stack, _cell) = build_stack(layer(&fake, &config), Duration::from_secs(10));
    assert!(send(&stack, &fake).await.is_err());
    let (code, out) = doctor(&fake, &config).await;
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("FAIL  valid            token revoked (Graph code 190/460)"),
        "{out}"
    );
    assert!(
        out.contains(&format!("fix: {}", hint(190, Some(460)))),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_names_a_missing_permission() {
    for app_secret in [Some(SECRET.to_string()), None] {
        let config = FakeConfig {
            app_secret,
            scopes: scopes(&[
                ("whatsapp_business_management", WABA),
                ("business_management", WABA),
            ]),
            ..FakeConfig::default()
        };
        let fake = FakeGraph::start(config.clone()).await;
        let (code, out) = doctor(&fake, &config).await;
        assert_eq!(code, Some(1), "{out}");
        assert!(
            out.contains("FAIL  permission       whatsapp_business_messaging: missing"),
            "{out}"
        );
        assert!(
            out.contains(&format!(
                "fix: {}",
                Permission::WhatsappBusinessMessaging.how_to_grant()
            )),
            "{out}"
        );
        assert!(out.contains("verdict: this setup cannot send WhatsApp messages: missing whatsapp_business_messaging"), "{out}");
    }
}

// Runs the `send` example, which needs these components.
#[cfg(all(feature = "throughput", feature = "retry"))]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_without_the_messaging_permission_sends_nothing() {
    let config = FakeConfig {
        app_secret: Some(SECRET.into()),
        scopes: scopes(&[("whatsapp_business_management", WABA)]),
        ..FakeConfig::default()
    };
    let fake = FakeGraph::start(config.clone()).await;
    let out = run_example(
        "send",
        &env_for(&fake, &config),
        &[
            "--to",
            "1555",
            "--text",
            "hi",
            "--count",
            "10",
            "--concurrency",
            "4",
        ],
    )
    .await;
    let text = printed(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("permission whatsapp_business_messaging is missing"),
        "{text}"
    );
    assert_eq!(fake.counters().message_requests, 0);
}
