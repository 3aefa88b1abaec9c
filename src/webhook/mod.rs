//! Inbound: webhook deliveries Meta POSTs to your app, for axum and any
//! tower server.
//!
//! - [`VerifySignatureLayer`] lets through only deliveries signed with your
//!   app secret (`X-Hub-Signature-256`, checked in constant time against the
//!   exact bytes received, before any parsing); the inner service gets
//!   those bytes. Missing, malformed or wrong signatures are a 401, a body
//!   over the limit (1 MiB by default) a 413, and the inner service is never
//!   called. Several secrets may be accepted while one is rotated.
//!   [`verify_signature`] does the same check for other frameworks.
//! - [`Handshake`] answers Meta's subscription check (`hub.mode`,
//!   `hub.verify_token`, `hub.challenge`); [`answer_handshake`] is the plain
//!   function.
//! - [`Notification`] reads deliveries leniently (unknown fields, message
//!   kinds and webhook fields are kept, not refused). Every message kind is
//!   typed ([`Message::content`]: text, media, location, contacts,
//!   interactive answers and Flows, buttons, reactions, orders, system
//!   notices, ads), with its `context` and `referral`; statuses with their
//!   conversation and pricing; other fields named ([`Field`]), the common
//!   ones typed ([`AccountUpdate`], [`TemplateStatusUpdate`],
//!   [`PhoneQualityUpdate`], [`GroupUpdate`]). Their `errors` are
//!   [`GraphError`](crate::graph::GraphError)s, classified and hinted as
//!   usual.
//! - Who wrote and where a reply goes: a sender may be a phone number, a
//!   business-scoped user id (a user with a username may share no number)
//!   or a group. [`Message::reply_to`] names the [`Recipient`] (never an
//!   empty one) and [`Recipient::message`] builds the reply's body with
//!   the right fields (`to`, `recipient`, or `to` with
//!   `recipient_type: "group"`).
//! - Meta retries a delivery that is not answered 200 quickly, so the same
//!   message can arrive twice: a [`Deduplicator`] ([`MemoryDeduplicator`],
//!   or `RedisDeduplicator` across replicas with the `redis` feature)
//!   processes each message id once.
//!
//! ```
//! use bytes::Bytes;
//! use http::Request;
//! use http_body_util::{BodyExt, Full};
//! use tower::{service_fn, ServiceBuilder, ServiceExt};
//! use tower_whatsapp_auth::webhook::{sign, Notification, VerifySignatureLayer};
//! use tower_whatsapp_auth::Secret;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), tower::BoxError> {
//! let handler = service_fn(|req: Request<Full<Bytes>>| async move {
//!     let body = req.into_body().collect().await?.to_bytes();
//!     let delivery = Notification::parse(&body)?;
//!     for (_, message) in delivery.messages() {
//!         if let (Some(text), Some(sender)) = (message.text_body(), message.reply_to()) {
//!             let reply = sender.message("text", serde_json::json!({ "body": text }));
//!             println!("{} says {text:?}; answer with {reply}", sender.id());
//!         }
//!     }
//!     Ok::<_, tower::BoxError>(http::Response::new(Full::new(Bytes::new())))
//! });
//! let webhook = ServiceBuilder::new()
//!     .layer(VerifySignatureLayer::new("app-secret"))
//!     .service(handler);
//!
//! let body = r#"{"object":"whatsapp_business_account","entry":[]}"#;
//! let signed = Request::post("/webhook")
//!     .header("x-hub-signature-256", sign(&Secret::new("app-secret"), body.as_bytes()))
//!     .body(Full::new(Bytes::from(body)))?;
//! assert_eq!(webhook.clone().oneshot(signed).await?.status(), 200);
//!
//! let forged = Request::post("/webhook")
//!     .header("x-hub-signature-256", sign(&Secret::new("guess"), body.as_bytes()))
//!     .body(Full::new(Bytes::from(body)))?;
//! assert_eq!(webhook.oneshot(forged).await?.status(), 401);
//! # Ok(()) }
//! ```
//!
//! With axum, route `GET` to the handshake and put the layer on the `POST`
//! handler (the handshake is not signed): see the `bot` example and the
//! webhooks guide (`guide::webhooks`).

mod dedupe;
mod future;
mod handshake;
mod layer;
mod payload;
mod service;
mod signature;

#[cfg(feature = "redis")]
pub use dedupe::RedisDeduplicator;
pub use dedupe::{Deduplicator, MemoryDeduplicator};
pub use future::VerifySignatureFuture;
pub use handshake::{answer_handshake, Handshake, HandshakeError};
pub use layer::{VerifySignatureLayer, DEFAULT_WEBHOOK_LIMIT};
pub use payload::{
    AccountUpdate, Button, Change, Choice, Contact, ContactName, ContactPhone, Content,
    Conversation, Entry, ErrorData, Field, FlowReply, GroupUpdate, Interactive, Location, Media,
    Message, MessageContext, Metadata, Notification, Order, Participant, PhoneQualityUpdate,
    Pricing, ProductItem, Profile, Reaction, Recipient, RecipientKind, Referral, SharedContact,
    Status, System, TemplateStatusUpdate, Text, Unsupported, Value, WabaInfo, WebhookError,
};
pub use service::VerifySignature;
pub use signature::{sign, verify_signature, SignatureError, SIGNATURE_HEADER};
