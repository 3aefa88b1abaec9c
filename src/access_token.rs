//! An access token as issued: its value and what is known of its lifetime.
//! A leaf: the token sources, the stack's own Graph calls and the
//! diagnosis all speak of it.

use std::time::Duration;

use crate::secret::Secret;

/// A token and what is known of its lifetime.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    pub(crate) value: Secret,
    pub(crate) expiry: Expiry,
}

/// What is known about when a token expires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expiry {
    /// Not known (validation with `/debug_token` may find out).
    Unknown,
    /// Never (e.g. a non-expiring system-user token).
    Never,
    /// This long after the token was obtained.
    In(Duration),
}

impl Token {
    /// A token of unknown lifetime.
    pub fn new(value: impl Into<Secret>) -> Token {
        Token {
            value: value.into(),
            expiry: Expiry::Unknown,
        }
    }

    /// Sets the lifetime left, from now.
    pub fn expires_in(mut self, lifetime: Duration) -> Token {
        self.expiry = Expiry::In(lifetime);
        self
    }

    /// Marks the token as never expiring.
    pub fn never_expires(mut self) -> Token {
        self.expiry = Expiry::Never;
        self
    }

    /// The token value.
    pub fn value(&self) -> &Secret {
        &self.value
    }

    /// What is known of its expiry.
    pub fn expiry(&self) -> Expiry {
        self.expiry
    }
}

/// A token of unknown lifetime.
impl From<&str> for Token {
    fn from(value: &str) -> Token {
        Token::new(value)
    }
}

/// A token of unknown lifetime.
impl From<String> for Token {
    fn from(value: String) -> Token {
        Token::new(value)
    }
}

/// A token of unknown lifetime.
impl From<Secret> for Token {
    fn from(value: Secret) -> Token {
        Token::new(value)
    }
}
