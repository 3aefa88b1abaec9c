//! Where tokens come from: [`TokenSource`] and the built-in sources.
//!
//! The stack asks its source for a token at start-up, ahead of a known
//! expiry, after Graph refused the current one, and (rate-limited) while
//! the token is dead, so an operator's rotated secret is picked up without a
//! restart.
//!
//! | source | renews by | use for |
//! |---|---|---|
//! | [`StaticToken`] | never | non-expiring system-user tokens |
//! | [`FbExchange`] | `grant_type=fb_exchange_token` | long-lived user tokens (needs app id + secret) |
//! | [`EnvToken`] | re-reading an environment variable | secrets injected by the platform |
//! | [`FileToken`] | re-reading a file | mounted secrets that ops rotate |
//! | [`token_fn`] | your async closure | a vault, another service, … |
//!
//! ```
//! use std::time::Duration;
//! use tower_whatsapp_auth::{source::{token_fn, FetchReason}, RefreshError, Token, WhatsAppAuthLayer};
//!
//! let layer = WhatsAppAuthLayer::from_source(token_fn(|ctx| async move {
//!     // e.g. ask your secret manager; here a fixed value.
//!     let _why: FetchReason = ctx.reason();
//!     Ok::<_, RefreshError>(Token::new("EAAG-from-vault").expires_in(Duration::from_secs(3600)))
//! }));
//! # let _ = layer;
//! ```

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use crate::access_token::Token;
use crate::bounds::BoxFuture;
use crate::calls::GraphIo;
use crate::error::RefreshError;
use crate::secret::Secret;

/// Why the stack asks its source for a token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FetchReason {
    /// First use (for sources with no [`TokenSource::initial`] token).
    Startup,
    /// The current token is within its refresh window.
    AheadOfExpiry,
    /// Graph refused the current token (error 190).
    Rejected,
    /// The current token is dead; is there a different one now?
    Recover,
}

/// What a [`TokenSource`] gets when asked for a token.
#[derive(Clone, Debug)]
pub struct FetchContext {
    pub(crate) reason: FetchReason,
    pub(crate) current: Option<Secret>,
    /// The current token's `type` from `/debug_token` (`USER`,
    /// `SYSTEM_USER`, `PAGE`), when known.
    pub(crate) token_type: Option<Arc<str>>,
    // Graph I/O only, not the token state: a source that keeps its context
    // keeps no cell alive.
    pub(crate) graph: Arc<GraphIo>,
}

impl FetchContext {
    /// Why the token is wanted.
    pub fn reason(&self) -> FetchReason {
        self.reason
    }

    /// The token in use, if any.
    pub fn current(&self) -> Option<&Secret> {
        self.current.as_ref()
    }

    /// The current token's `type` as `/debug_token` reported it (`USER`,
    /// `SYSTEM_USER`, `PAGE`), when known.
    pub fn token_type(&self) -> Option<&str> {
        self.token_type.as_deref()
    }

    /// Exchanges `token` for a new long-lived one with
    /// `grant_type=fb_exchange_token`, through the stack's own service.
    /// Needs the app id and secret. For a system-user token (as
    /// `/debug_token` reported the current one) it asks for another 60 days
    /// with `set_token_expires_in_60_days=true`, as Meta documents for
    /// expiring system-user tokens.
    pub async fn exchange(&self, token: &Secret) -> Result<Token, RefreshError> {
        let system_user = self.token_type() == Some("SYSTEM_USER");
        self.graph.exchange(token, system_user).await
    }
}

/// Supplies access tokens to the stack.
pub trait TokenSource: Send + Sync + 'static {
    /// A token available without waiting, used when the stack is built.
    fn initial(&self) -> Option<Result<Token, RefreshError>> {
        None
    }

    /// Produces a token. Returning the token already in use means "nothing
    /// newer": after a refusal the stack then treats the token as dead.
    fn fetch(&self, ctx: FetchContext) -> BoxFuture<'_, Result<Token, RefreshError>>;

    /// Whether [`fetch`](Self::fetch) can ever produce a token other than the
    /// current one. A source that cannot is not asked after a refusal. Read
    /// when a stack is built (it decides whether requests keep a copy for a
    /// replay), so the answer must not change afterwards.
    fn can_renew(&self) -> bool {
        true
    }
}

impl<T: TokenSource + ?Sized> TokenSource for Arc<T> {
    fn initial(&self) -> Option<Result<Token, RefreshError>> {
        (**self).initial()
    }
    fn fetch(&self, ctx: FetchContext) -> BoxFuture<'_, Result<Token, RefreshError>> {
        (**self).fetch(ctx)
    }
    fn can_renew(&self) -> bool {
        (**self).can_renew()
    }
}

/// A fixed token, such as a non-expiring system-user token.
#[derive(Clone, Debug)]
pub struct StaticToken(Token);

impl StaticToken {
    /// A fixed token of unknown lifetime.
    pub fn new(token: impl Into<Secret>) -> StaticToken {
        StaticToken(Token::new(token))
    }
}

impl TokenSource for StaticToken {
    fn initial(&self) -> Option<Result<Token, RefreshError>> {
        Some(Ok(self.0.clone()))
    }
    fn fetch(&self, _ctx: FetchContext) -> BoxFuture<'_, Result<Token, RefreshError>> {
        Box::pin(std::future::ready(Ok(self.0.clone())))
    }
    fn can_renew(&self) -> bool {
        false
    }
}

/// A long-lived user token, renewed with `grant_type=fb_exchange_token`
/// (the layer's app id and app secret must be set).
#[derive(Clone, Debug)]
pub struct FbExchange {
    initial: Token,
}

impl FbExchange {
    /// Starts from `token` and exchanges the current token for each renewal.
    pub fn new(token: impl Into<Secret>) -> FbExchange {
        FbExchange {
            initial: Token::new(token),
        }
    }
}

impl TokenSource for FbExchange {
    fn initial(&self) -> Option<Result<Token, RefreshError>> {
        Some(Ok(self.initial.clone()))
    }
    fn fetch(&self, ctx: FetchContext) -> BoxFuture<'_, Result<Token, RefreshError>> {
        Box::pin(async move {
            let current = ctx
                .current()
                .cloned()
                .unwrap_or_else(|| self.initial.value.clone());
            match ctx.reason() {
                FetchReason::Startup => Ok(self.initial.clone()),
                // A dead token cannot be exchanged; asking Graph would only
                // repeat the refusal.
                FetchReason::Recover => Ok(Token::new(current)),
                FetchReason::AheadOfExpiry | FetchReason::Rejected => ctx.exchange(&current).await,
            }
        })
    }
}

/// A token read from an environment variable, re-read on every renewal.
#[derive(Clone, Debug)]
pub struct EnvToken {
    name: String,
}

impl EnvToken {
    /// Reads the variable `name`.
    pub fn new(name: impl Into<String>) -> EnvToken {
        EnvToken { name: name.into() }
    }

    fn read(&self) -> Result<Token, RefreshError> {
        match std::env::var(&self.name) {
            Ok(value) if !value.trim().is_empty() => Ok(Token::new(value.trim())),
            _ => Err(RefreshError::Source(Arc::from(format!(
                "environment variable {} is not set or empty",
                self.name
            )))),
        }
    }
}

impl TokenSource for EnvToken {
    fn initial(&self) -> Option<Result<Token, RefreshError>> {
        Some(self.read())
    }
    fn fetch(&self, _ctx: FetchContext) -> BoxFuture<'_, Result<Token, RefreshError>> {
        Box::pin(std::future::ready(self.read()))
    }
}

/// A token read from a file (surrounding whitespace ignored), re-read on
/// every renewal, e.g. a mounted secret that operators rotate. The file is
/// read asynchronously, never while the stack is built.
#[derive(Clone, Debug)]
pub struct FileToken {
    path: PathBuf,
}

impl FileToken {
    /// Reads the file at `path`.
    pub fn new(path: impl Into<PathBuf>) -> FileToken {
        FileToken { path: path.into() }
    }

    fn parse(&self, read: std::io::Result<String>) -> Result<Token, RefreshError> {
        let fail = |why: String| RefreshError::Source(Arc::from(why));
        match read {
            Ok(text) if !text.trim().is_empty() => Ok(Token::new(text.trim())),
            Ok(_) => Err(fail(format!("token file {} is empty", self.path.display()))),
            Err(e) => Err(fail(format!(
                "reading token file {}: {e}",
                self.path.display()
            ))),
        }
    }
}

impl TokenSource for FileToken {
    // No `initial`: reading a file blocks, so the first read happens in the
    // cell's task (asynchronously), before the first request is sent.
    fn fetch(&self, _ctx: FetchContext) -> BoxFuture<'_, Result<Token, RefreshError>> {
        Box::pin(async move { self.parse(tokio::fs::read_to_string(&self.path).await) })
    }
}

/// A source from an async closure, called for every token the stack needs.
pub fn token_fn<F, Fut>(f: F) -> TokenFn<F>
where
    F: Fn(FetchContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Token, RefreshError>> + Send + 'static,
{
    TokenFn(f)
}

/// The source built by [`token_fn`].
#[derive(Clone)]
pub struct TokenFn<F>(F);

impl<F> std::fmt::Debug for TokenFn<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenFn")
    }
}

impl<F, Fut> TokenSource for TokenFn<F>
where
    F: Fn(FetchContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Token, RefreshError>> + Send + 'static,
{
    fn fetch(&self, ctx: FetchContext) -> BoxFuture<'_, Result<Token, RefreshError>> {
        Box::pin((self.0)(ctx))
    }
}
