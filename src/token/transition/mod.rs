//! [`Transition`]: what changed, as data. Every job of the cell's task
//! (validate, renew, fetch, recheck, read the store) and every refusal a
//! request reports ends in one of these, and [`TokenCell::apply`] is the
//! one place that turns it into a new snapshot, counts it, and tells
//! tracing about it ([`events`]). No job writes token state itself.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::credential::Credential;
use super::schedule::Job;
use super::TokenCell;
use crate::access_token::Expiry;
use crate::config::Config;
use crate::error::{Error, RefreshError};
use crate::graph::GraphError;
use crate::source::FetchReason;

mod events;
mod metrics;
mod next;

pub(crate) use next::{advise, next};

/// How a token came to be installed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// The source's first token, or a different one it had for a dead token.
    Source,
    /// Renewed here: Graph just issued it.
    Renewed,
    /// Found in the store before the first request.
    Stored,
    /// Renewed by another process and read from the shared store.
    Adopted { store_generation: u64 },
}

/// Who saw Graph refuse the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Observer {
    /// A request's answer.
    Request,
    /// The validation call.
    Validation,
    /// The clock: the expiry Graph reported passed without a renewal.
    Expiry,
}

/// One change to a cell's token state.
pub(crate) enum Transition {
    /// Nothing to change.
    Unchanged,
    /// A task looks after the cell (again).
    Attached,
    /// The task ended; the next request starts another.
    Detached,
    /// A first fetch is under way: requests wait for it.
    Fetching,
    /// The first fetch failed: requests fail fast until `retry_at`.
    FetchFailed {
        error: RefreshError,
        retry_at: Instant,
    },
    /// A token is in use from now on.
    Installed {
        credential: Credential,
        origin: Origin,
    },
    /// A validation call is made.
    Validating { generation: u64 },
    /// Graph accepted the token; with `/debug_token`, its type and expiry.
    /// `forbidden`: a required permission is missing (requests fail).
    /// `call_refused`: the validation call itself lacked a permission.
    Validated {
        generation: u64,
        token_type: Option<Arc<str>>,
        expiry: Option<Expiry>,
        forbidden: Option<Error>,
        call_refused: Option<GraphError>,
    },
    /// No verdict (Graph unreachable, a 5xx, a timeout): requests go on,
    /// validation is tried again after `validation_retry`.
    ValidationDeferred { generation: u64, reason: String },
    /// Graph refused the token of `generation`; what that does is
    /// [`Refusal::of`] its cause.
    Refused {
        generation: u64,
        cause: GraphError,
        seen_by: Observer,
    },
    /// A renewal backing off is tried again: requests wait for it.
    RenewalRetrying { generation: u64 },
    /// This process renews the token (an exchange, or the source asked).
    Renewing {
        generation: u64,
        reason: FetchReason,
    },
    /// The token nears its expiry and its source cannot renew it.
    RenewalUnavailable { generation: u64 },
    /// Renewal ahead of expiry gave nothing new: the token stays in use,
    /// renewal is tried again after `retry_in`.
    RenewalDeferred {
        generation: u64,
        expiry: Expiry,
        retry_in: Duration,
        error: Option<RefreshError>,
        failures: u32,
    },
    /// A renewal after a refusal failed in a way that may pass: requests
    /// fail fast for `delay`, then it is tried again.
    BackingOff {
        generation: u64,
        delay: Duration,
        error: RefreshError,
        cause: GraphError,
        failures: u32,
    },
    /// The token is unusable and nothing renews it; `error` is what the
    /// renewal answered, when one was tried.
    Dead {
        generation: u64,
        cause: GraphError,
        error: Option<RefreshError>,
    },
    /// Only the operator can fix this: requests fail fast with `error`.
    Blocked {
        generation: u64,
        error: Error,
        revalidate: bool,
    },
    /// A dead or blocked token was looked at again and its source had no
    /// other: a blocked one Graph refused is validated again, and a dead
    /// one Graph accepted when asked again (`accepted`: the refusal was
    /// spurious) is back in use. `error`: the source failed when asked
    /// for another token.
    Rechecked {
        generation: u64,
        error: Option<RefreshError>,
        accepted: bool,
    },
    /// The tenant this cell served was removed: its token is not used any
    /// more, and requests holding the cell fail.
    #[cfg_attr(not(feature = "tenants"), allow(dead_code))]
    Removed { phone_number_id: Arc<str> },
    /// A job panicked: it is retried after `delay` (a validation after
    /// `validation_retry`, as when Graph gives no verdict).
    Panicked { job: Job, delay: Duration },
}

/// What applying a transition needs to know besides the snapshot.
pub(crate) struct Context<'a> {
    pub(crate) now: Instant,
    pub(crate) config: &'a Config,
    pub(crate) can_renew: bool,
}

impl TokenCell {
    /// Applies `transition`: the new snapshot (unless it changes nothing,
    /// or concerns a generation no longer in use), the counters, the
    /// metrics and the tracing events; then waiting requests are woken.
    /// Returns whether the snapshot changed.
    pub(crate) fn apply(&self, transition: Transition) -> bool {
        let context = Context {
            now: Instant::now(),
            config: self.config(),
            can_renew: self.can_refresh(),
        };
        let before = self.current();
        let changed = self.update(|cur| next(cur, &transition, &context));
        match &transition {
            Transition::Validating { .. } => {
                self.shared.validations.fetch_add(1, Ordering::Relaxed);
            }
            Transition::Renewing { .. } => {
                self.shared.refreshes.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
        metrics::record(
            self.graph().metrics(),
            &transition,
            &self.current(),
            context.can_renew,
        );
        events::emit(&transition, &before, &self.current(), changed);
        // Woken last: a request that waited for this change finds it
        // counted, recorded and logged.
        if changed {
            let published = &self.shared.published;
            published.send_modify(|v| *v = v.wrapping_add(1));
        }
        changed
    }
}
