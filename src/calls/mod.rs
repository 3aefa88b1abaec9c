//! The Graph calls the stack makes on its own behalf: the exchange,
//! `/debug_token`, a node, `/me/permissions`. They go through a clone of the
//! user's service and depend on the configuration and secrets only, never
//! on the token state.

mod client;
mod exchange;
mod inspect;
mod node;
pub(crate) mod proof;

pub(crate) use client::GraphIo;
pub(crate) use inspect::TokenInfo;

use crate::graph::GraphError;

/// What a validation call found.
pub(crate) enum Verdict {
    /// The token authenticates; `/debug_token` also tells expiry and scopes.
    Valid(Option<TokenInfo>),
    /// Graph refused it with this error.
    Refused(GraphError),
    /// No verdict (transport failure, 5xx, rate limit, garbage): try later.
    Unknown(String),
}
