//! [`ClassifyFuture`]: reads an error body (up to the limit) and parses it.

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use http::header::HeaderName;
use http::Response;
use http_body::Body;
use pin_project_lite::pin_project;
use tower::BoxError;

use super::{GraphBody, Settings};
use crate::body::Gather;
use crate::graph::usage::{Usage, APP_USAGE, BUSINESS_USE_CASE_USAGE};
use crate::graph::GraphError;

pin_project! {
    /// Response future of [`Classify`](super::Classify).
    pub struct ClassifyFuture<F, ResB> {
        #[pin]
        state: ClassifyState<F, ResB>,
        settings: Settings,
    }
}

impl<F, ResB> ClassifyFuture<F, ResB> {
    #[inline]
    pub(super) fn new(future: F, settings: Settings) -> Self {
        ClassifyFuture {
            state: ClassifyState::Calling { future },
            settings,
        }
    }
}

// As `HeaderName`s, so the look-up on every response parses no name.
const APP_USAGE_HEADER: HeaderName = HeaderName::from_static(APP_USAGE);
const BUSINESS_USAGE_HEADER: HeaderName = HeaderName::from_static(BUSINESS_USE_CASE_USAGE);

/// Puts Graph's usage headers, read, in the response extensions, and warns
/// when usage passes `warn_at` percent.
#[inline]
fn note_usage<B>(res: &mut Response<B>, warn_at: f64) {
    // One pass over the names the answer carries (a handful to a score),
    // each compared by its length first: cheaper than two hashed look-ups
    // of these long names, on every answer.
    let carries = |name: &HeaderName| *name == APP_USAGE_HEADER || *name == BUSINESS_USAGE_HEADER;
    if !res.headers().keys().any(carries) {
        return;
    }
    read_usage(res, warn_at);
}

/// [`note_usage`] for an answer that carries a usage header.
#[inline(never)]
fn read_usage<B>(res: &mut Response<B>, warn_at: f64) {
    let Some(usage) = Usage::from_headers(res.headers()) else {
        return;
    };
    if usage.max_percent() >= warn_at {
        tracing::warn!(
            percent = usage.max_percent(),
            regain_access_in = ?usage.regain_access_in(),
            "Graph usage is high: slow down before Graph throttles"
        );
    }
    res.extensions_mut().insert(usage);
}

struct Reading<ResB> {
    parts: Option<http::response::Parts>,
    body: Option<Pin<Box<ResB>>>,
    gather: Gather,
}

pin_project! {
    #[project = ClassifyProj]
    enum ClassifyState<F, ResB> {
        Calling { #[pin] future: F },
        // Boxed: error answers are rare, and this keeps the future small.
        Reading { reading: Box<Reading<ResB>> },
    }
}

impl<F, E, ResB> Future for ClassifyFuture<F, ResB>
where
    F: Future<Output = Result<Response<ResB>, E>>,
    E: Into<BoxError>,
    ResB: Body<Data = Bytes>,
    ResB::Error: Into<BoxError>,
{
    type Output = Result<Response<GraphBody<ResB>>, BoxError>;

    // A success is the path nearly every request takes: it is all this
    // function holds, and reading an error answer is out of line.
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if let ClassifyProj::Calling { future } = this.state.as_mut().project() {
            let mut res = ready!(future.poll(cx)).map_err(Into::into)?;
            note_usage(&mut res, this.settings.usage_warning);
            if res.status().as_u16() < 400 {
                return Poll::Ready(Ok(res.map(GraphBody::passthrough)));
            }
            this.state.set(reading(res));
        }
        let ClassifyProj::Reading { reading } = this.state.project() else {
            unreachable!("reading an error answer")
        };
        read_error(reading, this.settings.limit, cx)
    }
}

/// The state that reads the error answer `res`. Error answers are rare:
/// boxing the body here keeps the success path free of it and lets the
/// unread rest move on.
#[inline(never)]
fn reading<F, ResB>(res: Response<ResB>) -> ClassifyState<F, ResB> {
    let (parts, body) = res.into_parts();
    ClassifyState::Reading {
        reading: Box::new(Reading {
            parts: Some(parts),
            body: Some(Box::pin(body)),
            gather: Gather::default(),
        }),
    }
}

/// Reads an error answer's body (up to `limit`) and parses it: the answer,
/// with the Graph error found in its extensions.
#[inline(never)]
fn read_error<ResB>(
    reading: &mut Reading<ResB>,
    limit: usize,
    cx: &mut Context<'_>,
) -> Poll<Result<Response<GraphBody<ResB>>, BoxError>>
where
    ResB: Body<Data = Bytes>,
    ResB::Error: Into<BoxError>,
{
    let Reading {
        parts,
        body,
        gather,
    } = reading;
    let stream = body.as_mut().expect("polled after completion");
    let overflow = loop {
        match ready!(stream.as_mut().poll_frame(cx)) {
            Some(Ok(frame)) => {
                if gather.push(frame) > limit {
                    break true;
                }
            }
            Some(Err(e)) => return Poll::Ready(Err(e.into())),
            None => break false,
        }
    };
    let mut parts = parts.take().expect("polled after completion");
    let gathered = std::mem::take(gather);
    let read = gathered.to_bytes();
    let body = if overflow {
        GraphBody::prefixed(gathered.into_prefix(), body.take().expect("checked"))
    } else {
        drop(body.take());
        GraphBody::buffered(read.clone(), gathered.trailers)
    };
    if let Some(err) = GraphError::parse(parts.status, &read) {
        tracing::debug!(code = err.code(), subcode = ?err.subcode(), status = parts.status.as_u16(), "graph error answer");
        parts.extensions.insert(err);
    }
    Poll::Ready(Ok(Response::from_parts(parts, body)))
}
