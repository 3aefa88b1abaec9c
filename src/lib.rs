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
//! service. What the stack does with each [`ErrorKind`]:
//!
//! | kind | the stack |
//! |---|---|
//! | `TokenExpired` | renews once (single-flight) and replays once; if it cannot renew, fails with [`Error::Graph`] and marks the token dead |
//! | `TokenInvalid`, `TokenRevoked` | fails with [`Error::Graph`] and marks the token dead: later requests fail unsent with [`Error::TokenDead`] until the source yields another token |
//! | `PermissionMissing` | fails with [`Error::Graph`] |
//! | `RateLimited`, `Transient`, `Other` | passes the response through, with the [`GraphError`] in its extensions |
//!
//! Every code and subcode [`classify()`] knows, with the hint it gives:
//!
//! | code | subcode | `kind()` | `hint()` |
//! |---|---|---|---|
//! | 190 | 463 | TokenExpired | the access token expired: configure the app id and secret so it is renewed with grant_type=fb_exchange_token, or use a non-expiring system-user token |
//! | 190 | 467 | TokenInvalid | the access token is invalid (malformed or logged out): generate a new token |
//! | 190 | 460 | TokenRevoked | the session was invalidated (password changed): the user must log in again and a new token must be generated; a refresh will fail |
//! | 190 | 458 | TokenRevoked | the app is not installed or was removed by the user: re-authorise the app and generate a new token |
//! | 190 | 459 | TokenRevoked | the user is checkpointed: they must log in to Facebook to clear it, then generate a new token |
//! | 190 | 464 | TokenRevoked | the user is unconfirmed: they must confirm their account, then generate a new token |
//! | 190 | 492 | TokenRevoked | the session is invalid because the user lost their role on the app or business: restore the role, then generate a new token |
//! | 190 | 493 | TokenRevoked | data access expired (no engagement for 90 days): the user must log in again to renew it |
//! | 190 | none | TokenInvalid | invalid OAuth access token: check it for truncation or stray spaces and inspect it with /debug_token; generate a new one if needed |
//! | 0 |  | TokenInvalid | Graph could not authenticate the app user: verify the token and regenerate it |
//! | 102 |  | TokenInvalid | the API session is invalid: generate a new token |
//! | 3 |  | PermissionMissing | the app lacks the capability for this call: add the WhatsApp product to the app and pass App Review for the permission |
//! | 10 |  | PermissionMissing | permission denied: grant whatsapp_business_messaging (and whatsapp_business_management) to the token's user or system user |
//! | 200–299 |  | PermissionMissing | the token lacks the API permission named in the message: grant it (whatsapp_business_messaging, whatsapp_business_management or business_management) and regenerate the token |
//! | 4, 17, 32, 613, 80007 |  | RateLimited | rate limited: back off and retry later (see the X-App-Usage and X-Business-Use-Case-Usage headers) |
//! | 130429 |  | RateLimited | Cloud API throughput limit reached: slow down and retry later |
//! | 131056 |  | RateLimited | too many messages to the same recipient: slow down for this pair |
//! | 131048 |  | RateLimited | spam rate limit: check the phone number's quality rating before sending more |
//! | 1, 2 |  | Transient | temporary Graph failure: retry later |
//! | 100 |  | Other | invalid parameter: fix the request; if the message names appsecret_proof, check the app secret configured for this token |
//! | 368 |  | Other | temporarily blocked for policy violations: see Business Manager |
//! | 131031 |  | Other | the business account is locked: contact Meta support |
//!
//! Secrets never appear in `Debug` or `Display` output, logs or errors; the
//! token travels only in the `Authorization` header (marked sensitive) and
//! the app secret only in the exchange's POST body.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod body;
mod bounds;
pub mod classify;
mod config;
pub mod diagnose;
mod error;
pub mod graph;
mod layer;
pub mod permissions;
pub mod refresh;
mod secret;
pub mod service;
pub mod source;
pub mod store;
mod token;
pub mod validate;

pub use body::{BufferBody, BufferBodyLayer, NotReplayable, ReplayBody, DEFAULT_BODY_LIMIT};
pub use bounds::{BytesBody, HttpService};
pub use classify::{Classify, ClassifyLayer, GraphBody, DEFAULT_ERROR_BODY_LIMIT};
pub use config::{
    ExchangeMethod, DEFAULT_GRAPH_BASE, DEFAULT_GRAPH_VERSION, DEFAULT_VALIDATION_INTERVAL,
};
pub use diagnose::{describe_expiry, Check, Diagnosis, PhoneNumber};
pub use error::{Error, RefreshError};
pub use graph::{classify, hint, ErrorKind, GraphError};
pub use layer::WhatsAppAuthLayer;
pub use permissions::{Permission, PermissionReport, PermissionStatus};
pub use refresh::{RefreshFuture, RefreshOn190};
pub use secret::{appsecret_proof, Secret};
pub use service::{ResponseFuture as WhatsAppAuthFuture, WhatsAppAuth};
pub use source::{
    token_fn, EnvToken, Expiry, FbExchange, FetchContext, FetchReason, FileToken, StaticToken,
    Token, TokenFn, TokenSource,
};
#[cfg(feature = "redis")]
pub use store::RedisTokenStore;
pub use store::{FileTokenStore, LockToken, StoreError, StoredToken, TokenStore};
pub use token::{TokenCell, TokenStats};
pub use validate::{TokenGeneration, ValidateFuture, ValidateIfNeeded, ValidateIfNeededLayer};
