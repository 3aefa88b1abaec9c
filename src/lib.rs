#![doc = include_str!("guide/overview.md")]
#![cfg_attr(feature = "webhook", doc = "[mod-webhook]: webhook")]
#![cfg_attr(not(feature = "webhook"), doc = "[mod-webhook]: #features")]
#![cfg_attr(feature = "retry", doc = "[mod-retry]: retry")]
#![cfg_attr(not(feature = "retry"), doc = "[mod-retry]: #features")]
#![cfg_attr(feature = "media", doc = "[mod-media]: media")]
#![cfg_attr(not(feature = "media"), doc = "[mod-media]: #features")]
#![cfg_attr(feature = "throughput", doc = "[mod-throughput]: throughput")]
#![cfg_attr(not(feature = "throughput"), doc = "[mod-throughput]: #features")]
#![cfg_attr(feature = "tenants", doc = "[mod-tenants]: tenants")]
#![cfg_attr(not(feature = "tenants"), doc = "[mod-tenants]: #features")]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]
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
pub mod guide;
mod hosts;
#[cfg(any(feature = "throughput", feature = "tenants"))]
mod ids;
mod layer;
#[cfg(feature = "media")]
pub mod media;
pub mod permissions;
mod random;
#[cfg(feature = "redis")]
mod redis_conn;
pub mod refresh;
mod refusal;
#[cfg(feature = "reqwest")]
mod reqwest_client;
#[cfg(feature = "retry")]
pub mod retry;
mod secret;
mod service;
pub mod source;
pub mod store;
pub mod telemetry;
#[cfg(feature = "tenants")]
pub mod tenants;
#[cfg(feature = "throughput")]
pub mod throughput;
mod token;
pub mod validate;
#[cfg(feature = "webhook")]
pub mod webhook;

pub use access_token::{Expiry, Token};
pub use body::replay::ReplayBody;
pub use bounds::{BoxFuture, HttpService};
pub use config::{
    ExchangeMethod, DEFAULT_GRAPH_BASE, DEFAULT_GRAPH_VERSION, DEFAULT_VALIDATION_INTERVAL,
};
pub use error::{Error, RefreshError, TransportError};
pub use hosts::DEFAULT_MEDIA_HOST;
pub use layer::WhatsAppAuthLayer;
#[cfg(feature = "redis")]
pub use redis_conn::RedisConnection;
#[cfg(feature = "reqwest")]
pub use reqwest_client::ReqwestClient;
pub use secret::{appsecret_proof, Secret};
#[cfg(feature = "reqwest")]
pub use service::ReqwestWhatsApp;
pub use service::{BoxedWhatsApp, WhatsAppAuth, WhatsAppAuthFuture};
pub use token::{TokenCell, TokenStats};

#[cfg(all(doctest, feature = "full"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
