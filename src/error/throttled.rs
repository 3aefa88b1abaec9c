//! [`Throttled`]: a message the shaper did not send because it would have
//! waited past the maximum wait.

use std::fmt;
use std::time::Duration;

/// Why a message waited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ThrottleReason {
    /// Its phone number's pace (messages a second): too many messages
    /// queued ahead of it.
    Pace,
    /// Graph refused a message to the same recipient with 131056 (pair
    /// rate) and asked for a wait of 4^n seconds.
    PairRate,
}

/// The message was **not sent**: its turn would have come after the
/// shaper's maximum wait (`ThroughputLayer::max_wait`). Nothing reached
/// Graph, so sending it again later is safe: it cannot be delivered twice.
///
/// It reaches the caller as [`Error::Throttled`](crate::Error::Throttled)
/// in a `tower::BoxError`; `GraphRetry` counts it as not sent.
///
/// ```
/// # #[cfg(feature = "throughput")] {
/// use std::time::Duration;
/// use tower_whatsapp_auth::throughput::{ThrottleReason, Throttled};
///
/// let err = Throttled::new("106540352242922", ThrottleReason::Pace, Duration::from_secs(42), Duration::from_secs(30));
/// assert!(err.to_string().starts_with("not sent:"));
/// assert!(err.to_string().contains("safe to send again"));
/// assert_eq!(err.retry_after(), Duration::from_secs(42));
/// let boxed: tower::BoxError = tower_whatsapp_auth::Error::Throttled(err).into();
/// assert!(matches!(boxed.downcast_ref(), Some(tower_whatsapp_auth::Error::Throttled(_))));
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Throttled {
    phone_number_id: Box<str>,
    reason: ThrottleReason,
    needed: Duration,
    max_wait: Duration,
}

impl Throttled {
    /// A refusal for `phone_number_id`, whose turn was `needed` away when
    /// at most `max_wait` was allowed.
    pub fn new(
        phone_number_id: &str,
        reason: ThrottleReason,
        needed: Duration,
        max_wait: Duration,
    ) -> Throttled {
        Throttled {
            phone_number_id: phone_number_id.into(),
            reason,
            needed,
            max_wait,
        }
    }

    /// The phone number id the message was to go from.
    pub fn phone_number_id(&self) -> &str {
        &self.phone_number_id
    }

    /// What it waited for.
    pub fn reason(&self) -> ThrottleReason {
        self.reason
    }

    /// How long until its turn would have come, counted when it was
    /// refused (a floor: more messages may queue meanwhile).
    pub fn retry_after(&self) -> Duration {
        self.needed
    }

    /// Always `true`: the message never left, so it is safe to send again.
    pub fn is_safe_to_retry(&self) -> bool {
        true
    }
}

impl fmt::Display for Throttled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.reason {
            ThrottleReason::Pace => "its phone number's pace",
            ThrottleReason::PairRate => "the pair rate of its recipient (131056)",
        };
        write!(
            f,
            "not sent: waiting for {what} on phone number {} would take {:.1?}, past the maximum wait of {:.1?}; nothing reached Graph, so it is safe to send again later",
            self.phone_number_id, self.needed, self.max_wait
        )
    }
}

impl std::error::Error for Throttled {}
