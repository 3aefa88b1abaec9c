//! An echo bot: receives WhatsApp messages as webhooks and answers each
//! text message with `echo: <text>`, through the client stack it keeps in
//! its axum state (`WhatsAppAuthLayer`, so a token that expires meanwhile is
//! renewed as for `send`). A reply goes where the delivery says
//! (`Message::reply_to`): to the group for a group message, else to the
//! sender's phone number, else to their business-scoped user id (users with
//! a username may share no number); a message that names none is
//! acknowledged and not answered, so nothing is ever sent to an empty
//! recipient.
//!
//! ```text
//! META_APP_SECRET=… WHATSAPP_VERIFY_TOKEN=… WHATSAPP_TOKEN=… WHATSAPP_PHONE_NUMBER_ID=… \
//!   cargo run --release --example bot
//! ```
//!
//! Environment: `META_APP_SECRET`, `WHATSAPP_VERIFY_TOKEN`, `WHATSAPP_TOKEN`,
//! `WHATSAPP_PHONE_NUMBER_ID` (required: a missing one exits 2, naming it),
//! `META_APP_ID` (token renewal), `GRAPH_API_BASE`, `GRAPH_API_VERSION`,
//! `PORT` (default 8080). It binds 127.0.0.1 and prints
//! `listening on 127.0.0.1:PORT` once it accepts connections.
//!
//! - `GET /webhook`: the subscription handshake (`WHATSAPP_VERIFY_TOKEN`).
//! - `POST /webhook`: deliveries signed with `META_APP_SECRET` (401
//!   otherwise), answered 200 as soon as they are verified and parsed (400
//!   for a verified body that is not JSON); replies go out afterwards.
//! - Each image, audio, video, document and sticker is downloaded through
//!   the same stack (`GET /{media-id}`, then its URL on the media host,
//!   streamed, with the SHA-256 Graph and the webhook gave both checked)
//!   and answered with its type and size: `received image (image/jpeg,
//!   48213 bytes)`. `WHATSAPP_MEDIA_HOSTS` (comma-separated `host[:port]`)
//!   adds media hosts the token may go to, as for the `media` example.
//! - A message id seen before is acknowledged and not answered again;
//!   statuses are acknowledged.
//! - `GET /metrics` (built with the `opentelemetry` feature: `cargo run
//!   --features opentelemetry --example bot`): the crate's metrics in
//!   Prometheus text format, through `opentelemetry-prometheus`; each
//!   delivery is counted as accepted, bad_signature, too_large, malformed
//!   (not JSON) or duplicate (messages, every one seen before).
//! - Ctrl-C or SIGTERM stops it cleanly, after the replies under way.

#[cfg(feature = "opentelemetry")]
mod metrics;
mod replies;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use axum::handler::Handler;
use axum::routing::get_service;
use axum::Router;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::task::JoinSet;
use tower::retry::{Retry, RetryLayer};
use tower::timeout::{Timeout, TimeoutLayer};
use tower::{Layer, ServiceBuilder};
use tower_whatsapp_auth::media::Media;
use tower_whatsapp_auth::retry::GraphRetry;
use tower_whatsapp_auth::webhook::{Handshake, MemoryDeduplicator, VerifySignatureLayer};
use tower_whatsapp_auth::{
    ReplayBody, WhatsAppAuth, WhatsAppAuthLayer, DEFAULT_GRAPH_BASE, DEFAULT_GRAPH_VERSION,
};

/// The client under the stack: HTTPS for graph.facebook.com, plain HTTP
/// only to loopback (a local fake).
type HttpsClient = Client<HttpsConnector<HttpConnector>, ReplayBody>;
/// The auth layer over the client, with a timeout per attempt.
type Authed = Timeout<WhatsAppAuth<HttpsClient>>;
/// Media calls through the same auth (the same token) as the replies.
type MediaClient = Media<Authed>;

#[derive(Clone)]
pub struct Bot {
    /// Replies: retried as `GraphRetry` says, each attempt authenticated.
    pub whatsapp: Retry<GraphRetry, Authed>,
    /// Downloads, with the same token.
    pub media: MediaClient,
    pub messages_url: String,
    /// Ids of the messages answered.
    pub seen: Arc<MemoryDeduplicator>,
    /// Ids of every message delivered, answered or not: a delivery whose
    /// messages were all delivered before is a duplicate.
    pub delivered: Arc<MemoryDeduplicator>,
    pub replies: Arc<tokio::sync::Mutex<JoinSet<()>>>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let Some(Env {
        app_secret,
        verify_token,
        phone,
        port,
        auth,
    }) = Env::read()
    else {
        return ExitCode::from(2);
    };
    #[cfg(feature = "opentelemetry")]
    let metrics = metrics::Prometheus::new();
    #[cfg(feature = "opentelemetry")]
    let auth = auth.meter(metrics.meter());
    let messages_url = auth.messages_url().expect("a phone number id is set");

    // The client stack: up to 3 retries of what Graph refused as temporary
    // (`GraphRetry`), a 30 s timeout per attempt, the auth layer, and a
    // hyper client that speaks TLS. Media downloads go through the same
    // authenticated client, so with the same token.
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1()
        .build();
    let client: HttpsClient = Client::builder(TokioExecutor::new()).build(connector);
    let authed = ServiceBuilder::new()
        .layer(TimeoutLayer::new(Duration::from_secs(30)))
        .layer(auth)
        .service(client);
    let whatsapp = RetryLayer::new(GraphRetry::new().max_retries(3)).layer(authed.clone());
    let media = Media::new(authed).phone_number_id(phone);
    let bot = Bot {
        whatsapp,
        media,
        messages_url,
        // Meta retries deliveries for days; a day's ids cover nearly all.
        seen: Arc::new(MemoryDeduplicator::new(
            100_000,
            Duration::from_secs(86_400),
        )),
        delivered: Arc::new(MemoryDeduplicator::new(
            100_000,
            Duration::from_secs(86_400),
        )),
        replies: Arc::default(),
    };
    let signed = VerifySignatureLayer::new(app_secret);
    #[cfg(feature = "opentelemetry")]
    let signed = signed.meter(metrics.meter());
    let deliveries = ServiceBuilder::new()
        .layer(signed)
        .service(replies::receive.with_state(bot.clone()));
    let app = Router::new().route(
        "/webhook",
        get_service(Handshake::new(verify_token)).post_service(deliveries),
    );
    #[cfg(feature = "opentelemetry")]
    let app = app.route("/metrics", metrics.route());

    let listener = match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("error: cannot listen on 127.0.0.1:{port}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let port = listener.local_addr().map_or(port, |a| a.port());
    println!("listening on 127.0.0.1:{port}");
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(stop_signal())
        .await
    {
        eprintln!("error: the server failed: {e}");
        return ExitCode::FAILURE;
    }
    // Let the replies under way finish (each is bounded by its timeout).
    let mut replies = std::mem::take(&mut *bot.replies.lock().await);
    while replies.join_next().await.is_some() {}
    println!("stopped");
    ExitCode::SUCCESS
}

async fn stop_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

/// What the bot reads from its environment.
struct Env {
    app_secret: String,
    verify_token: String,
    phone: String,
    port: u16,
    /// Configured from the rest: the token, Graph's base and version, the
    /// app, the media hosts.
    auth: WhatsAppAuthLayer,
}

/// A non-empty environment variable.
fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

impl Env {
    /// Reads the environment; `None` (exit code 2) when a required
    /// variable is missing or a value is bad, each printed.
    fn read() -> Option<Env> {
        let required = [
            "META_APP_SECRET",
            "WHATSAPP_VERIFY_TOKEN",
            "WHATSAPP_TOKEN",
            "WHATSAPP_PHONE_NUMBER_ID",
        ];
        let [Some(app_secret), Some(verify_token), Some(token), Some(phone)] = required.map(var)
        else {
            for name in required.iter().filter(|name| var(name).is_none()) {
                eprintln!("error: environment variable {name} is required but not set");
            }
            return None;
        };
        let port = match var("PORT").map(|p| p.parse()) {
            None => 8080,
            Some(Ok(port)) => port,
            Some(Err(_)) => {
                eprintln!("error: PORT must be a port number");
                return None;
            }
        };
        let mut auth = WhatsAppAuthLayer::new(token)
            .phone_number_id(phone.as_str())
            .graph_base(var("GRAPH_API_BASE").unwrap_or_else(|| DEFAULT_GRAPH_BASE.into()))
            .graph_version(
                var("GRAPH_API_VERSION").unwrap_or_else(|| DEFAULT_GRAPH_VERSION.into()),
            );
        if let Some(waba) = var("WHATSAPP_BUSINESS_ACCOUNT_ID") {
            auth = auth.business_account_id(waba);
        }
        // The app secret signs deliveries and proves the token's calls;
        // with the app id too, the token is renewed.
        auth = match var("META_APP_ID") {
            Some(id) => auth.app_credentials(id, app_secret.as_str()),
            None => auth.app_secret(app_secret.as_str()),
        };
        if let Err(e) = auth.check() {
            eprintln!("error: {e}");
            return None;
        }
        let hosts = var("WHATSAPP_MEDIA_HOSTS").unwrap_or_default();
        for host in hosts.split(',').map(str::trim).filter(|h| !h.is_empty()) {
            auth = auth.media_host(host);
        }
        if let Err(e) = auth.check() {
            eprintln!("error: WHATSAPP_MEDIA_HOSTS: {e}");
            return None;
        }
        Some(Env {
            app_secret,
            verify_token,
            phone,
            port,
            auth,
        })
    }
}
