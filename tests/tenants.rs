//! Many businesses through one stack, over real sockets, against a Graph
//! fake where every phone number accepts only its own business's token.
#![cfg(all(feature = "tenants", feature = "webhook"))]

#[path = "support/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::fake_graph::tenants::FakeTenant;
use common::fake_graph::{FakeConfig, FakeGraph};
use common::sender::{https_client, text_message, HttpsClient};
use common::tenant_book::TenantBook;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use tokio::task::JoinSet;
use tower::{BoxError, Layer, ServiceExt};
use tower_whatsapp_auth::tenants::{TenantId, WhatsAppTenants, WhatsAppTenantsLayer};
use tower_whatsapp_auth::{classify::GraphBody, graph::ErrorKind, Error};

const SECRET: &str = "platform-app-secret";

fn phone(n: usize) -> String {
    format!("10654035224{n:04}")
}

fn businesses(count: usize) -> Vec<FakeTenant> {
    (0..count)
        .map(|n| {
            FakeTenant::new(
                &phone(n),
                &format!("2000000000{n:04}"),
                &format!("EAAGbusiness{n:04}{}", "t".repeat(24)),
            )
        })
        .collect()
}

async fn fake(tenants: Vec<FakeTenant>) -> (FakeGraph, FakeConfig) {
    let config = FakeConfig {
        app_secret: Some(SECRET.into()),
        tenants,
        ..FakeConfig::default()
    };
    (FakeGraph::start(config.clone()).await, config)
}

fn layer(fake: &FakeGraph, config: &FakeConfig, book: &TenantBook) -> WhatsAppTenantsLayer {
    let base = fake.base_url();
    let app_id = config.app_id.clone();
    WhatsAppTenantsLayer::new(book.clone())
        .configure(move |auth| auth.app_credentials(app_id, SECRET).graph_base(base))
}

type Stack = WhatsAppTenants<HttpsClient>;

async fn send(stack: &Stack, from: &str) -> Result<Response<GraphBody<Incoming>>, BoxError> {
    let req = Request::post(format!("/{from}/messages"))
        .body(Full::new(text_message("15551234567", "hi")))
        .unwrap();
    stack.clone().oneshot(req).await
}

/// `per` messages from each phone, tenants interleaved, 32 in flight.
async fn send_all(
    stack: &Stack,
    phones: &[String],
    per: usize,
) -> Vec<(String, Result<u16, BoxError>)> {
    let limit = Arc::new(tokio::sync::Semaphore::new(32));
    let mut tasks = JoinSet::new();
    for _ in 0..per {
        for phone in phones {
            let (stack, phone, permit) = (
                stack.clone(),
                phone.clone(),
                limit.clone().acquire_owned().await,
            );
            tasks.spawn(async move {
                let res = send(&stack, &phone).await.map(|r| r.status().as_u16());
                drop(permit);
                (phone, res)
            });
        }
    }
    let mut out = Vec::new();
    while let Some(done) = tasks.join_next().await {
        out.push(done.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forty_businesses_each_send_with_their_own_token_and_validate_once() {
    let tenants = businesses(40);
    let (fake, config) = fake(tenants.clone()).await;
    let book = TenantBook::of(&tenants);
    let stack = layer(&fake, &config, &book).layer(https_client());
    let phones: Vec<String> = tenants.iter().map(|t| t.phone.clone()).collect();
    let results = send_all(&stack, &phones, 5).await;
    assert!(
        results.iter().all(|(_, r)| matches!(r, Ok(200))),
        "{:?}",
        results.iter().find(|(_, r)| !matches!(r, Ok(200)))
    );
    for phone in &phones {
        assert_eq!(fake.accepted_for(phone), 5, "{phone}");
    }
    assert_eq!(
        fake.wrong_business(),
        0,
        "no token on another business's number"
    );
    assert_eq!(
        fake.counters().validations,
        40,
        "each tenant validated once"
    );
    assert_eq!(book.lookups(), 40, "each tenant looked up once");
    assert_eq!(stack.tenants().len(), 40);
    assert_eq!(fake.counters().secrets_in_url, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_and_an_invalid_business_fail_alone() {
    let tenants = businesses(6);
    let (fake, config) = fake(tenants.clone()).await;
    let book = TenantBook::of(&tenants);
    fake.revoke(&tenants[1].token, 460);
    book.put(
        &tenants[2].phone,
        "EAAGnotATokenGraphKnows000000000000",
        &tenants[2].waba,
    );
    let stack = layer(&fake, &config, &book).layer(https_client());
    let phones: Vec<String> = tenants.iter().map(|t| t.phone.clone()).collect();
    let results = send_all(&stack, &phones, 4).await;
    for (phone, result) in results {
        let kind = result
            .as_ref()
            .err()
            .and_then(|e| e.downcast_ref::<Error>())
            .map(Error::kind);
        if phone == tenants[1].phone {
            assert_eq!(kind, Some(ErrorKind::TokenRevoked), "{result:?}");
        } else if phone == tenants[2].phone {
            assert_eq!(kind, Some(ErrorKind::TokenInvalid), "{result:?}");
        } else {
            assert!(matches!(result, Ok(200)), "{phone}: {result:?}");
        }
    }
    for (n, t) in tenants.iter().enumerate() {
        let want = if n == 1 || n == 2 { 0 } else { 4 };
        assert_eq!(fake.accepted_for(&t.phone), want, "{}", t.phone);
    }
    // Refused at validation: the dead tenants' messages never reached Graph.
    assert_eq!(fake.counters().message_requests, 4 * 4);
    assert_eq!(fake.wrong_business(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_business_near_expiry_is_renewed_once_and_the_new_token_is_kept() {
    let mut tenants = businesses(3);
    tenants[0] = tenants[0].clone().expiring_in(Duration::from_secs(3600));
    let (fake, _) = fake(tenants.clone()).await;
    let book = TenantBook::of(&tenants);
    // Renew anything with less than two hours left: the first one, at once.
    let base = fake.base_url();
    let stack = WhatsAppTenantsLayer::new(book.clone())
        .configure(move |auth| {
            auth.app_credentials("1234567890", SECRET)
                .graph_base(base)
                .refresh_window(Duration::from_secs(7200), 0.0)
        })
        .layer(https_client());
    let phones: Vec<String> = tenants.iter().map(|t| t.phone.clone()).collect();
    assert!(send_all(&stack, &phones, 3)
        .await
        .iter()
        .all(|(_, r)| matches!(r, Ok(200))));
    let renewed = tokio::time::timeout(Duration::from_secs(10), async {
        while book.saved().is_empty() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    renewed.await.expect("the renewed token reaches the source");
    assert!(send_all(&stack, &phones, 3)
        .await
        .iter()
        .all(|(_, r)| matches!(r, Ok(200))));
    assert_eq!(fake.exchanges_for(&tenants[0].waba), 1);
    assert_eq!(
        fake.counters().exchanges,
        1,
        "the others never expire: no exchange"
    );
    let newest = fake
        .tokens_of(&tenants[0].waba)
        .into_iter()
        .find(|t| *t != tenants[0].token);
    assert_eq!(
        book.saved(),
        vec![(phones[0].clone(), newest.clone().unwrap())]
    );
    assert_eq!(book.token(&phones[0]), newest);
    assert_eq!(fake.wrong_business(), 0);
}

#[tokio::test]
async fn requests_naming_no_tenant_or_another_fail_unsent() {
    let tenants = businesses(2);
    let (fake, config) = fake(tenants.clone()).await;
    let book = TenantBook::of(&tenants);
    let stack = layer(&fake, &config, &book).layer(https_client());
    let err = send(&stack, "199999999999999").await.unwrap_err();
    assert!(
        matches!(err.downcast_ref(), Some(Error::UnknownTenant { phone_number_id }) if phone_number_id == "199999999999999"),
        "{err}"
    );
    // Sends from the first number, named as the second's: not sent.
    let mut req = Request::post(format!("/{}/messages", tenants[0].phone))
        .body(Full::new(Bytes::from_static(b"{}")))
        .unwrap();
    req.extensions_mut()
        .insert(TenantId::new(&tenants[1].phone));
    let err = stack.clone().oneshot(req).await.unwrap_err();
    assert!(
        matches!(err.downcast_ref(), Some(Error::TenantMismatch { .. })),
        "{err}"
    );
    let req = Request::get("/v25.0/debug_token")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let err = stack.clone().oneshot(req).await.unwrap_err();
    assert!(matches!(err.downcast_ref(), Some(Error::NoTenant)), "{err}");
    assert_eq!(fake.counters().message_requests, 0);
    assert_eq!(
        fake.counters().validations,
        0,
        "no tenant was even validated"
    );
}

#[tokio::test]
async fn a_business_that_removed_the_app_ends_at_its_webhook() {
    let tenants = businesses(2);
    let (fake, config) = fake(tenants.clone()).await;
    let book = TenantBook::of(&tenants);
    let stack = layer(&fake, &config, &book).layer(https_client());
    assert_eq!(send(&stack, &tenants[0].phone).await.unwrap().status(), 200);
    let cell = stack.tenants().cell(&tenants[0].phone).unwrap();
    let delivery = format!(
        r#"{{"object":"whatsapp_business_account","entry":[{{"id":"2949482758682047","changes":[{{"field":"account_update","value":{{"event":"PARTNER_APP_UNINSTALLED","waba_info":{{"waba_id":"{}"}}}}}}]}}]}}"#,
        tenants[0].waba
    );
    let delivery = tower_whatsapp_auth::webhook::Notification::parse(delivery.as_bytes()).unwrap();
    book.remove(&tenants[0].phone);
    assert_eq!(stack.tenants().on_webhook(&delivery), 1);
    assert!(matches!(cell.blocked(), Some(Error::TenantRemoved { .. })));
    let err = send(&stack, &tenants[0].phone).await.unwrap_err();
    assert!(
        matches!(err.downcast_ref(), Some(Error::UnknownTenant { .. })),
        "{err}"
    );
    assert_eq!(send(&stack, &tenants[1].phone).await.unwrap().status(), 200);
    assert_eq!(fake.accepted_for(&tenants[0].phone), 1);
}

/// A cold start of many tenants validates each once, never more than the
/// bound at a time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cold_start_validates_each_tenant_once_a_bounded_number_at_a_time() {
    let tenants = businesses(120);
    let (fake, config) = fake(tenants.clone()).await;
    fake.set_validation_delay(Duration::from_millis(20));
    let book = TenantBook::of(&tenants);
    let stack = layer(&fake, &config, &book)
        .max_validations_in_flight(6)
        .layer(https_client());
    let phones: Vec<String> = tenants.iter().map(|t| t.phone.clone()).collect();
    assert!(send_all(&stack, &phones, 1)
        .await
        .iter()
        .all(|(_, r)| matches!(r, Ok(200))));
    assert_eq!(fake.counters().validations, 120);
    let most = fake.max_validations_in_flight();
    assert!((2..=6).contains(&most), "{most} in flight at once");
}
