//! When to renew a token ahead of its expiry, and how long to back off
//! after failures: pure functions of the configuration and the clock.

use std::time::Duration;

use tokio::time::Instant;

use crate::access_token::Expiry;
use crate::clock::later;
use crate::config::Config;

/// A fraction from the configuration, made sane: NaN and negatives are 0,
/// more than 1 is 1 (`check()` reports them; this keeps them from panicking).
pub(crate) fn fraction(value: f64) -> f64 {
    if value.is_nan() {
        0.0
    } else {
        value.clamp(0.0, 1.0)
    }
}

/// How long before expiry a token of lifetime `left` is renewed: the larger
/// of the minimum window and a fraction of `left`, widened by up to
/// `jitter` of itself (`draw` in [0, 1) picks how much), never past `left`.
pub(crate) fn refresh_window(left: Duration, config: &Config, draw: f64) -> Duration {
    let window = config
        .refresh_window
        .max(left.mul_f64(fraction(config.refresh_window_fraction)));
    let extra = window.mul_f64(fraction(config.refresh_jitter) * fraction(draw));
    window.saturating_add(extra).min(left)
}

/// `(expires_at, renew_at)` for a token whose expiry is `expiry`, learned
/// at `now`. `None` for `Expiry::Unknown`: keep what was known.
pub(crate) fn plan_expiry(
    expiry: Expiry,
    now: Instant,
    config: &Config,
    can_renew: bool,
    draw: f64,
) -> Option<(Option<Instant>, Option<Instant>)> {
    match expiry {
        Expiry::Unknown => None,
        Expiry::Never => Some((None, None)),
        Expiry::In(left) => {
            let window = refresh_window(left, config, draw);
            let renew_at = can_renew.then(|| later(now, left - window));
            Some((Some(later(now, left)), renew_at))
        }
    }
}

/// Back-off after `failures` consecutive failures: the initial delay,
/// doubling per failure, capped.
pub(crate) fn backoff(failures: u32, initial: Duration, max: Duration) -> Duration {
    let doublings = failures.saturating_sub(1).min(30);
    initial.saturating_mul(1 << doublings).min(max.max(initial))
}
