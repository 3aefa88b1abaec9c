//! [`TenantFuture`]: find the tenant (once, for a phone number not yet
//! resident), then the request path of its cell.

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use http::{Request, Response};
use pin_project_lite::pin_project;
use tower::BoxError;
use tower_service::Service;

use super::registry::Lookup;
use crate::body::{BytesBody, ReplayBody};
use crate::bounds::BoxFuture;
use crate::error::Error;
use crate::service::WhatsAppAuthFuture;
use crate::token::TokenCell;

pin_project! {
    /// Response future of [`WhatsAppTenants`](super::WhatsAppTenants):
    /// `V` is the service below the tenant's `ValidateIfNeeded` (the
    /// client, classified).
    pub struct TenantFuture<B, V: Service<Request<ReplayBody>>> {
        #[pin]
        state: State<B, V>,
    }
}

pin_project! {
    #[project = StateProj]
    #[project_replace = StateOwned]
    enum State<B, V: Service<Request<ReplayBody>>> {
        /// The tenant is being looked up; the request waits with no
        /// capacity held.
        Resolving { resolving: Box<Resolving<B, V>> },
        /// The tenant's request path.
        Sending { #[pin] future: WhatsAppAuthFuture<B, V> },
        /// Failed before anything was sent.
        Failed { error: Error },
        Done,
    }
}

/// What sends a request once its tenant's cell is known.
type Then<B, V> = Box<dyn FnOnce(TokenCell) -> WhatsAppAuthFuture<B, V> + Send>;

/// A request waiting for its tenant's cell.
struct Resolving<B, V: Service<Request<ReplayBody>>> {
    cell: BoxFuture<'static, Result<TokenCell, Error>>,
    then: Then<B, V>,
}

impl<B, V: Service<Request<ReplayBody>>> TenantFuture<B, V> {
    pub(super) fn sending(future: WhatsAppAuthFuture<B, V>) -> Self {
        TenantFuture {
            state: State::Sending { future },
        }
    }

    pub(super) fn failed(error: Error) -> Self {
        TenantFuture {
            state: State::Failed { error },
        }
    }

    pub(super) fn resolving(id: String, mut lookup: Lookup, then: Then<B, V>) -> Self {
        let cell = Box::pin(async move {
            loop {
                if let Some(found) = lookup.borrow_and_update().clone() {
                    return found;
                }
                if lookup.changed().await.is_err() {
                    return Err(Error::TenantLookup {
                        phone_number_id: id,
                        reason: "the look-up ended without an answer".into(),
                    });
                }
            }
        });
        TenantFuture {
            state: State::Resolving {
                resolving: Box::new(Resolving { cell, then }),
            },
        }
    }
}

impl<B, V, ResB> Future for TenantFuture<B, V>
where
    B: BytesBody,
    V: Service<Request<ReplayBody>, Response = Response<ResB>> + Clone,
    V::Error: Into<BoxError>,
{
    type Output = Result<Response<ResB>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            let next = match this.state.as_mut().project() {
                StateProj::Sending { future } => return future.poll(cx),
                StateProj::Failed { .. } => {
                    let StateOwned::Failed { error } =
                        this.state.as_mut().project_replace(State::Done)
                    else {
                        unreachable!("in the failed state")
                    };
                    return Poll::Ready(Err(error.into()));
                }
                StateProj::Resolving { resolving } => {
                    let found = ready!(resolving.cell.as_mut().poll(cx));
                    let StateOwned::Resolving { resolving } =
                        this.state.as_mut().project_replace(State::Done)
                    else {
                        unreachable!("in the resolving state")
                    };
                    match found {
                        Err(error) => return Poll::Ready(Err(error.into())),
                        Ok(cell) => State::Sending {
                            future: (resolving.then)(cell),
                        },
                    }
                }
                StateProj::Done => panic!("TenantFuture polled after completion"),
            };
            this.state.set(next);
        }
    }
}
