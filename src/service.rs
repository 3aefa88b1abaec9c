//! [`WhatsAppAuth`]: the service [`WhatsAppAuthLayer`](crate::WhatsAppAuthLayer)
//! builds.
//!
//! It does what the standalone parts do in sequence (buffer the body, make
//! the token ready, authorize, classify, refresh once and replay), as one
//! state machine: on the hot path (token live and recently validated) a
//! request costs one read of the shared token, a header insert, and, when a
//! replay is possible, a copy of its head (the body is shared, not copied).

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use pin_project_lite::pin_project;
use tower::BoxError;
use tower_service::Service;

use crate::body::{copy_request, BufferRequest};
use crate::cell::Credential;
use crate::source::BoxFuture;
use crate::{
    Classify, Error, ErrorKind, FetchReason, GraphBody, GraphError, ReplayBody, TokenCell,
    TokenGeneration,
};

/// The service built by [`WhatsAppAuthLayer`](crate::WhatsAppAuthLayer).
///
/// Requests that Graph refuses for a reason the stack cannot repair (a dead
/// token, a missing permission, an expired token after one refresh and
/// replay) fail with [`Error`]; every other answer, rate limits and 5xx
/// included, is passed through untouched with any [`GraphError`] in its
/// extensions.
#[derive(Clone, Debug)]
pub struct WhatsAppAuth<S> {
    inner: Classify<S>,
    cell: TokenCell,
    body_limit: usize,
}

impl<S> WhatsAppAuth<S> {
    pub(crate) fn new(inner: Classify<S>, cell: TokenCell, body_limit: usize) -> WhatsAppAuth<S> {
        WhatsAppAuth {
            inner,
            cell,
            body_limit,
        }
    }

    /// The token state this stack shares among its clones.
    pub fn token_cell(&self) -> &TokenCell {
        &self.cell
    }
}

impl<S, B, ResB> Service<Request<B>> for WhatsAppAuth<S>
where
    S: Service<Request<ReplayBody>, Response = Response<ResB>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    ResB: Body<Data = Bytes> + Send + 'static,
    ResB::Error: Into<BoxError>,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response<GraphBody<ResB>>;
    type Error = BoxError;
    type Future = WhatsAppAuthFuture<B, Classify<S>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Service::<Request<ReplayBody>>::poll_ready(&mut self.inner, cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        // The ready service goes with the future (the body is buffered first);
        // a fresh clone stays behind.
        let clone = self.inner.clone();
        let service = std::mem::replace(&mut self.inner, clone);
        WhatsAppAuthFuture {
            state: State::Buffering {
                buffer: BufferRequest::new(req, self.body_limit),
            },
            service,
            cell: self.cell.clone(),
            replay: None,
            generation: 0,
            replayed: false,
            body_limit: self.body_limit,
            streamed: false,
        }
    }
}

pin_project! {
    /// Response future of [`WhatsAppAuth`].
    pub struct WhatsAppAuthFuture<B, S>
    where
        S: Service<Request<ReplayBody>>,
    {
        #[pin]
        state: State<B, S::Future>,
        service: S,
        cell: TokenCell,
        // The copy kept for a replay, and the token generation sent.
        replay: Option<Box<Request<ReplayBody>>>,
        generation: u64,
        replayed: bool,
        // Whether the body was too large to keep for a replay.
        body_limit: usize,
        streamed: bool,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<B, F> {
        Buffering { #[pin] buffer: BufferRequest<B> },
        // Slow path: first fetch, validation, renewal ahead of expiry, recovery.
        Preparing { prepare: BoxFuture<'static, Result<(), Error>>, req: Option<Box<Request<ReplayBody>>> },
        Calling { #[pin] future: F },
        // Renewing after a refusal; `error` is reported afterwards instead of replaying.
        Renewing { renew: BoxFuture<'static, ()>, error: Option<Error> },
        Replaying,
    }
}

type Output<ResB> = Result<Response<GraphBody<ResB>>, BoxError>;

/// The fields a send needs, borrowed from the projected future.
struct Sender<'a, S> {
    service: &'a mut S,
    cell: &'a TokenCell,
    replay: &'a mut Option<Box<Request<ReplayBody>>>,
    generation: &'a mut u64,
    replayed: bool,
}

impl<S: Service<Request<ReplayBody>>> Sender<'_, S> {
    /// Sends `req` if the token is ready, or starts making it ready.
    fn start<B>(mut self, req: Request<ReplayBody>) -> State<B, S::Future> {
        let cell = self.cell;
        let mut slot = Some(req);
        // Hot path: check and authorize under one read of the shared token.
        let sent = cell.with_current(|cred| {
            cell.is_ready(cred)
                .then(|| self.authorize(cred, slot.take().expect("taken once")))
        });
        match sent {
            Some(req) => self.call(req),
            None => {
                let cell = cell.clone();
                State::Preparing {
                    prepare: Box::pin(async move { cell.prepare().await }),
                    req: slot.map(Box::new),
                }
            }
        }
    }

    /// Authorizes `req` with `cred` and sends it.
    fn send<B>(mut self, cred: &Credential, req: Request<ReplayBody>) -> State<B, S::Future> {
        let req = self.authorize(cred, req);
        self.call(req)
    }

    /// Stamps `req` with `cred`, keeping a copy when a replay may be needed.
    fn authorize(
        &mut self,
        cred: &Credential,
        mut req: Request<ReplayBody>,
    ) -> Request<ReplayBody> {
        if !self.replayed && self.cell.can_refresh() {
            *self.replay = copy_request(&req).map(Box::new);
        }
        cred.apply(&mut req);
        *self.generation = cred.generation();
        req
    }

    fn call<B>(self, req: Request<ReplayBody>) -> State<B, S::Future> {
        State::Calling {
            future: self.service.call(req),
        }
    }
}

impl<B, S, ResB> Future for WhatsAppAuthFuture<B, S>
where
    S: Service<Request<ReplayBody>, Response = Response<GraphBody<ResB>>, Error = BoxError>,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Output = Output<ResB>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            macro_rules! sender {
                () => {
                    Sender {
                        service: this.service,
                        cell: this.cell,
                        replay: this.replay,
                        generation: this.generation,
                        replayed: *this.replayed,
                    }
                };
            }
            let next = match this.state.as_mut().project() {
                StateProj::Buffering { buffer } => {
                    let req = ready!(buffer.poll(cx))?;
                    *this.streamed = !req.body().is_replayable();
                    sender!().start(req)
                }
                StateProj::Preparing { prepare, req } => {
                    ready!(prepare.as_mut().poll(cx))?;
                    let req = *req.take().expect("polled after completion");
                    let cred = this.cell.current();
                    if let Some(err) = cred.unusable() {
                        return Poll::Ready(Err(err.into()));
                    }
                    // Prepared: send without checking again.
                    sender!().send(&cred, req)
                }
                StateProj::Calling { future } => {
                    let mut res = ready!(future.poll(cx))?;
                    let Some(err) = res.extensions().get::<GraphError>().cloned() else {
                        return Poll::Ready(Ok(res));
                    };
                    let generation = *this.generation;
                    this.cell.observe_rejection(generation, &err);
                    res.extensions_mut().insert(TokenGeneration(generation));
                    if !err.kind().is_auth() {
                        return Poll::Ready(Ok(res));
                    }
                    let renewable = err.kind() == ErrorKind::TokenExpired
                        && this.cell.can_refresh()
                        && !*this.replayed;
                    if !renewable {
                        return Poll::Ready(Err(Error::Graph(err).into()));
                    }
                    *this.replayed = true;
                    // Without a copy the request cannot be replayed; renew
                    // anyway, so that the caller's next request goes through.
                    let error = match (this.replay.is_some(), *this.streamed) {
                        (true, _) => None,
                        (false, true) => Some(Error::NotReplayed {
                            limit: *this.body_limit,
                            source: err.clone(),
                        }),
                        (false, false) => Some(Error::Graph(err.clone())),
                    };
                    let cell = this.cell.clone();
                    State::Renewing {
                        renew: Box::pin(async move {
                            cell.renew(generation, FetchReason::Rejected, Some(err))
                                .await
                        }),
                        error,
                    }
                }
                StateProj::Renewing { renew, error } => {
                    ready!(renew.as_mut().poll(cx));
                    if let Some(error) = error.take() {
                        return Poll::Ready(Err(error.into()));
                    }
                    State::Replaying
                }
                StateProj::Replaying => {
                    ready!(this.service.poll_ready(cx))?;
                    let req = *this.replay.take().expect("a replay has its copy");
                    sender!().start(req)
                }
            };
            this.state.set(next);
        }
    }
}
