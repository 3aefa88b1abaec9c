#![doc = include_str!("../README.md")]
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
#[cfg(feature = "reqwest")]
pub mod reqwest_client;
pub mod retry;
mod secret;
pub mod service;
pub mod source;
pub mod store;
pub mod throughput;
mod token;
pub mod validate;
pub mod webhook;

pub use body::{BufferBody, BufferBodyLayer, NotReplayable, ReplayBody, DEFAULT_BODY_LIMIT};
pub use bounds::{BytesBody, HttpService};
pub use classify::{
    Classify, ClassifyLayer, GraphBody, DEFAULT_ERROR_BODY_LIMIT, DEFAULT_USAGE_WARNING,
};
pub use config::{
    ExchangeMethod, DEFAULT_GRAPH_BASE, DEFAULT_GRAPH_VERSION, DEFAULT_VALIDATION_INTERVAL,
};
pub use diagnose::{describe_expiry, Check, Diagnosis, PhoneNumber};
pub use error::{Error, RefreshError};
pub use graph::{classify, hint, ErrorKind, GraphError, Misconfiguration};
pub use layer::WhatsAppAuthLayer;
pub use permissions::{Permission, PermissionReport, PermissionStatus};
pub use refresh::{RefreshFuture, RefreshOn190};
#[cfg(feature = "reqwest")]
pub use reqwest_client::ReqwestClient;
pub use retry::{GraphRetry, RetryIfUnknown, Usage};
pub use secret::{appsecret_proof, Secret};
pub use service::{ResponseFuture as WhatsAppAuthFuture, WhatsAppAuth};
pub use source::{
    token_fn, EnvToken, Expiry, FbExchange, FetchContext, FetchReason, FileToken, StaticToken,
    Token, TokenFn, TokenSource,
};
#[cfg(feature = "redis")]
pub use store::RedisTokenStore;
pub use store::{FileTokenStore, LockToken, StoreError, StoredToken, TokenStore};
pub use throughput::{Throttled, Throughput, ThroughputLayer};
pub use token::{TokenCell, TokenStats};
pub use validate::{TokenGeneration, ValidateFuture, ValidateIfNeeded, ValidateIfNeededLayer};
