//! What Graph says, and what it means: error payloads ([`GraphError`]),
//! their meaning ([`ErrorKind`], [`hint`]), and the usage headers
//! ([`usage::Usage`]). Pure facts about Graph's answers: nothing here sends
//! a request or knows the token state.

mod error;
mod kind;
mod parse;
pub(crate) mod path;
pub mod usage;

pub use error::GraphError;
pub use kind::{hint, ErrorKind, Misconfiguration};
