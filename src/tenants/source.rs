//! Where tenants come from: [`TenantSource`], which the application
//! implements over its own database, and the adapters that let a tenant's
//! token cell read its token from it and write renewed ones back.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tower::BoxError;

use crate::access_token::Token;
use crate::bounds::BoxFuture;
use crate::error::RefreshError;
use crate::source::{FetchContext, FetchReason, TokenSource};
use crate::store::{RefreshLock, Saved, StoreError, StoredToken, TokenStore};

/// One business, as the platform knows it: the token it onboarded with
/// (Embedded Signup's business token), and the WhatsApp Business Account
/// id it belongs to, when known.
///
/// ```
/// use std::time::Duration;
/// use tower_whatsapp_auth::tenants::Tenant;
/// use tower_whatsapp_auth::Token;
/// let tenant = Tenant::new(Token::new("EAAG-business-token").never_expires()).waba_id("102290129340398");
/// assert_eq!(tenant.waba(), Some("102290129340398"));
/// ```
#[derive(Debug, Clone)]
pub struct Tenant {
    pub(crate) token: Token,
    pub(crate) waba_id: Option<String>,
}

impl Tenant {
    /// A tenant with `token` (a [`Token`], or a `&str`/`String`: its expiry
    /// is then learned from `/debug_token`).
    pub fn new(token: impl Into<Token>) -> Tenant {
        Tenant {
            token: token.into(),
            waba_id: None,
        }
    }

    /// The WhatsApp Business Account the tenant's phone number belongs to:
    /// with `/debug_token`'s `granular_scopes`, a token that does not cover
    /// it is refused as that tenant's configuration error.
    pub fn waba_id(mut self, id: impl Into<String>) -> Tenant {
        self.waba_id = Some(id.into());
        self
    }

    /// The WhatsApp Business Account id, when known.
    pub fn waba(&self) -> Option<&str> {
        self.waba_id.as_deref()
    }
}

/// The platform's tenants: which business owns a phone number id, and
/// where a renewed token goes. Implement it over your database.
///
/// ```
/// use tower_whatsapp_auth::tenants::{Tenant, TenantSource};
/// use tower_whatsapp_auth::{BoxFuture, Token};
///
/// struct OneBusiness;
///
/// impl TenantSource for OneBusiness {
///     fn tenant(&self, phone_number_id: &str) -> BoxFuture<'_, Result<Option<Tenant>, tower::BoxError>> {
///         let found = (phone_number_id == "106540352242922").then(|| Tenant::new("EAAG-business-token"));
///         Box::pin(async move { Ok(found) })
///     }
/// }
/// ```
pub trait TenantSource: Send + Sync + 'static {
    /// The tenant that owns `phone_number_id`, or `None` when no tenant
    /// does (requests for it then fail unsent). Asked once per phone number
    /// while its tenant stays resident, and again when its token is dead
    /// (a re-onboarded business brings its new token back).
    fn tenant(&self, phone_number_id: &str) -> BoxFuture<'_, Result<Option<Tenant>, BoxError>>;

    /// Keeps `token`, renewed for `phone_number_id`, where
    /// [`tenant`](Self::tenant) will find it. It is called as the renewed
    /// token is installed, before any shared store (Redis) is written, so
    /// a shared store that is down keeps nothing from your database. A
    /// call that fails, or takes longer than the look-up timeout, is
    /// retried with back-off until it succeeds or a newer token replaces
    /// this one ([`TokenStats::save_behind`](crate::TokenStats::save_behind)
    /// and `whatsapp.token.saves` say when one is behind); meanwhile the
    /// token is used. Make it idempotent. The default keeps nothing.
    fn save(&self, phone_number_id: &str, token: &Token) -> BoxFuture<'_, Result<(), BoxError>> {
        let _ = (phone_number_id, token);
        Box::pin(std::future::ready(Ok(())))
    }
}

impl<T: TenantSource + ?Sized> TenantSource for Arc<T> {
    fn tenant(&self, phone_number_id: &str) -> BoxFuture<'_, Result<Option<Tenant>, BoxError>> {
        (**self).tenant(phone_number_id)
    }
    fn save(&self, phone_number_id: &str, token: &Token) -> BoxFuture<'_, Result<(), BoxError>> {
        (**self).save(phone_number_id, token)
    }
}

/// A [`TenantSource`] from an async closure: `tenant_fn(|phone| async { … })`.
/// Renewed tokens are not kept (implement [`TenantSource`] to keep them).
///
/// ```
/// use tower_whatsapp_auth::tenants::{tenant_fn, Tenant};
/// let source = tenant_fn(|phone: String| async move {
///     Ok::<_, tower::BoxError>((phone == "106540352242922").then(|| Tenant::new("EAAG-token")))
/// });
/// # let _ = source;
/// ```
pub fn tenant_fn<F, Fut>(f: F) -> TenantFn<F>
where
    F: Fn(String) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Option<Tenant>, BoxError>> + Send + 'static,
{
    TenantFn(f)
}

/// The source built by [`tenant_fn`].
#[derive(Clone)]
pub struct TenantFn<F>(F);

impl<F> std::fmt::Debug for TenantFn<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TenantFn")
    }
}

impl<F, Fut> TenantSource for TenantFn<F>
where
    F: Fn(String) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Option<Tenant>, BoxError>> + Send + 'static,
{
    fn tenant(&self, phone_number_id: &str) -> BoxFuture<'_, Result<Option<Tenant>, BoxError>> {
        Box::pin((self.0)(phone_number_id.to_owned()))
    }
}

/// A tenant's token, as its cell's [`TokenSource`]: the token the platform
/// holds first; renewals by `fb_exchange_token` (with app credentials, for
/// tokens that expire); and, for a dead token, the platform asked again.
pub(crate) struct TenantToken {
    pub(crate) source: Arc<dyn TenantSource>,
    pub(crate) phone_number_id: Arc<str>,
    pub(crate) initial: Token,
    pub(crate) can_exchange: bool,
    pub(crate) lookup_timeout: Duration,
}

impl TokenSource for TenantToken {
    fn initial(&self) -> Option<Result<Token, RefreshError>> {
        Some(Ok(self.initial.clone()))
    }

    fn fetch(&self, ctx: FetchContext) -> BoxFuture<'_, Result<Token, RefreshError>> {
        Box::pin(async move {
            let current = ctx.current().cloned();
            match (ctx.reason(), current) {
                (FetchReason::AheadOfExpiry | FetchReason::Rejected, Some(current))
                    if self.can_exchange =>
                {
                    ctx.exchange(&current).await
                }
                _ => self.ask_again().await,
            }
        })
    }
}

impl TenantToken {
    /// What the platform holds for this phone number now.
    async fn ask_again(&self) -> Result<Token, RefreshError> {
        let failed = |why: String| RefreshError::Source(Arc::from(why));
        let asked = tokio::time::timeout(
            self.lookup_timeout,
            self.source.tenant(&self.phone_number_id),
        );
        match asked.await {
            Ok(Ok(Some(tenant))) => Ok(tenant.token),
            Ok(Ok(None)) => Err(failed(format!(
                "no tenant owns phone number id {} any more",
                self.phone_number_id
            ))),
            Ok(Err(e)) => Err(failed(format!("the tenant source failed: {e}"))),
            Err(_) => Err(failed("the tenant source did not answer in time".into())),
        }
    }
}

/// A tenant's token store: renewed tokens go back to the platform (and to
/// a shared store, such as Redis under a key that names the tenant, which
/// also holds the renewal lock across replicas).
pub(crate) struct TenantStore {
    pub(crate) source: Arc<dyn TenantSource>,
    pub(crate) phone_number_id: Arc<str>,
    pub(crate) shared: Option<Arc<dyn TokenStore>>,
    /// The bound on the platform's `save`.
    pub(crate) lookup_timeout: Duration,
}

impl TokenStore for TenantStore {
    fn load(&self) -> BoxFuture<'_, Result<Option<StoredToken>, StoreError>> {
        match &self.shared {
            Some(shared) => shared.load(),
            None => Box::pin(std::future::ready(Ok(None))),
        }
    }

    fn save(&self, token: StoredToken) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move { self.save_if_newer(token).await.map(drop) })
    }

    /// The platform's own `save` first, whatever the shared store does (a
    /// Redis that is down or frozen must not keep a renewed token from the
    /// database a restart reads), bounded by the look-up timeout; then the
    /// shared store's compare-and-set. Either failing fails the save, which
    /// the cell retries (both are idempotent for one token).
    fn save_if_newer(&self, token: StoredToken) -> BoxFuture<'_, Result<Saved, StoreError>> {
        Box::pin(async move {
            let left = token
                .expires_at
                .and_then(|at| at.duration_since(std::time::SystemTime::now()).ok());
            let kept = match left {
                Some(left) => Token::new(token.token.clone()).expires_in(left),
                None => Token::new(token.token.clone()),
            };
            let location = || format!("tenant source (phone number id {})", self.phone_number_id);
            let limit = self.lookup_timeout;
            match tokio::time::timeout(limit, self.source.save(&self.phone_number_id, &kept)).await
            {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    return Err(StoreError::Io {
                        location: location(),
                        reason: e.to_string(),
                    })
                }
                Err(_) => {
                    return Err(StoreError::Io {
                        location: location(),
                        reason: format!("no answer within {limit:?}"),
                    })
                }
            }
            match &self.shared {
                Some(shared) => shared.save_if_newer(token).await,
                None => Ok(Saved::Stored),
            }
        })
    }

    fn is_shared(&self) -> bool {
        self.shared.as_ref().is_some_and(|s| s.is_shared())
    }

    fn lock_refresh(
        &self,
        ttl: Duration,
    ) -> BoxFuture<'_, Result<Option<RefreshLock>, StoreError>> {
        match &self.shared {
            Some(shared) => shared.lock_refresh(ttl),
            None => Box::pin(std::future::ready(Ok(Some(RefreshLock(String::new()))))),
        }
    }

    fn unlock_refresh(&self, lock: RefreshLock) -> BoxFuture<'_, Result<(), StoreError>> {
        match &self.shared {
            Some(shared) => shared.unlock_refresh(lock),
            None => Box::pin(std::future::ready(Ok(()))),
        }
    }
}
