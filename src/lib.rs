#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod access_token;
pub mod body;
mod bounds;
mod calls;
mod capacity;
pub mod classify;
mod clock;
mod config;
pub mod diagnose;
mod error;
pub mod graph;
mod hosts;
mod ids;
mod layer;
pub mod media;
pub mod permissions;
mod random;
#[cfg(feature = "redis")]
mod redis_conn;
pub mod refresh;
mod refusal;
#[cfg(feature = "reqwest")]
pub mod reqwest_client;
pub mod retry;
mod secret;
pub mod service;
pub mod source;
pub mod store;
pub mod telemetry;
pub mod tenants;
pub mod throughput;
mod token;
pub mod validate;
pub mod webhook;

pub use access_token::{Expiry, Token};
pub use body::{
    BufferBody, BufferBodyLayer, BytesBody, NotReplayable, ReplayBody, DEFAULT_BODY_LIMIT,
};
pub use bounds::{BoxFuture, HttpService};
pub use classify::{
    Classify, ClassifyLayer, GraphBody, DEFAULT_ERROR_BODY_LIMIT, DEFAULT_USAGE_WARNING,
};
pub use config::{
    ExchangeMethod, DEFAULT_GRAPH_BASE, DEFAULT_GRAPH_VERSION, DEFAULT_VALIDATION_INTERVAL,
};
pub use diagnose::{describe_expiry, Check, Diagnosis, PhoneNumber};
pub use error::{Error, RefreshError, TransportError};
pub use graph::{hint, ErrorKind, GraphError, Misconfiguration};
pub use hosts::DEFAULT_MEDIA_HOST;
pub use layer::WhatsAppAuthLayer;
pub use permissions::{Permission, PermissionReport, PermissionStatus};
#[cfg(feature = "redis")]
pub use redis_conn::RedisConnection;
pub use refresh::{RefreshFuture, RefreshOn190};
#[cfg(feature = "reqwest")]
pub use reqwest_client::ReqwestClient;
pub use retry::{GraphRetry, RetryIfUnknown, Usage};
pub use secret::{appsecret_proof, Secret};
#[cfg(feature = "reqwest")]
pub use service::ReqwestWhatsApp;
pub use service::{BoxedWhatsApp, ResponseFuture as WhatsAppAuthFuture, WhatsAppAuth};
pub use source::{
    token_fn, EnvToken, FbExchange, FetchContext, FetchReason, FileToken, StaticToken, TokenFn,
    TokenSource,
};
#[cfg(feature = "redis")]
pub use store::RedisTokenStore;
pub use store::{FileTokenStore, LockToken, Saved, StoreError, StoredToken, TokenStore};
pub use tenants::{Tenant, TenantSource, Tenants, WhatsAppTenants, WhatsAppTenantsLayer};
pub use throughput::{Throttled, Throughput, ThroughputLayer};
pub use token::{TokenCell, TokenStats};
pub use validate::{TokenGeneration, ValidateFuture, ValidateIfNeeded, ValidateIfNeededLayer};
