//! tower middleware that keeps a WhatsApp Business (Cloud API, Meta Graph API)
//! client authenticated.
//!
//! Put [`WhatsAppAuthLayer`] on your HTTP client and it will:
//!
//! - add `Authorization: Bearer <token>` (and `appsecret_proof` when an app
//!   secret is configured) to every request;
//! - validate the token before first use and then once per interval
//!   (default 1 hour), one validation call however many requests wait;
//! - on Graph error 190 (expired token), renew the token once with
//!   `grant_type=fb_exchange_token` (single-flight across all requests) and
//!   replay the rejected request with its body intact;
//! - turn the errors it cannot repair (revoked or invalid token, missing
//!   permission) into a typed [`Error`] with a remediation hint, and pass
//!   everything else (rate limits, 5xx, HTML error pages) through untouched
//!   for your own retry layer.
//!
//! # Example: a hyper-util client
//!
//! The wrapped service receives `http::Request<`[`ReplayBody`]`>`; callers
//! may send any body with `Data = Bytes`.
//!
//! ```no_run
//! use std::time::Duration;
//! use bytes::Bytes;
//! use http_body_util::Full;
//! use hyper_util::client::legacy::{connect::HttpConnector, Client};
//! use hyper_util::rt::TokioExecutor;
//! use tower::{timeout::TimeoutLayer, ServiceBuilder, ServiceExt};
//! use tower_whatsapp_auth::{ReplayBody, WhatsAppAuthLayer};
//!
//! # #[tokio::main] async fn main() -> Result<(), tower::BoxError> {
//! let client: Client<HttpConnector, ReplayBody> =
//!     Client::builder(TokioExecutor::new()).build_http();
//! let whatsapp = ServiceBuilder::new()
//!     .layer(TimeoutLayer::new(Duration::from_secs(30)))
//!     .layer(
//!         WhatsAppAuthLayer::new(std::env::var("WHATSAPP_TOKEN")?)
//!             .phone_number_id("1234567890")
//!             .app_credentials("app-id", std::env::var("META_APP_SECRET")?),
//!     )
//!     .service(client);
//!
//! let body = r#"{"messaging_product":"whatsapp","to":"15551234567","type":"text","text":{"body":"hi"}}"#;
//! let req = http::Request::post("https://graph.facebook.com/v24.0/1234567890/messages")
//!     .header("content-type", "application/json")
//!     .body(Full::new(Bytes::from(body)))?;
//! let res = whatsapp.oneshot(req).await?;
//! println!("{}", res.status());
//! # Ok(()) }
//! ```
//!
//! # Errors
//!
//! The stack's error type is [`tower::BoxError`]; errors raised by the stack
//! are [`Error`] (use `downcast_ref`), everything else comes from your
//! service. [`GraphError::kind`] classifies Graph's answers:
//!
//! | code | subcode | [`ErrorKind`] | the stack |
//! |---|---|---|---|
//! | 190 | 463 | `TokenExpired` | refreshes once and replays; without app credentials fails with [`Error::Graph`] and marks the token dead |
//! | 190 | 458, 459, 460, 464, 492, 493 | `TokenRevoked` | fails, marks the token dead: later requests fail with [`Error::TokenDead`] unsent |
//! | 190 | 467, other, none | `TokenInvalid` | as revoked |
//! | 0, 102 | | `TokenInvalid` | as revoked |
//! | 3, 10, 200–299 | | `PermissionMissing` | fails with [`Error::Graph`] |
//! | 4, 17, 32, 613, 80007, 130429, 131056, 131048 | | `RateLimited` | passes the response through |
//! | 1, 2 | | `Transient` | passes the response through |
//! | anything else | | `Other` | passes the response through |
//!
//! Secrets never appear in `Debug` or `Display` output, logs or errors; the
//! token travels only in the `Authorization` header (marked sensitive) and
//! the app secret only in the exchange's POST body.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod authorize;
pub mod body;
mod cell;
pub mod classify;
mod config;
mod error;
mod graph_call;
pub mod graph_error;
mod layer;
pub mod refresh;
mod secret;
pub mod source;
pub mod store;
pub mod validate;

pub use authorize::{Authorize, AuthorizeLayer, TokenGeneration};
pub use body::{BufferBody, BufferBodyLayer, NotReplayable, ReplayBody, DEFAULT_BODY_LIMIT};
pub use cell::{TokenCell, TokenStats};
pub use classify::{Classify, ClassifyLayer, GraphBody, DEFAULT_ERROR_BODY_LIMIT};
pub use config::{
    ExchangeMethod, DEFAULT_GRAPH_BASE, DEFAULT_GRAPH_VERSION, DEFAULT_VALIDATION_INTERVAL,
};
pub use error::{Error, RefreshError};
pub use graph_error::{classify, hint, ErrorKind, GraphError};
pub use layer::{WhatsAppAuth, WhatsAppAuthFuture, WhatsAppAuthLayer};
pub use refresh::{RefreshFuture, RefreshOn190};
pub use secret::{appsecret_proof, Secret};
pub use source::{
    token_fn, EnvToken, Expiry, FbExchange, FetchContext, FetchReason, FileToken, StaticToken,
    Token, TokenFn, TokenSource,
};
pub use store::{FileTokenStore, StoreError, StoredToken, TokenStore};
pub use validate::{ValidateFuture, ValidateIfNeeded, ValidateIfNeededLayer};
