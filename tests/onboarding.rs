//! Onboarding businesses: Embedded Signup codes exchanged for business
//! tokens (the secret kept out of URLs unless the documented GET is asked
//! for), and a business token checked against the account its tenant
//! names.
#![cfg(feature = "tenants")]

#[path = "support/common/mod.rs"]
mod common;

use bytes::Bytes;
use common::fake_graph::tenants::FakeTenant;
use common::fake_graph::{FakeConfig, FakeGraph};
use common::sender::{https_client, text_message};
use common::tenant_book::TenantBook;
use http::Request;
use http_body_util::Full;
use tower::{Layer, ServiceExt};
use tower_whatsapp_auth::tenants::WhatsAppTenantsLayer;
use tower_whatsapp_auth::{
    permissions::{Permission, PermissionStatus},
    Error, ExchangeMethod, Expiry, RefreshError,
};

const SECRET: &str = "platform-app-secret";
const WABA: &str = "200000000777";
const PHONE: &str = "106540352247777";

async fn fake(tenants: Vec<FakeTenant>) -> FakeGraph {
    let config = FakeConfig {
        app_secret: Some(SECRET.into()),
        tenants,
        ..FakeConfig::default()
    };
    FakeGraph::start(config).await
}

fn layer(fake: &FakeGraph, book: &TenantBook, method: ExchangeMethod) -> WhatsAppTenantsLayer {
    let base = fake.base_url();
    WhatsAppTenantsLayer::new(book.clone()).configure(move |auth| {
        auth.app_credentials("1234567890", SECRET)
            .graph_base(base)
            .exchange_method(method)
    })
}

fn message(from: &str) -> Request<Full<Bytes>> {
    Request::post(format!("/{from}/messages"))
        .body(Full::new(text_message("15551234567", "welcome")))
        .unwrap()
}

#[tokio::test]
async fn a_signup_code_becomes_a_business_that_sends() {
    // The business's number is known to Graph; its token comes from the code.
    let fake = fake(vec![FakeTenant::new(
        PHONE,
        WABA,
        "EAAGnotYetIssued000000000000",
    )])
    .await;
    fake.add_signup_code("signup-code-1", WABA);
    let book = TenantBook::default();
    let stack = layer(&fake, &book, ExchangeMethod::PostForm).layer(https_client());
    let onboarded = stack
        .tenants()
        .exchange_code("signup-code-1")
        .await
        .unwrap();
    assert_eq!(onboarded.waba_ids, vec![WABA.to_owned()]);
    assert_eq!(onboarded.token.expiry(), Expiry::Never);
    assert!(onboarded.not_inspected.is_none());
    let mut params = fake.exchange_params();
    params.sort();
    assert_eq!(params, ["client_id", "client_secret", "code"]);
    assert_eq!(
        fake.counters().secrets_in_url,
        0,
        "a POST form: no secret in a URL"
    );
    // A code is good once.
    let again = stack
        .tenants()
        .exchange_code("signup-code-1")
        .await
        .unwrap_err();
    assert!(
        matches!(&again, Error::Refresh(RefreshError::Rejected(g)) if g.code() == 100),
        "{again}"
    );
    // Kept by the platform, the token sends from the business's number.
    let tenant = onboarded.tenant();
    book.put(
        PHONE,
        onboarded.token.value().expose(),
        tenant.waba().unwrap(),
    );
    let res = stack.clone().oneshot(message(PHONE)).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(fake.accepted_for(PHONE), 1);
    assert_eq!(fake.wrong_business(), 0);
}

#[tokio::test]
async fn the_documented_get_is_an_opt_in() {
    let fake = fake(Vec::new()).await;
    fake.add_signup_code("signup-code-2", WABA);
    let book = TenantBook::default();
    let stack = layer(&fake, &book, ExchangeMethod::GetQuery).layer(https_client());
    let onboarded = stack
        .tenants()
        .exchange_code("signup-code-2")
        .await
        .unwrap();
    assert_eq!(onboarded.waba_ids, vec![WABA.to_owned()]);
    assert!(fake.counters().secrets_in_url >= 1, "the GET carries them");
}

/// A token whose `granular_scopes` do not cover the account the platform
/// has for the number is that tenant's configuration error: its requests
/// fail unsent, the other tenants' go.
#[tokio::test]
async fn a_token_for_another_account_is_that_tenant_s_configuration_error() {
    let ours = FakeTenant::new(PHONE, WABA, "EAAGbusinessOurs0000000000000000");
    let other = FakeTenant::new(
        "106540352248888",
        "200000000888",
        "EAAGbusinessOther000000000000000",
    );
    let fake = fake(vec![ours.clone(), other.clone()]).await;
    let book = TenantBook::of(&[ours.clone(), other.clone()]);
    // The platform filed the number under an account the token does not cover.
    book.put(PHONE, &ours.token, "200000000999");
    let stack = layer(&fake, &book, ExchangeMethod::PostForm).layer(https_client());
    let err = stack.clone().oneshot(message(PHONE)).await.unwrap_err();
    match err.downcast_ref::<Error>() {
        Some(Error::PermissionMissing { missing }) => {
            let (permission, status) = &missing[0];
            assert_eq!(*permission, Permission::WhatsappBusinessMessaging);
            assert!(
                matches!(status, PermissionStatus::GrantedForOtherAccounts { target_ids } if target_ids == &[WABA.to_owned()]),
                "{status:?}"
            );
        }
        other => panic!("{other:?}: {err}"),
    }
    let res = stack.clone().oneshot(message(&other.phone)).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(fake.accepted_for(PHONE), 0, "not sent");
    assert_eq!(fake.counters().message_requests, 1);
}

/// A Graph that takes the exchange and never answers: the signup's call
/// fails with a timeout after the refresh timeout, instead of holding the
/// platform's handler for ever. In memory, on a paused clock.
#[tokio::test(start_paused = true)]
async fn an_exchange_that_never_answers_times_out() {
    use std::time::Duration;
    let client = tower::service_fn(|_req: Request<tower_whatsapp_auth::ReplayBody>| async {
        std::future::pending::<Result<http::Response<Full<Bytes>>, tower::BoxError>>().await
    });
    let layer = WhatsAppTenantsLayer::new(TenantBook::default()).configure(|auth| {
        auth.app_credentials("1234567890", SECRET)
            .refresh_timeout(Duration::from_secs(10))
    });
    let stack = layer.layer(client);
    let started = tokio::time::Instant::now();
    let err = stack
        .tenants()
        .exchange_code("signup-code-9")
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Refresh(RefreshError::Timeout(t)) if t == Duration::from_secs(10)),
        "{err}"
    );
    assert_eq!(started.elapsed(), Duration::from_secs(10));
}
