//! Graph API facts and the calls the stack makes on its own behalf.
//!
//! Error payloads ([`GraphError`]) and what they mean ([`ErrorKind`],
//! [`classify`], [`hint`]); and the stack's own calls (the exchange,
//! `/debug_token`, a node, `/me/permissions`), which go through the user's
//! service and depend on the configuration and secrets only, never on the
//! token state.

mod client;
mod error;
mod exchange;
mod inspect;
mod kind;
mod node;
mod parse;
pub(crate) mod proof;

pub(crate) use client::GraphIo;
pub use error::GraphError;
pub(crate) use inspect::{unsupported_post, TokenInfo};
pub use kind::{classify, hint, ErrorKind, Misconfiguration};

/// What a validation call found.
pub(crate) enum Verdict {
    /// The token authenticates; `/debug_token` also tells expiry and scopes.
    Valid(Option<TokenInfo>),
    /// Graph refused it with this error.
    Refused(GraphError),
    /// No verdict (transport failure, 5xx, rate limit, garbage): try later.
    Unknown(String),
}
