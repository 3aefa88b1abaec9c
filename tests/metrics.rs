//! The metrics (feature `opentelemetry`), read back through the
//! OpenTelemetry SDK's in-memory exporter: a token expiry with its renewal
//! and replay, a revoked token, and webhook deliveries (good, forged,
//! duplicate, malformed, too large) each give exactly the counts expected,
//! and nothing else is counted.
#![cfg(all(feature = "opentelemetry", feature = "tenants", feature = "webhook"))]

#[path = "support/common/mod.rs"]
mod common;
#[path = "support/otel.rs"]
mod otel;

use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use tower::{service_fn, ServiceBuilder, ServiceExt};

use common::fake_graph::Fault;
use common::full_stack::{crate_error, fake_config, send_one, start, SECRET};
use common::sender::text_message;
use common::webhooks::{status_delivery, text_delivery};
use otel::Exported;
use tower_whatsapp_auth::telemetry::DeliveryOutcome;
use tower_whatsapp_auth::webhook::{
    sign, Deduplicator, MemoryDeduplicator, Notification, VerifySignatureLayer,
};
use tower_whatsapp_auth::{source::token_fn, Error, ReplayBody, Secret, Token, WhatsAppAuthLayer};

/// The first token is used once, then Graph says it expired: the request
/// that hears it waits for the one renewal and is replayed once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_expiry_counts_one_refusal_one_renewal_and_one_replay() {
    let otel = Exported::new();
    let (fake, stack, cell) = start(fake_config(Some(1)), |l| l.meter(otel.meter())).await;
    let body = text_message("1555", "hello");
    for _ in 0..2 {
        assert_eq!(send_one(&stack, &fake, &body).await.unwrap().status(), 200);
    }
    assert_eq!(fake.counters().exchanges, 1);
    assert_eq!(cell.stats().generation, 1);

    let got = otel.collect();
    assert_eq!(
        got.counters(),
        otel::counts(&[
            ("whatsapp.token.validations{outcome=valid}", 1),
            ("whatsapp.graph.errors{kind=token_expired}", 1),
            ("whatsapp.token.renewals{outcome=renewed}", 1),
            ("whatsapp.requests.replayed", 1),
        ])
    );
    // Two waits: the first request's, on the first validation; the
    // refused one's, on the renewal before its replay.
    assert_eq!(got.histogram_count("whatsapp.request.token_wait", &[]), 2);
    // The stack's own calls: the validation and the exchange, both 200.
    let port = fake.base_url().rsplit(':').next().unwrap().to_owned();
    let ok = [
        ("http.response.status_code", "200"),
        ("server.address", "127.0.0.1"),
        ("server.port", port.as_str()),
        ("http.request.method", "POST"),
    ];
    assert_eq!(got.histogram_count("http.client.request.duration", &ok), 2);
    assert_eq!(got.histogram_count("http.client.request.duration", &[]), 2);
    // The renewed token's lifetime, as the exchange said it.
    let left = got.gauge("whatsapp.token.expires_in").expect("an expiry");
    assert!((5_183_800.0..=5_183_944.0).contains(&left), "{left}");
}

/// A cell whose token comes from `token`, with no validation, the
/// metrics going to `otel`.
async fn cell_with(token: Token, otel: &Exported) -> tower_whatsapp_auth::TokenCell {
    let client = service_fn(|_req: Request<ReplayBody>| async {
        Ok::<_, tower::BoxError>(Response::new(http_body_util::Empty::<Bytes>::new()))
    });
    let source = token_fn(move |_| std::future::ready(Ok(token.clone())));
    let cell = WhatsAppAuthLayer::from_source(source)
        .without_validation()
        .meter(otel.meter())
        .token_cell(client);
    cell.ready().await.unwrap();
    cell
}

/// The expiry gauge reads the time left when it is read, on the clock of
/// the runtime the cell runs on; a token that never expires has none.
#[tokio::test(start_paused = true)]
async fn the_expiry_gauge_reads_the_time_left_when_it_is_read() {
    let hour = std::time::Duration::from_secs(3600);
    let otel = Exported::new();
    let _cell = cell_with(Token::new("EAAG-hour").expires_in(hour), &otel).await;
    assert_eq!(
        otel.collect().gauge("whatsapp.token.expires_in"),
        Some(3600.0)
    );
    tokio::time::advance(hour / 2).await;
    assert_eq!(
        otel.collect().gauge("whatsapp.token.expires_in"),
        Some(1800.0)
    );

    let otel = Exported::new();
    let _cell = cell_with(Token::new("EAAG-forever").never_expires(), &otel).await;
    assert_eq!(otel.collect().gauge("whatsapp.token.expires_in"), None);
}

/// A revoked token: Graph's refusal is counted once, by kind; nothing is
/// renewed, and the requests after it fail unsent, counting nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_counts_one_refusal_and_no_renewal() {
    let otel = Exported::new();
    let (fake, stack, _cell) = start(fake_config(None), |l| l.meter(otel.meter())).await;
    let body = text_message("1555", "revoked");
    fake.push_fault(Fault::Revoke { subcode: 460 });
    for expected in ["token revoked", "token dead"] {
        let err = send_one(&stack, &fake, &body).await.unwrap_err();
        let shown = match crate_error(&err) {
            Error::Graph(_) => "token revoked",
            Error::TokenDead { .. } => "token dead",
            other => panic!("{other}"),
        };
        assert_eq!(shown, expected);
    }
    assert_eq!(fake.counters().exchanges, 0);
    assert_eq!(
        otel.collect().counters(),
        otel::counts(&[
            ("whatsapp.token.validations{outcome=valid}", 1),
            ("whatsapp.graph.errors{kind=token_revoked}", 1),
        ])
    );
}

/// A webhook handler as an application writes one: a body that is not a
/// delivery is malformed; a delivery whose messages were all seen before
/// is a duplicate; either way it tells the layer in its response.
async fn handle(seen: Arc<MemoryDeduplicator>, req: Request<Full<Bytes>>) -> Response<Full<Bytes>> {
    let body = req.into_body().collect().await.unwrap().to_bytes();
    let mut res = Response::new(Full::new(Bytes::new()));
    let Ok(delivery) = Notification::parse(&body) else {
        *res.status_mut() = StatusCode::BAD_REQUEST;
        res.extensions_mut().insert(DeliveryOutcome::Malformed);
        return res;
    };
    let mut messages = 0;
    let mut new = 0;
    for (_, message) in delivery.messages() {
        messages += 1;
        if seen.first_sighting(&message.id).await.unwrap() {
            new += 1;
        }
    }
    if messages > 0 && new == 0 {
        res.extensions_mut().insert(DeliveryOutcome::Duplicate);
    }
    res
}

#[tokio::test]
async fn webhook_deliveries_are_counted_by_outcome() {
    let otel = Exported::new();
    let seen = Arc::new(MemoryDeduplicator::new(
        100,
        std::time::Duration::from_secs(60),
    ));
    let webhook = ServiceBuilder::new()
        .layer(
            VerifySignatureLayer::new(SECRET)
                .limit(4096)
                .meter(otel.meter()),
        )
        .service(service_fn(move |req| {
            let seen = seen.clone();
            async move { Ok::<_, std::convert::Infallible>(handle(seen, req).await) }
        }));
    let deliver = |body: Bytes, secret: Option<&str>| {
        let mut req = Request::post("/webhook");
        if let Some(secret) = secret {
            req = req.header("x-hub-signature-256", sign(&Secret::new(secret), &body));
        }
        let req = req.body(Full::new(body)).unwrap();
        let webhook = webhook.clone();
        async move { webhook.oneshot(req).await.unwrap().status() }
    };
    let message = text_delivery("106540352242922", "15550001", "wamid.A", "hi");
    let cases = [
        (message.clone(), Some(SECRET), StatusCode::OK),
        (message.clone(), Some(SECRET), StatusCode::OK), // Meta's retry
        (message.clone(), Some("forged"), StatusCode::UNAUTHORIZED),
        (message, None, StatusCode::UNAUTHORIZED),
        (
            Bytes::from("not json"),
            Some(SECRET),
            StatusCode::BAD_REQUEST,
        ),
        (
            status_delivery("106540352242922", "wamid.S", "read"),
            Some(SECRET),
            StatusCode::OK,
        ),
        (
            Bytes::from(vec![b' '; 5000]),
            Some(SECRET),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
    ];
    for (body, secret, status) in cases {
        assert_eq!(deliver(body, secret).await, status);
    }
    assert_eq!(
        otel.collect().counters(),
        otel::counts(&[
            ("whatsapp.webhook.deliveries{outcome=accepted}", 2),
            ("whatsapp.webhook.deliveries{outcome=duplicate}", 1),
            ("whatsapp.webhook.deliveries{outcome=bad_signature}", 2),
            ("whatsapp.webhook.deliveries{outcome=malformed}", 1),
            ("whatsapp.webhook.deliveries{outcome=too_large}", 1),
        ])
    );
}

/// Many businesses, one stack: with `metrics_per_tenant`, each tenant's
/// validation is its own series, named by its phone number id; without
/// it, they add up in one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_are_labelled_only_when_asked() {
    use common::fake_graph::tenants::FakeTenant;
    use common::fake_graph::{FakeConfig, FakeGraph};
    use common::tenant_book::TenantBook;
    use tower::Layer;
    use tower_whatsapp_auth::tenants::WhatsAppTenantsLayer;

    let phones = ["106540352240001", "106540352240002"];
    let tenants: Vec<FakeTenant> = phones
        .iter()
        .enumerate()
        .map(|(n, phone)| {
            let token = format!("EAAGbusiness{n}{}", "t".repeat(24));
            FakeTenant::new(phone, &format!("20000000000{n}"), &token)
        })
        .collect();
    let config = FakeConfig {
        app_secret: Some(SECRET.into()),
        tenants: tenants.clone(),
        ..FakeConfig::default()
    };
    let fake = FakeGraph::start(config.clone()).await;
    for per_tenant in [true, false] {
        let otel = Exported::new();
        let (base, app_id, meter) = (fake.base_url(), config.app_id.clone(), otel.meter());
        let layer = WhatsAppTenantsLayer::new(TenantBook::of(&tenants))
            .configure(move |auth| {
                auth.app_credentials(app_id, SECRET)
                    .graph_base(base)
                    .meter(meter)
            })
            .metrics_per_tenant(per_tenant);
        let stack = layer.layer(common::sender::https_client());
        for phone in phones {
            let req = Request::post(format!("/{phone}/messages"))
                .body(Full::new(text_message("15551234567", "hi")))
                .unwrap();
            assert_eq!(stack.clone().oneshot(req).await.unwrap().status(), 200);
        }
        let want = if per_tenant {
            phones
                .iter()
                .map(|p| (format!("whatsapp.token.validations{{outcome=valid,whatsapp.phone_number_id={p}}}"), 1))
                .collect()
        } else {
            otel::counts(&[("whatsapp.token.validations{outcome=valid}", 2)])
        };
        assert_eq!(otel.collect().counters(), want, "per tenant: {per_tenant}");
    }
}
