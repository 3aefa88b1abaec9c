//! Guides: what each part does, how the parts fit, and why. Each guide is a
//! page of prose and examples, and every example is a doc test. The crate
//! docs' [feature table](crate#features) says which guides a build has.
//!
//! Read [composition] first: where the layer goes among tower's layers,
//! what it does to requests, and how it works inside. Then, by topic:
//!
//! | guide | what it covers |
//! |---|---|
//! | [composition] | layer orders with `ConcurrencyLimit`, `Buffer`, `Timeout` and `Retry`; bodies and replays; settings; axum state; how it works; sending for real |
//! | [token_lifecycle] | sources, validation, renewal ahead of expiry and after a 190, stores, dead tokens |
//! | [errors] | what a caller gets, how Graph's errors are classified, every code with its kind and hint |
//! | [diagnostics] | permission reports, required permissions, `doctor` |
//! | [metrics] | the OpenTelemetry instruments and the alerts worth setting |
//! | [retries][g-retries] | `GraphRetry`: what is retried and what never is (feature `retry`) |
//! | [throughput][g-throughput] | pacing each phone number under Graph's limits (feature `throughput`) |
//! | [webhooks][g-webhooks] | the signature check, the handshake, payloads, de-duplication (feature `webhook`) |
//! | [media][g-media] | downloads and uploads, and the host rule (feature `media`) |
//! | [tenants][g-tenants] | many businesses through one stack (feature `tenants`) |
//! | [replicas][g-replicas] | one token and one renewal across replicas, through Redis (feature `redis`) |
//!
//! Performance figures are in the repository's `benches/README.md`, and how
//! the tests are built, with the fault table, in `tests/README.md`.
//!
//! A guide whose feature is off is not in this build; its link above leads
//! to the feature table.
//!
#![cfg_attr(feature = "retry", doc = "[g-retries]: retries")]
#![cfg_attr(not(feature = "retry"), doc = "[g-retries]: crate#features")]
#![cfg_attr(feature = "throughput", doc = "[g-throughput]: throughput")]
#![cfg_attr(not(feature = "throughput"), doc = "[g-throughput]: crate#features")]
#![cfg_attr(feature = "webhook", doc = "[g-webhooks]: webhooks")]
#![cfg_attr(not(feature = "webhook"), doc = "[g-webhooks]: crate#features")]
#![cfg_attr(feature = "media", doc = "[g-media]: media")]
#![cfg_attr(not(feature = "media"), doc = "[g-media]: crate#features")]
#![cfg_attr(feature = "tenants", doc = "[g-tenants]: tenants")]
#![cfg_attr(not(feature = "tenants"), doc = "[g-tenants]: crate#features")]
#![cfg_attr(feature = "redis", doc = "[g-replicas]: replicas")]
#![cfg_attr(not(feature = "redis"), doc = "[g-replicas]: crate#features")]

#[doc = include_str!("composition.md")]
pub mod composition {}

#[doc = include_str!("diagnostics.md")]
pub mod diagnostics {}

#[doc = include_str!("errors.md")]
pub mod errors {}

#[cfg(feature = "media")]
#[doc = include_str!("media.md")]
pub mod media {}

#[doc = include_str!("metrics.md")]
pub mod metrics {}

#[cfg(feature = "redis")]
#[doc = include_str!("replicas.md")]
pub mod replicas {}

#[cfg(feature = "retry")]
#[doc = include_str!("retries.md")]
pub mod retries {}

#[cfg(feature = "tenants")]
#[doc = include_str!("tenants.md")]
pub mod tenants {}

#[cfg(feature = "throughput")]
#[doc = include_str!("throughput.md")]
pub mod throughput {}

#[doc = include_str!("token_lifecycle.md")]
pub mod token_lifecycle {}

#[cfg(feature = "webhook")]
#[doc = include_str!("webhooks.md")]
pub mod webhooks {}
