//! [`Authorize`]: put the current token on each request.
//!
//! Every request gets `Authorization: Bearer <token>` (any `Authorization`
//! header the caller set is replaced, never duplicated; the value is marked
//! sensitive so HTTP/2 never indexes it) and, when an app secret is
//! configured, an `appsecret_proof` query parameter. Both are computed once
//! per token, not per request. A token known to be dead, or a refresh being
//! backed off, fails the request at once without sending it.
//!
//! Responses that carry a [`GraphError`] (put there by
//! [`Classify`](crate::Classify)) also get a [`TokenGeneration`] extension
//! naming the token they were sent with, which
//! [`RefreshOn190`](crate::RefreshOn190) uses to join the right refresh.
//!
//! ```
//! use http::Request;
//! use tower::{service_fn, ServiceBuilder, ServiceExt};
//! use tower_whatsapp_auth::{AuthorizeLayer, ReplayBody, WhatsAppAuthLayer};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), tower::BoxError> {
//! // Echoes the Authorization header and the query string back.
//! let graph = service_fn(|req: Request<ReplayBody>| async move {
//!     let query = req.uri().query().unwrap_or("").to_owned();
//!     let mut res = http::Response::new(http_body_util::Full::new(bytes::Bytes::from(query)));
//!     res.headers_mut().insert("x-seen-auth", req.headers()["authorization"].clone());
//!     Ok::<_, tower::BoxError>(res)
//! });
//! let cell = WhatsAppAuthLayer::new("EAAG-token").app_secret("s3cret").token_cell(graph.clone());
//! let svc = ServiceBuilder::new().layer(AuthorizeLayer::new(cell)).service(graph);
//! let res = svc.oneshot(Request::get("http://127.0.0.1/v24.0/me").body(ReplayBody::empty())?).await?;
//! assert!(res.headers()["x-seen-auth"].is_sensitive());
//! let query = res.body().clone();
//! # let query = http_body_util::BodyExt::collect(query).await?.to_bytes();
//! assert!(query.starts_with(b"appsecret_proof="));
//! # Ok(()) }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use http::{Request, Response};
use pin_project_lite::pin_project;
use tower::BoxError;
use tower_layer::Layer;
use tower_service::Service;

use crate::{Error, GraphError, TokenCell};

/// Response extension: the token generation a request carried, set on
/// responses that carry a [`GraphError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenGeneration(pub u64);

/// Layer that applies [`Authorize`].
#[derive(Debug, Clone)]
pub struct AuthorizeLayer {
    cell: TokenCell,
}

impl AuthorizeLayer {
    /// Authorizes requests with the token held by `cell`.
    pub fn new(cell: TokenCell) -> AuthorizeLayer {
        AuthorizeLayer { cell }
    }
}

impl<S> Layer<S> for AuthorizeLayer {
    type Service = Authorize<S>;
    fn layer(&self, inner: S) -> Authorize<S> {
        Authorize {
            inner,
            cell: self.cell.clone(),
        }
    }
}

/// Middleware that adds the current token to each request. See the
/// [module docs](crate::authorize).
#[derive(Debug, Clone)]
pub struct Authorize<S> {
    inner: S,
    cell: TokenCell,
}

impl<S, B, ResB> Service<Request<B>> for Authorize<S>
where
    S: Service<Request<B>, Response = Response<ResB>>,
    S::Error: Into<BoxError>,
{
    type Response = Response<ResB>;
    type Error = BoxError;
    type Future = AuthorizeFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        let cred = self.cell.current();
        if let Some(err) = cred.unusable() {
            return AuthorizeFuture {
                state: AuthorizeState::Refused { error: Some(err) },
            };
        }
        cred.apply(&mut req);
        AuthorizeFuture {
            state: AuthorizeState::Sent {
                future: self.inner.call(req),
                cell: self.cell.clone(),
                generation: cred.generation(),
            },
        }
    }
}

pin_project! {
    /// Response future of [`Authorize`].
    pub struct AuthorizeFuture<F> {
        #[pin]
        state: AuthorizeState<F>,
    }
}

pin_project! {
    #[project = AuthorizeProj]
    enum AuthorizeState<F> {
        Sent { #[pin] future: F, cell: TokenCell, generation: u64 },
        Refused { error: Option<Error> },
    }
}

impl<F, E, ResB> Future for AuthorizeFuture<F>
where
    F: Future<Output = Result<Response<ResB>, E>>,
    E: Into<BoxError>,
{
    type Output = Result<Response<ResB>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            AuthorizeProj::Refused { error } => {
                Poll::Ready(Err(error.take().expect("polled after completion").into()))
            }
            AuthorizeProj::Sent {
                future,
                cell,
                generation,
            } => {
                let mut res = ready!(future.poll(cx)).map_err(Into::into)?;
                if let Some(err) = res.extensions().get::<GraphError>() {
                    cell.observe_rejection(*generation, err);
                    res.extensions_mut().insert(TokenGeneration(*generation));
                }
                Poll::Ready(Ok(res))
            }
        }
    }
}
