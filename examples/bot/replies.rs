//! What the bot does with a verified delivery: acknowledges it at once,
//! and answers each new message in the background (an echo of a text, the
//! type and size of a media file once downloaded and checked).

use axum::extract::State;
use axum::Extension;
use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::Full;
use tower::{BoxError, ServiceExt};
use tower_whatsapp_auth::graph::GraphError;
use tower_whatsapp_auth::media::MediaError;
use tower_whatsapp_auth::telemetry::DeliveryOutcome;
use tower_whatsapp_auth::webhook::{Content, Deduplicator, Media, Notification, Recipient};
use tower_whatsapp_auth::{Error, RefreshError};

use crate::{Bot, MediaClient};

/// A verified delivery: answered at once; replies go out in the background.
/// The answer tells the signature layer what the delivery was (for the
/// `whatsapp.webhook.deliveries` metric): malformed, a duplicate (messages,
/// every one seen before), or else accepted.
pub async fn receive(
    State(bot): State<Bot>,
    body: Bytes,
) -> (Extension<DeliveryOutcome>, StatusCode) {
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
            Err(e) => eprintln!("reply to {to} failed: {}", reason(&e)),
        }
    });
}

/// Downloads `item` (counting its bytes, keeping none), checked against
/// Graph's SHA-256 and the webhook's: its MIME type and size.
async fn download(media: &MediaClient, item: &Media) -> Result<(String, u64), MediaError> {
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

/// Why a reply failed, in a few words.
fn reason(err: &BoxError) -> String {
    if err.is::<tower::timeout::error::Elapsed>() {
        return "timed out".into();
    }
    let Some(err) = err.downcast_ref::<Error>() else {
        return format!("transport error: {err}");
    };
    let graph = |prefix: &str, g: &GraphError| {
        let code = g
            .subcode()
            .map_or_else(|| g.code().to_string(), |sub| format!("{}/{sub}", g.code()));
        let status = g.status().as_u16();
        format!("{prefix}{} (Graph code {code}, HTTP {status})", g.kind())
    };
    match err {
        Error::Graph(g) => graph("", g),
        Error::TokenDead { cause } => graph("not sent, token dead: ", cause),
        Error::NotReplayed { source, .. } => graph("not replayed (body too large): ", source),
        Error::Misconfigured { what, cause } => {
            graph(&format!("not sent, {}: ", what.describe()), cause)
        }
        Error::Refresh(RefreshError::BackingOff { last, .. }) => {
            format!("not sent, refresh backing off after: {last}")
        }
        Error::Refresh(r) => format!("not sent, refresh failed: {r}"),
        other => other.to_string(),
    }
}
