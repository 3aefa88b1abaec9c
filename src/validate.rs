//! [`ValidateIfNeeded`]: check the token with Graph before first use, then
//! at most once per interval (default 1 hour).
//!
//! This is also where the token is made ready before a request leaves: the
//! first fetch from a source with no token at hand, the read of a
//! [`TokenStore`](crate::TokenStore), renewal ahead of a known expiry, and
//! recovery of a dead token whose source now has another. All of it is
//! single-flight, and none of it runs while the token is ready.
//!
//! However many requests arrive while a validation is due, one validation
//! call is made (`GET /{version}/{phone-number-id}`, or `/me` when no phone
//! number id is configured) and the others wait for its verdict. A token
//! Graph refuses fails the waiting requests with a typed error (after a
//! refresh attempt, for an expired token with app credentials). When Graph
//! cannot give a verdict (network error, 5xx, rate limit), requests go on
//! and validation is tried again 30 seconds later.
//!
//! Between validations the check costs a clock read and an atomic load.
//!
//! ```
//! use std::time::Duration;
//! use http::{Request, Response};
//! use tower::{service_fn, ServiceBuilder, ServiceExt};
//! use tower_whatsapp_auth::{ReplayBody, ValidateIfNeededLayer, WhatsAppAuthLayer};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), tower::BoxError> {
//! // Answers every call (the validation included) with 200.
//! let graph = service_fn(|_req: Request<ReplayBody>| async {
//!     Ok::<_, tower::BoxError>(Response::new(http_body_util::Empty::<bytes::Bytes>::new()))
//! });
//! let cell = WhatsAppAuthLayer::new("EAAG-token")
//!     .validation_interval(Duration::from_secs(600))
//!     .token_cell(graph.clone());
//! let svc = ServiceBuilder::new().layer(ValidateIfNeededLayer::new(cell.clone())).service(graph);
//! for _ in 0..3 {
//!     svc.clone().oneshot(Request::new(ReplayBody::empty())).await?;
//! }
//! assert_eq!(cell.stats().validations, 1);
//! # Ok(()) }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use http::Request;
use pin_project_lite::pin_project;
use tower::BoxError;
use tower_layer::Layer;
use tower_service::Service;

use crate::{Error, TokenCell};

/// Layer that applies [`ValidateIfNeeded`].
#[derive(Debug, Clone)]
pub struct ValidateIfNeededLayer {
    cell: TokenCell,
}

impl ValidateIfNeededLayer {
    /// Validates the token held by `cell`, at the cell's configured interval.
    pub fn new(cell: TokenCell) -> ValidateIfNeededLayer {
        ValidateIfNeededLayer { cell }
    }
}

impl<S> Layer<S> for ValidateIfNeededLayer {
    type Service = ValidateIfNeeded<S>;
    fn layer(&self, inner: S) -> ValidateIfNeeded<S> {
        ValidateIfNeeded {
            inner,
            cell: self.cell.clone(),
        }
    }
}

/// Middleware that validates the token when due. See the
/// [module docs](crate::validate).
#[derive(Debug, Clone)]
pub struct ValidateIfNeeded<S> {
    inner: S,
    cell: TokenCell,
}

type Validation = Pin<Box<dyn Future<Output = Result<(), Error>> + Send>>;

impl<S, B> Service<Request<B>> for ValidateIfNeeded<S>
where
    S: Service<Request<B>> + Clone,
    S::Error: Into<BoxError>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ValidateFuture<S, B>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let cred = self.cell.current();
        if self.cell.is_ready(&cred) {
            return ValidateFuture {
                state: ValidateState::Calling {
                    future: self.inner.call(req),
                },
            };
        }
        let cell = self.cell.clone();
        let clone = self.inner.clone();
        let ready = std::mem::replace(&mut self.inner, clone);
        ValidateFuture {
            state: ValidateState::Validating {
                validation: Box::pin(async move { cell.prepare().await }),
                pending: Some((ready, req)),
            },
        }
    }
}

pin_project! {
    /// Response future of [`ValidateIfNeeded`].
    pub struct ValidateFuture<S: Service<Request<B>>, B> {
        #[pin]
        state: ValidateState<S, B>,
    }
}

pin_project! {
    #[project = ValidateProj]
    enum ValidateState<S: Service<Request<B>>, B> {
        Validating { validation: Validation, pending: Option<(S, Request<B>)> },
        Calling { #[pin] future: S::Future },
    }
}

impl<S, B> Future for ValidateFuture<S, B>
where
    S: Service<Request<B>>,
    S::Error: Into<BoxError>,
{
    type Output = Result<S::Response, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                ValidateProj::Validating {
                    validation,
                    pending,
                } => {
                    ready!(validation.as_mut().poll(cx))?;
                    let (mut service, req) = pending.take().expect("polled after completion");
                    let future = service.call(req);
                    this.state.set(ValidateState::Calling { future });
                }
                ValidateProj::Calling { future } => {
                    return future.poll(cx).map_err(Into::into);
                }
            }
        }
    }
}
