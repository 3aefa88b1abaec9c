//! [`VerifySignatureFuture`]: read the body (bounded), verify, then call.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderValue, Request, Response, StatusCode};
use http_body::Body;
use pin_project_lite::pin_project;
use tower_service::Service;

use super::signature::verify_signature;
use crate::body::Gather;
use crate::secret::Secret;
use crate::telemetry::{Deliveries, DeliveryOutcome};

pin_project! {
    /// Response future of [`VerifySignature`](super::VerifySignature).
    pub struct VerifySignatureFuture<S: Service<Request<Out>>, ReqB, Out> {
        #[pin]
        state: State<S, ReqB, Out>,
        deliveries: Deliveries,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S: Service<Request<Out>>, ReqB, Out> {
        Reading {
            reading: Option<Box<Reading<S, ReqB>>>,
            _out: PhantomData<fn() -> Out>,
        },
        Calling { #[pin] future: S::Future },
        Refused {
            status: StatusCode,
            reason: &'static str,
            // What to count it as: nothing for a body that broke off.
            outcome: Option<DeliveryOutcome>,
        },
    }
}

struct Reading<S, ReqB> {
    parts: http::request::Parts,
    body: Pin<Box<ReqB>>,
    gather: Gather,
    service: S,
    secrets: Arc<[Secret]>,
    limit: usize,
}

impl<S: Service<Request<Out>>, ReqB: Body, Out> VerifySignatureFuture<S, ReqB, Out> {
    pub(super) fn new(
        req: Request<ReqB>,
        service: S,
        secrets: Arc<[Secret]>,
        limit: usize,
        deliveries: Deliveries,
    ) -> Self {
        let (parts, body) = req.into_parts();
        let declared = parts
            .headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        let state = if declared.is_some_and(|len| len > limit as u64)
            || body.size_hint().lower() > limit as u64
        {
            // Too large by its own account: refused before reading a byte.
            too_large()
        } else {
            State::Reading {
                reading: Some(Box::new(Reading {
                    parts,
                    body: Box::pin(body),
                    gather: Gather::default(),
                    service,
                    secrets,
                    limit,
                })),
                _out: PhantomData,
            }
        };
        VerifySignatureFuture { state, deliveries }
    }
}

fn too_large<S: Service<Request<Out>>, ReqB, Out>() -> State<S, ReqB, Out> {
    State::Refused {
        status: StatusCode::PAYLOAD_TOO_LARGE,
        reason: "webhook body too large",
        outcome: Some(DeliveryOutcome::TooLarge),
    }
}

fn refusal<B: From<Bytes>>(status: StatusCode, reason: &'static str) -> Response<B> {
    let mut res = Response::new(B::from(Bytes::from_static(reason.as_bytes())));
    *res.status_mut() = status;
    res.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    res
}

/// The body read whole: the inner service called with it, if the
/// signature matches.
fn verified<S, ReqB, Out>(reading: Reading<S, ReqB>) -> State<S, ReqB, Out>
where
    S: Service<Request<Out>>,
    Out: From<Bytes>,
{
    let Reading {
        parts,
        gather,
        mut service,
        secrets,
        ..
    } = reading;
    let bytes = gather.to_bytes();
    match verify_signature(&secrets, &parts.headers, &bytes) {
        Ok(()) => {
            let req = Request::from_parts(parts, Out::from(bytes));
            State::Calling {
                future: service.call(req),
            }
        }
        Err(error) => {
            tracing::warn!(%error, "webhook delivery refused");
            State::Refused {
                status: StatusCode::UNAUTHORIZED,
                reason: match error {
                    super::SignatureError::Missing => "missing X-Hub-Signature-256",
                    super::SignatureError::Malformed => "malformed X-Hub-Signature-256",
                    super::SignatureError::NoSecret => "no app secret configured",
                    _ => "signature does not match",
                },
                outcome: Some(DeliveryOutcome::BadSignature),
            }
        }
    }
}

impl<S, ReqB, Out, ResB> Future for VerifySignatureFuture<S, ReqB, Out>
where
    S: Service<Request<Out>, Response = Response<ResB>>,
    ReqB: Body<Data = Bytes>,
    Out: From<Bytes>,
    ResB: From<Bytes>,
{
    type Output = Result<Response<ResB>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            let next = match this.state.as_mut().project() {
                StateProj::Refused {
                    status,
                    reason,
                    outcome,
                } => {
                    if let Some(outcome) = outcome.take() {
                        this.deliveries.record(outcome);
                    }
                    return Poll::Ready(Ok(refusal(*status, reason)));
                }
                StateProj::Calling { future } => {
                    let result = ready!(future.poll(cx));
                    // What the service says the delivery was; else accepted.
                    let outcome = result
                        .as_ref()
                        .ok()
                        .and_then(|res| res.extensions().get::<DeliveryOutcome>())
                        .copied()
                        .unwrap_or(DeliveryOutcome::Accepted);
                    this.deliveries.record(outcome);
                    return Poll::Ready(result);
                }
                StateProj::Reading { reading, .. } => {
                    let r = reading.as_mut().expect("polled after completion");
                    match ready!(r.body.as_mut().poll_frame(cx)) {
                        Some(Ok(frame)) => {
                            if r.gather.push(frame) > r.limit {
                                too_large()
                            } else {
                                continue;
                            }
                        }
                        Some(Err(_)) => State::Refused {
                            status: StatusCode::BAD_REQUEST,
                            reason: "could not read the webhook body",
                            outcome: None,
                        },
                        None => verified(*reading.take().expect("checked")),
                    }
                }
            };
            this.state.set(next);
        }
    }
}
