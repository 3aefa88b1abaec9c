//! [`ThroughputLayer`].

use std::sync::Arc;
use std::time::Duration;

use tower_layer::Layer;

use super::table::Table;
use super::{Settings, Throughput};

/// Layer that applies [`Throughput`]: a pace per phone number. See the
/// [module docs](mod@crate::throughput).
///
/// Services made by one layer (and their clones) share the paces: apply
/// the same layer to every stack that sends for the same numbers.
///
/// ```
/// use std::time::Duration;
/// use tower_whatsapp_auth::throughput::ThroughputLayer;
///
/// let layer = ThroughputLayer::new(80)
///     .number("106540352242922", 1000) // upgraded by Meta
///     .burst(Duration::from_millis(100))
///     .max_wait(Duration::from_secs(10))
///     .pair_wait(Duration::from_secs(1))
///     .recovery(Duration::from_secs(4))
///     .min_rate(5.0)
///     .idle_after(Duration::from_secs(60));
/// // No number is known before its first message.
/// assert_eq!(layer.current_rate("106540352242922"), None);
/// ```
#[derive(Debug, Clone)]
pub struct ThroughputLayer {
    table: Arc<Table>,
}

impl ThroughputLayer {
    /// A pace of `messages_per_second` for every phone number (at least 1;
    /// Meta's default for a number is [`DEFAULT_MESSAGES_PER_SECOND`](super::DEFAULT_MESSAGES_PER_SECOND), 80).
    pub fn new(messages_per_second: u32) -> ThroughputLayer {
        ThroughputLayer::with(Settings::new(messages_per_second))
    }

    fn with(settings: Settings) -> ThroughputLayer {
        ThroughputLayer {
            table: Arc::new(Table::new(settings)),
        }
    }

    fn change(self, f: impl FnOnce(&mut Settings)) -> ThroughputLayer {
        let mut settings = self.table.settings.clone();
        f(&mut settings);
        ThroughputLayer::with(settings)
    }

    /// The pace of one phone number, overriding the default: 1,000 for a
    /// number Meta upgraded, 20 for one shared with the WhatsApp Business
    /// app (coexistence).
    pub fn number(self, phone_number_id: impl Into<String>, messages_per_second: u32) -> Self {
        let id = phone_number_id.into();
        self.change(|s| {
            s.rates.insert(id.into(), messages_per_second.max(1));
        })
    }

    /// How much of the pace may go at once after an idle spell (default
    /// 250 ms' worth: 20 messages at 80 a second; at most one second's
    /// worth, at least one message).
    pub fn burst(self, burst: Duration) -> Self {
        self.change(|s| s.burst = burst.min(Duration::from_secs(1)))
    }

    /// The longest a message waits for its turn (default 30 s); one whose
    /// turn would come later fails at once, unsent, with
    /// [`Throttled`](super::Throttled).
    pub fn max_wait(self, max_wait: Duration) -> Self {
        self.change(|s| s.max_wait = max_wait)
    }

    /// The first wait of a recipient after a 131056 (pair rate), growing as
    /// 4^n with each refusal in a row (default 1 s: 1, 4, 16, 64 s…).
    pub fn pair_wait(self, first: Duration) -> Self {
        self.change(|s| s.pair_wait = first)
    }

    /// Whether a number's pace drops after a 130429 and recovers by itself
    /// (default `true`); with `false` it stays as configured.
    pub fn adaptive(self, adaptive: bool) -> Self {
        self.change(|s| s.adaptive = adaptive)
    }

    /// How long a pace takes to climb back from half to its configured
    /// value after a refusal, away from the limit measured between
    /// refusals (default 4 s; four times slower near that limit).
    pub fn recovery(self, recovery: Duration) -> Self {
        self.change(|s| s.recovery = recovery.max(Duration::from_millis(1)))
    }

    /// The lowest a pace drops to, in messages a second (default a
    /// sixteenth of the number's configured pace; never above it).
    pub fn min_rate(self, messages_per_second: f64) -> Self {
        self.change(|s| s.min_rate = Some(messages_per_second))
    }

    /// How long a number stays idle before its pace may be forgotten
    /// (default 60 s; a forgotten pace starts again as configured).
    pub fn idle_after(self, idle: Duration) -> Self {
        self.change(|s| s.idle_after = idle)
    }

    /// Shares each number's pace with every replica using the same Redis
    /// and prefix (cargo feature `redis`): one budget per number, permits
    /// leased in small batches, this replica's share of the pace when Redis
    /// does not answer. See [`RedisPace`](super::RedisPace).
    #[cfg(feature = "redis")]
    pub fn shared(self, redis: super::RedisPace) -> Self {
        self.with_budget(Arc::new(redis))
    }

    /// Shares the paces through `budget` (Redis's seam; tests use one in
    /// memory).
    #[cfg_attr(not(any(test, feature = "redis")), allow(dead_code))]
    pub(crate) fn with_budget(self, budget: Arc<dyn super::shared::Budget>) -> Self {
        self.change(|s| s.shared = Some(budget))
    }

    /// The pace of `phone_number_id` now, in messages a second (`None`
    /// for a number not seen lately).
    pub fn current_rate(&self, phone_number_id: &str) -> Option<f64> {
        self.table.current_rate(phone_number_id)
    }
}

impl<S> Layer<S> for ThroughputLayer {
    type Service = Throughput<S>;

    fn layer(&self, inner: S) -> Throughput<S> {
        Throughput::new(inner, self.table.clone())
    }
}
