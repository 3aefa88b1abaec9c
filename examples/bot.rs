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

#[path = "../tests/support/common/mod.rs"]
mod common;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::handler::Handler;
use axum::routing::get_service;
use axum::{Extension, Router};
use bytes::Bytes;
use common::sender::{build_stack_and_media, describe, MediaClient, Stack};
use common::setup::{self, env, Setup};
use http::{Request, StatusCode};
use http_body_util::Full;
use tokio::task::JoinSet;
use tower::{ServiceBuilder, ServiceExt};
use tower_whatsapp_auth::telemetry::DeliveryOutcome;
use tower_whatsapp_auth::webhook::{
    Content, Deduplicator, Handshake, Media, MemoryDeduplicator, Notification, Recipient,
    VerifySignatureLayer,
};

#[derive(Clone)]
struct Bot {
    whatsapp: Stack,
    /// Downloads, with the same token.
    media: MediaClient,
    messages_url: String,
    /// Ids of the messages answered.
    seen: Arc<MemoryDeduplicator>,
    /// Ids of every message delivered, answered or not: a delivery whose
    /// messages were all delivered before is a duplicate.
    delivered: Arc<MemoryDeduplicator>,
    replies: Arc<tokio::sync::Mutex<JoinSet<()>>>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let required = [
        "META_APP_SECRET",
        "WHATSAPP_VERIFY_TOKEN",
        "WHATSAPP_TOKEN",
        "WHATSAPP_PHONE_NUMBER_ID",
    ];
    let missing: Vec<&str> = required.into_iter().filter(|n| env(n).is_none()).collect();
    for name in &missing {
        eprintln!("error: environment variable {name} is required but not set");
    }
    if !missing.is_empty() {
        return ExitCode::from(2);
    }
    let (app_secret, verify_token) = (
        env("META_APP_SECRET").expect("checked"),
        env("WHATSAPP_VERIFY_TOKEN").expect("checked"),
    );
    let port: u16 = match env("PORT").map(|p| p.parse()) {
        None => 8080,
        Some(Ok(port)) => port,
        Some(Err(_)) => {
            eprintln!("error: PORT must be a port number");
            return ExitCode::from(2);
        }
    };
    let Setup { auth, phone, .. } = match setup::from_env(false) {
        Ok(setup) => setup,
        Err(code) => return code,
    };
    let auth = match setup::with_media_hosts(auth) {
        Ok(auth) => auth,
        Err(code) => return code,
    };
    #[cfg(feature = "opentelemetry")]
    let metrics = metrics::Prometheus::new();
    #[cfg(feature = "opentelemetry")]
    let auth = auth.meter(metrics.meter());
    let messages_url = auth.messages_url().expect("a phone number id is set");
    let (whatsapp, media, _cell) = build_stack_and_media(auth, Duration::from_secs(30), 3, None);
    let bot = Bot {
        whatsapp,
        media: media.phone_number_id(phone),
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
        .service(receive.with_state(bot.clone()));
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

/// A verified delivery: answered at once; replies go out in the background.
/// The answer tells the signature layer what the delivery was (for the
/// `whatsapp.webhook.deliveries` metric): malformed, a duplicate (messages,
/// every one seen before), or else accepted.
async fn receive(State(bot): State<Bot>, body: Bytes) -> (Extension<DeliveryOutcome>, StatusCode) {
    let Ok(delivery) = Notification::parse(&body) else {
        return (
            Extension(DeliveryOutcome::Malformed),
            StatusCode::BAD_REQUEST,
        );
    };
    let (mut messages, mut repeats) = (0, 0);
    for (_, message) in delivery.messages() {
        messages += 1;
        if matches!(bot.delivered.first_sighting(&message.id).await, Ok(false)) {
            repeats += 1;
        }
        let Some(sender) = message.reply_to() else {
            continue;
        };
        let answer = match (message.text_body(), message.content()) {
            (Some(text), _) => Answer::Echo(text.to_owned()),
            (None, Content::Image(m)) => Answer::Media("image", m.clone()),
            (None, Content::Audio(m)) => Answer::Media("audio", m.clone()),
            (None, Content::Video(m)) => Answer::Media("video", m.clone()),
            (None, Content::Document(m)) => Answer::Media("document", m.clone()),
            (None, Content::Sticker(m)) => Answer::Media("sticker", m.clone()),
            _ => continue,
        };
        // A message is answered once; so is a media file, by its own id
        // (captured deliveries reuse message ids across kinds).
        let key = match &answer {
            Answer::Media(_, item) => format!("media {}", item.id.as_deref().unwrap_or("")),
            Answer::Echo(_) => message.id.clone(),
        };
        match bot.seen.first_sighting(&key).await {
            Ok(true) => {}
            Ok(false) => {
                println!("already answered {key}: acknowledged, not answered again");
                continue;
            }
            Err(e) => eprintln!("could not check {}: {e}; answering", message.id),
        }
        reply(&bot, answer, sender).await;
    }
    let outcome = match messages > 0 && repeats == messages {
        true => DeliveryOutcome::Duplicate,
        false => DeliveryOutcome::Accepted,
    };
    (Extension(outcome), StatusCode::OK)
}

/// What a message is answered with.
enum Answer {
    /// `echo: {text}`.
    Echo(String),
    /// The media of this kind, downloaded first.
    Media(&'static str, Media),
}

/// Answers `sender`, in the background: `echo: {text}`, or the type and
/// size of the media once downloaded and checked.
async fn reply(bot: &Bot, answer: Answer, sender: Recipient) {
    let (whatsapp, media, url, to) = (
        bot.whatsapp.clone(),
        bot.media.clone(),
        bot.messages_url.clone(),
        sender.id().to_owned(),
    );
    let mut replies = bot.replies.lock().await;
    while replies.try_join_next().is_some() {} // reap the finished ones
    replies.spawn(async move {
        let text = match answer {
            Answer::Echo(text) => format!("echo: {text}"),
            Answer::Media(kind, item) => match download(&media, &item).await {
                Ok((mime, bytes)) => {
                    println!("downloaded {kind} from {to}: {bytes} bytes");
                    format!("received {kind} ({mime}, {bytes} bytes)")
                }
                Err(e) => {
                    eprintln!("download of a {kind} from {to} failed: {e}");
                    return;
                }
            },
        };
        let reply = sender.message("text", serde_json::json!({ "body": text }));
        let req = Request::post(url)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(reply.to_string())))
            .expect("a valid request");
        match whatsapp.oneshot(req).await {
            Ok(res) if res.status().is_success() => println!("replied to {to}"),
            Ok(res) => eprintln!("reply to {to} refused: HTTP {}", res.status()),
            Err(e) => eprintln!("reply to {to} failed: {}", describe(&e).0),
        }
    });
}

/// Downloads `item` (counting its bytes, keeping none), checked against
/// Graph's SHA-256 and the webhook's: its MIME type and size.
async fn download(
    media: &MediaClient,
    item: &Media,
) -> Result<(String, u64), tower_whatsapp_auth::media::MediaError> {
    use tower_whatsapp_auth::media::MediaError;
    let id = item
        .id
        .as_deref()
        .ok_or_else(|| MediaError::Malformed("the webhook names no media id".into()))?;
    let mut download = media.download(id).await?;
    if let Some(sha256) = &item.sha256 {
        download = download.expect_sha256(sha256)?;
    }
    let got = download.for_each_chunk(|_| {}).await?;
    Ok((got.info.mime_type, got.bytes))
}

/// `GET /metrics`: the crate's instruments through an OpenTelemetry SDK
/// whose reader is `opentelemetry-prometheus`, rendered as Prometheus
/// text. Units are not appended to names, so each series is named as its
/// instrument is, dots as underscores (counters end in `_total`).
#[cfg(feature = "opentelemetry")]
mod metrics {
    use axum::routing::{get, MethodRouter};
    use opentelemetry::metrics::{Meter, MeterProvider as _};
    use opentelemetry_sdk::metrics::SdkMeterProvider;
    use prometheus::{Encoder, Registry, TextEncoder};

    pub struct Prometheus {
        registry: Registry,
        provider: SdkMeterProvider,
    }

    impl Prometheus {
        pub fn new() -> Prometheus {
            let registry = Registry::new();
            let exporter = opentelemetry_prometheus::exporter()
                .with_registry(registry.clone())
                .without_units()
                .build()
                .expect("a new registry takes the exporter");
            let provider = SdkMeterProvider::builder().with_reader(exporter).build();
            Prometheus { registry, provider }
        }

        pub fn meter(&self) -> Meter {
            self.provider.meter("tower-whatsapp-auth")
        }

        pub fn route<S: Clone + Send + Sync + 'static>(&self) -> MethodRouter<S> {
            let registry = self.registry.clone();
            get(move || {
                let registry = registry.clone();
                async move {
                    let mut text = Vec::new();
                    let encoder = TextEncoder::new();
                    let _ = encoder.encode(&registry.gather(), &mut text);
                    ([("content-type", encoder.format_type().to_owned())], text)
                }
            })
        }
    }
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
