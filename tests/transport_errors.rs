//! What the client under the stack returns leaves the stack as the crate's
//! own error (`Error::Transport`), and no token, app secret or
//! `appsecret_proof` appears anywhere in it: not in its Display or Debug,
//! not in any link of its source chain, not in what the stack logged. Over
//! a closed port on 127.0.0.1, with hyper-util's client and with reqwest's.

#[path = "support/common/mod.rs"]
mod common;

use std::net::SocketAddr;

use bytes::Bytes;
use common::sender::{https_client, text_message};
use http::Request;
use http_body_util::Full;
use tower::{BoxError, Layer, Service, ServiceExt};
use tower_whatsapp_auth::{
    appsecret_proof, classify::GraphBody, graph::ErrorKind, Error, Secret, WhatsAppAuthLayer,
};

const TOKEN: &str = "EAAGclosedPortToken0123456789abcdef";
const APP_SECRET: &str = "closed-port-app-secret";

/// A port on 127.0.0.1 that nothing listens on.
async fn closed_port() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    addr
}

fn layer(addr: SocketAddr) -> WhatsAppAuthLayer {
    WhatsAppAuthLayer::new(TOKEN)
        .phone_number_id("10987654321")
        .app_credentials("1234567890", APP_SECRET)
        .graph_base(format!("http://{addr}"))
}

fn secrets() -> [String; 3] {
    let proof = appsecret_proof(&Secret::new(APP_SECRET), &Secret::new(TOKEN));
    [TOKEN.to_owned(), APP_SECRET.to_owned(), proof]
}

/// Every link of `err`'s chain, as Display and as Debug.
fn chain(err: &(dyn std::error::Error + 'static)) -> Vec<String> {
    let mut texts = Vec::new();
    let mut cause = Some(err);
    while let Some(e) = cause {
        texts.push(e.to_string());
        texts.push(format!("{e:?}"));
        cause = e.source();
    }
    texts
}

fn assert_no_secret(texts: &[String]) {
    for text in texts {
        for secret in secrets() {
            assert!(!text.contains(&secret), "a secret in {text:?}");
        }
    }
}

/// Sends one message through `stack` (validated first) and checks the
/// error: the crate's, refused before anything was sent, and clean.
async fn assert_clean_failure<S, ResB>(mut stack: S, logs: &common::logs::Captured)
where
    S: Service<Request<Full<Bytes>>, Response = http::Response<GraphBody<ResB>>, Error = BoxError>,
{
    let req = Request::post("/10987654321/messages")
        .body(Full::new(text_message("15551234567", "hi")))
        .unwrap();
    let Err(err) = stack.ready().await.unwrap().call(req).await else {
        panic!("a closed port answered");
    };
    let Some(Error::Transport(failure)) = err.downcast_ref::<Error>() else {
        panic!("not the crate's transport error: {err:?}");
    };
    assert!(
        failure.not_sent(),
        "a refused connection sent nothing: {failure:?}"
    );
    assert_eq!(
        failure.io_kind(),
        Some(std::io::ErrorKind::ConnectionRefused)
    );
    let kind = err.downcast_ref::<Error>().unwrap().kind();
    assert_eq!(kind, ErrorKind::Transient);
    let texts = chain(err.as_ref());
    assert!(texts.len() >= 6, "the client's chain is kept: {texts:?}");
    assert_no_secret(&texts);
    assert_no_secret(&[logs.text()]);
    // The validation the request waited for failed the same way, and said so.
    assert!(
        logs.text().contains("could not validate the access token"),
        "{}",
        logs.text()
    );
}

#[tokio::test]
async fn hyper_util_failures_leave_as_the_crate_s_error_without_secrets() {
    let logs = common::logs::Captured::default();
    let _guard = logs.install();
    let addr = closed_port().await;
    let stack = layer(addr).layer(https_client());
    assert_clean_failure(stack, &logs).await;
}

/// A hand-assembled stack reports the same: the transport failure comes
/// out of `ValidateIfNeeded`, whatever layers sit above it.
#[tokio::test]
async fn the_parts_report_the_client_s_failures_the_same_way() {
    let logs = common::logs::Captured::default();
    let _guard = logs.install();
    let addr = closed_port().await;
    let client = https_client();
    let cell = layer(addr).token_cell(client.clone());
    let stack = tower::ServiceBuilder::new()
        .layer(tower_whatsapp_auth::body::BufferBodyLayer::new())
        .layer(tower_whatsapp_auth::validate::ValidateIfNeededLayer::new(
            cell,
        ))
        .layer(tower_whatsapp_auth::classify::ClassifyLayer::new())
        .service(client);
    assert_clean_failure(stack, &logs).await;
}

#[cfg(feature = "reqwest")]
mod reqwest_client {
    use super::*;
    use tower_whatsapp_auth::{ExchangeMethod, ReqwestClient};

    #[tokio::test]
    async fn reqwest_failures_leave_without_the_url_or_any_secret() {
        let logs = common::logs::Captured::default();
        let _guard = logs.install();
        let addr = closed_port().await;
        let stack = layer(addr).layer(ReqwestClient::new(reqwest::Client::new()));
        assert_clean_failure(stack, &logs).await;
    }

    /// The stack's own calls, sent the way that puts secrets in URLs (the
    /// documented GETs): what their failures say is clean too.
    #[tokio::test]
    async fn the_stack_s_own_failed_calls_quote_no_secret() {
        let logs = common::logs::Captured::default();
        let _guard = logs.install();
        let addr = closed_port().await;
        let layer = layer(addr).exchange_method(ExchangeMethod::GetQuery);
        let stack = layer.layer(ReqwestClient::new(reqwest::Client::new()));
        let diagnosis = stack.token_cell().diagnose().await;
        assert!(!diagnosis.can_send());
        assert_no_secret(&[format!("{diagnosis:?}"), logs.text()]);
        let report = stack.token_cell().check_permissions().await.unwrap_err();
        assert_no_secret(&chain(&report));
    }

    /// reqwest built without a TLS feature (as this crate's tests build
    /// it) cannot reach an https base URL: `check()` says so once a stack
    /// over `ReqwestClient` exists, and a send says what is missing.
    #[tokio::test]
    async fn reqwest_without_tls_is_named_by_check_and_by_the_error() {
        let layer = WhatsAppAuthLayer::new(TOKEN).without_validation();
        assert!(layer.check().is_ok(), "before a client, nothing is known");
        let stack = layer.layer(ReqwestClient::new(reqwest::Client::new()));
        let err = layer.check().unwrap_err();
        assert!(matches!(err, Error::Config(_)), "{err:?}");
        assert!(err.to_string().contains("TLS"), "{err}");
        let req = Request::post("/10987654321/messages")
            .body(tower_whatsapp_auth::ReplayBody::from("{}"))
            .unwrap();
        let err = stack.oneshot(req).await.unwrap_err();
        assert!(err.to_string().contains("cannot speak https"), "{err}");
        // Plain http, or another client, is fine.
        let http = WhatsAppAuthLayer::new(TOKEN).graph_base("http://127.0.0.1:9");
        let _ = http.layer(ReqwestClient::new(reqwest::Client::new()));
        assert!(http.check().is_ok());
        let hyper = WhatsAppAuthLayer::new(TOKEN);
        let _ = hyper.layer(https_client());
        assert!(hyper.check().is_ok());
    }
}
