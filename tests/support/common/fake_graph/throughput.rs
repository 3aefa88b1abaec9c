//! Graph's throughput limit per phone number: a token bucket of one
//! second's worth, refilled at the number's rate; a message beyond it is
//! refused with 130429 ("Rate limit hit"), not processed, under HTTP 400 or
//! 429 (Graph documents 429; users report 400 too). Numbers listed here are
//! served as message senders besides the configured phone number.

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use http::Response;
use http_body_util::Full;
use tokio::time::Instant;

use super::*;

/// The per-number limits the fake enforces (none by default: unlimited).
#[derive(Debug, Clone)]
pub struct Rates {
    limits: HashMap<String, f64>,
    status: u16,
    buckets: HashMap<String, (f64, Instant)>,
    seen: HashMap<String, Seen>,
}

/// What one number's limit saw, read with [`FakeGraph::throughput`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seen {
    /// Messages within the limit, and when each came.
    pub passed: Vec<Instant>,
    /// Messages refused with 130429.
    pub refused: u64,
}

impl Seen {
    /// The most messages passed in any one second.
    pub fn busiest_second(&self) -> usize {
        let mut start = 0;
        let mut most = 0;
        for (end, at) in self.passed.iter().enumerate() {
            while *at - self.passed[start] >= Duration::from_secs(1) {
                start += 1;
            }
            most = most.max(end + 1 - start);
        }
        most
    }
}

impl Default for Rates {
    fn default() -> Self {
        Rates {
            limits: HashMap::new(),
            status: 400,
            buckets: HashMap::new(),
            seen: HashMap::new(),
        }
    }
}

impl Rates {
    /// No limit on any number.
    pub fn new() -> Rates {
        Rates::default()
    }

    /// `phone_number_id` takes `per_second` messages a second (a bucket of
    /// one second's worth, full at start); it is also served as a sender.
    pub fn limit(mut self, phone_number_id: &str, per_second: f64) -> Rates {
        self.limits.insert(phone_number_id.to_owned(), per_second);
        self
    }

    /// The HTTP status of a 130429 answer: 400 (default) or 429.
    pub fn status(mut self, status: u16) -> Rates {
        self.status = status;
        self
    }

    /// Whether `id` is a number with a limit here.
    pub(super) fn serves(&self, id: &str) -> bool {
        self.limits.contains_key(id)
    }

    /// A message from `id` at `now`: `None` when within its limit (or it
    /// has none), the 130429 answer otherwise.
    pub(super) fn take(&mut self, id: &str, now: Instant) -> Option<Response<Full<Bytes>>> {
        let &rate = self.limits.get(id)?;
        let (tokens, at) = self.buckets.entry(id.to_owned()).or_insert((rate, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * rate).min(rate);
        *at = now;
        let seen = self.seen.entry(id.to_owned()).or_default();
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            seen.passed.push(now);
            return None;
        }
        seen.refused += 1;
        Some(graph_error(
            self.status,
            130_429,
            None,
            "(#130429) Rate limit hit",
        ))
    }
}

impl FakeGraph {
    /// What the limit of `phone_number_id` saw so far.
    pub fn throughput(&self, phone_number_id: &str) -> Seen {
        let state = self.lock();
        state
            .config
            .throughput
            .seen
            .get(phone_number_id)
            .cloned()
            .unwrap_or_default()
    }
}
