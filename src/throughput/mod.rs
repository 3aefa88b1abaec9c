//! [`ThroughputLayer`]: stay under Graph's throughput instead of retrying
//! after it, with a pace per phone number.
//!
//! A Cloud API number takes 80 messages a second by default (up to 1,000
//! once Meta upgrades it, 20 when it is shared with the WhatsApp Business
//! app); past it Graph refuses with 130429. The shaper spaces each
//! number's message sends (`POST /{phone-number-id}/messages`, with or
//! without a version segment, absolute or bare) at its pace, with a burst
//! of at most one second's worth after an idle spell. Other calls pass
//! straight through.
//!
//! - **Adaptive.** After a 130429 for a number its pace drops (halves, or
//!   goes just under the limit measured between two refusals) and recovers
//!   by itself, so a number whose real limit is lower than configured is
//!   found in a few refusals. A refusal counts once for all the messages
//!   sent before the pace dropped.
//! - **Bounded waits.** A message waits for its turn at most
//!   [`max_wait`](ThroughputLayer::max_wait); one whose turn would come
//!   later fails at once, unsent, with [`Throttled`] (safe to send again).
//!   A waiting message holds none of the inner service's capacity: it
//!   takes it (`poll_ready` on a clone) only once its turn has come.
//! - **Per number.** Each phone number has its own pace: one number's
//!   campaign never delays another's. A number not seen for
//!   [`idle_after`](ThroughputLayer::idle_after) costs nothing but memory
//!   until it is forgotten: no timer, no task.
//! - **Pair rate.** After a 131056 for a recipient, later messages to that
//!   recipient (the body's `to`, else `recipient`) wait Meta's 4^n seconds
//!   in the shaper instead of being sent to fail; others are not held. The
//!   recipient is read from bodies held whole (`Full<Bytes>`, `ReplayBody`,
//!   `Bytes`), and only while some recipient of the number is waiting.
//!
//! Requests pass through with their own body type: the shaper goes over
//! any `Service<http::Request<B>>` answering `http::Response<_>`.
//!
//! The shaper reads refusals from the [`GraphError`](crate::graph::GraphError)
//! the auth layer puts in the response extensions (a 429 without one, from
//! a proxy, counts as a throughput refusal too), so it goes **outside**
//! `WhatsAppAuthLayer` and outside the per-attempt timeout, **inside**
//! `RetryLayer(GraphRetry)`:
//!
//! ```text
//! TraceLayer → ConcurrencyLimit → RetryLayer(GraphRetry) → ThroughputLayer → Timeout → WhatsAppAuthLayer → client
//! ```
//!
//! A message refused with 130429 was not processed: `GraphRetry` sends it
//! again, and the retry goes back through the shaper at the pace the
//! refusal just lowered. The shaper keeps no copy of a request (the retry
//! layer has one). Time spent waiting for a turn is not Graph's time: a
//! timeout inside the shaper bounds each attempt's exchange with Graph
//! only, never the wait.
//!
//! ```
//! use std::time::Duration;
//! use bytes::Bytes;
//! use http_body_util::Full;
//! use tower::{service_fn, BoxError, ServiceBuilder, ServiceExt};
//! use tower_whatsapp_auth::throughput::ThroughputLayer;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), BoxError> {
//! // A stand-in for the client stack (`Timeout → WhatsAppAuthLayer → client`).
//! let graph = service_fn(|_req: http::Request<Full<Bytes>>| async {
//!     Ok::<_, BoxError>(http::Response::new(r#"{"messages":[{"id":"wamid.1"}]}"#))
//! });
//! let whatsapp = ServiceBuilder::new()
//!     .layer(
//!         ThroughputLayer::new(80)                   // Meta's default pace
//!             .number("106540352242922", 20)         // a coexistence number
//!             .burst(Duration::ZERO)
//!             .max_wait(Duration::from_secs(10)),
//!     )
//!     .service(graph);
//!
//! let send = |to: &str| {
//!     let body = format!(r#"{{"messaging_product":"whatsapp","to":"{to}","type":"text","text":{{"body":"hi"}}}}"#);
//!     http::Request::post("/v25.0/106540352242922/messages").body(Full::new(Bytes::from(body)))
//! };
//! let started = tokio::time::Instant::now();
//! for n in 0..5 {
//!     whatsapp.clone().oneshot(send(&format!("1555000000{n}"))?).await?;
//! }
//! // Five messages at 20 a second: the last one went 200 ms after the first.
//! assert_eq!(started.elapsed(), Duration::from_millis(200));
//! assert_eq!(whatsapp.current_rate("106540352242922"), Some(20.0));
//! # Ok(()) }
//! ```

mod adapt;
mod future;
mod layer;
mod lease;
mod number;
mod pace;
mod pair;
mod path;
#[cfg(feature = "redis")]
mod redis;
mod schedule;
mod service;
mod shared;
mod table;
mod verdict;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

pub use crate::error::{ThrottleReason, Throttled};
pub use future::ThroughputFuture;
pub use layer::ThroughputLayer;
#[cfg(feature = "redis")]
pub use redis::RedisPace;
pub use service::Throughput;

use adapt::Tuning;
use pace::Shape;

/// Meta's default throughput of a Cloud API phone number, in messages a
/// second: 80.
pub const DEFAULT_MESSAGES_PER_SECOND: u32 = 80;

/// What [`ThroughputLayer`] was configured with.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    rate: u32,
    rates: HashMap<Box<str>, u32>,
    burst: Duration,
    pub(crate) max_wait: Duration,
    pair_wait: Duration,
    adaptive: bool,
    recovery: Duration,
    min_rate: Option<f64>,
    pub(crate) idle_after: Duration,
    /// The budget every replica draws on, when the pace is shared.
    pub(crate) shared: Option<Arc<dyn shared::Budget>>,
}

impl Settings {
    fn new(rate: u32) -> Settings {
        Settings {
            rate: rate.max(1),
            rates: HashMap::new(),
            burst: Duration::from_millis(250),
            max_wait: Duration::from_secs(30),
            pair_wait: Duration::from_secs(1),
            adaptive: true,
            recovery: Duration::from_secs(4),
            min_rate: None,
            idle_after: Duration::from_secs(60),
            shared: None,
        }
    }

    /// The configured pace of `id`, in messages a second.
    pub(crate) fn rate_of(&self, id: &str) -> f64 {
        f64::from(self.rates.get(id).copied().unwrap_or(self.rate))
    }

    /// The fixed part of a pace of `rate`.
    pub(crate) fn shape(&self, rate: f64) -> Shape {
        let tuning = self.adaptive.then(|| {
            let mut tuning = Tuning::for_rate(rate);
            tuning.fast = rate / 2.0 / self.recovery.as_secs_f64().max(1e-3);
            tuning.slow = tuning.fast / 4.0;
            if let Some(floor) = self.min_rate.filter(|f| f.is_finite() && *f > 0.0) {
                tuning.floor = floor.min(rate);
            }
            tuning
        });
        Shape {
            burst: self.burst,
            pair_base: self.pair_wait,
            tuning,
        }
    }
}

#[cfg(test)]
mod tests;
