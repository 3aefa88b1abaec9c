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
//! - [`Notification`] reads deliveries leniently (unknown fields and
//!   message types are kept, not refused); their `errors` are
//!   [`GraphError`](crate::GraphError)s, classified and hinted as usual.
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
//!         println!("{} says {:?}", message.from, message.text_body());
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
//! README's "Receiving webhooks".

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
    Change, Contact, Entry, ErrorData, Message, Metadata, Notification, Profile, Status, Text,
    Value, WebhookError,
};
pub use service::VerifySignature;
pub use signature::{sign, verify_signature, SignatureError, SIGNATURE_HEADER};
