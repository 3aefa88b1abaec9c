//! [`ThroughputFuture`]: waits for the message's turn (holding none of the
//! inner service's capacity), then sends it and tells the pace what Graph
//! answered.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::Response;
use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};
use tower::BoxError;
use tower_service::Service;

use super::number::{Admit, Number, Waiter};
use super::pace::{Ticket, Turn};
use super::verdict::verdict;
use crate::error::{Error, ThrottleReason, Throttled};

pin_project! {
    /// Response future of [`Throughput`](super::Throughput), for requests
    /// of type `Req` to a service `S` whose future is `F`.
    pub struct ThroughputFuture<S, Req, F> {
        #[pin]
        state: State<S, Req, F>,
        // The message sent, whose answer the pace hears.
        sent: Option<Sent>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, Req, F> {
        Called { #[pin] future: F },
        // Boxed: waiting is the exception, and this keeps the future small.
        Waiting { waiting: Box<Waiting<S, Req>> },
        Refused { error: Option<Throttled> },
    }
}

/// A message send: its number, when it left, and its body (for the
/// recipient, should Graph answer with the pair rate).
struct Sent {
    number: Arc<Number>,
    at: Instant,
    body: Option<Bytes>,
}

/// What a message waits for.
enum Stage {
    /// Its recipient's pair-rate wait: then it asks for a turn.
    Recipient,
    /// Permits leased from the shared budget: then it asks again.
    Lease(Waiter),
    /// Its turn.
    Turn(Ticket),
    /// Nothing: the inner service's readiness.
    Ready,
}

struct Waiting<S, Req> {
    inner: S,
    request: Option<Req>,
    number: Arc<Number>,
    body: Option<Bytes>,
    stage: Stage,
    sleep: Pin<Box<Sleep>>,
    /// When it stops waiting, unsent; and the maximum wait that makes.
    deadline: Instant,
    max_wait: Duration,
}

/// How a message send starts.
pub(super) struct Start<S, Req> {
    pub(super) inner: S,
    pub(super) request: Req,
    pub(super) number: Arc<Number>,
    pub(super) body: Option<Bytes>,
    pub(super) now: Instant,
    pub(super) max_wait: Duration,
}

impl<S, Req, F> ThroughputFuture<S, Req, F> {
    /// A call that is not a message send: passed straight through.
    #[inline]
    pub(super) fn passthrough(future: F) -> Self {
        ThroughputFuture {
            state: State::Called { future },
            sent: None,
        }
    }

    /// A message sent at once, at `now`.
    #[inline]
    pub(super) fn sent(future: F, number: Arc<Number>, now: Instant, body: Option<Bytes>) -> Self {
        ThroughputFuture {
            state: State::Called { future },
            sent: Some(Sent {
                number,
                at: now,
                body,
            }),
        }
    }

    /// A message that waits first, as `admit` says.
    pub(super) fn waiting(start: Start<S, Req>, admit: Admit) -> Self {
        let deadline = start.now.checked_add(start.max_wait).unwrap_or(start.now);
        let mut waiting = Box::new(Waiting {
            inner: start.inner,
            request: Some(start.request),
            number: start.number,
            body: start.body,
            stage: Stage::Ready,
            sleep: Box::pin(tokio::time::sleep_until(deadline)),
            deadline,
            max_wait: start.max_wait,
        });
        if let Err(error) = waiting.enter(admit, start.now) {
            return Self::refused(error);
        }
        ThroughputFuture {
            state: State::Waiting { waiting },
            sent: None,
        }
    }

    fn refused(error: Throttled) -> Self {
        ThroughputFuture {
            state: State::Refused { error: Some(error) },
            sent: None,
        }
    }
}

impl<S, Req> Waiting<S, Req> {
    fn throttled(&self, reason: ThrottleReason, wait: Duration) -> Throttled {
        Throttled::new(self.number.id(), reason, wait, self.max_wait)
    }

    /// Waits as `admit` says: a turn, a recipient's wait or a lease (each
    /// bounded by the deadline), or fails at once.
    fn enter(&mut self, admit: Admit, now: Instant) -> Result<(), Throttled> {
        let (stage, until) = match admit {
            Admit::Turn(Turn::Ticket(ticket)) if ticket.due <= now => (Stage::Ready, now),
            Admit::Turn(Turn::Ticket(ticket)) => (Stage::Turn(ticket), ticket.due),
            Admit::Turn(Turn::Recipient { until }) => (Stage::Recipient, until),
            Admit::Turn(Turn::TooLong { reason, wait }) => return Err(self.throttled(reason, wait)),
            Admit::Lease(waiter) => (Stage::Lease(waiter), self.deadline),
        };
        self.stage = stage;
        self.sleep.as_mut().reset(until.min(self.deadline));
        Ok(())
    }

    /// Asks again, with what is left of the maximum wait.
    fn readmit(&mut self) -> Result<(), Throttled> {
        let now = Instant::now();
        let left = self.deadline.saturating_duration_since(now);
        let admit = self.number.admit(now, self.body.as_ref(), left);
        self.enter(admit, now)
    }

    /// Waits until the message may go: `Ok` then, `Err` when it would wait
    /// past its deadline.
    fn poll_turn(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Throttled>> {
        loop {
            match &mut self.stage {
                Stage::Ready => return Poll::Ready(Ok(())),
                Stage::Recipient => {
                    ready!(self.sleep.as_mut().poll(cx));
                    self.readmit()?;
                }
                Stage::Lease(waiter) => {
                    if waiter.leased.as_mut().poll(cx).is_pending() {
                        ready!(self.sleep.as_mut().poll(cx));
                        let waited = self.max_wait;
                        return Poll::Ready(Err(self.throttled(ThrottleReason::Pace, waited)));
                    }
                    self.readmit()?;
                }
                Stage::Turn(ticket) => {
                    ready!(self.sleep.as_mut().poll(cx));
                    let now = Instant::now();
                    let ticket = self.number.restate(*ticket, now);
                    if ticket.due <= now {
                        self.stage = Stage::Ready;
                    } else if ticket.due > self.deadline {
                        // The pace dropped meanwhile: this turn comes too late.
                        let wait = ticket.due.saturating_duration_since(now);
                        return Poll::Ready(Err(self.throttled(ThrottleReason::Pace, wait)));
                    } else {
                        self.stage = Stage::Turn(ticket);
                        self.sleep.as_mut().reset(ticket.due);
                    }
                }
            }
        }
    }
}

impl<S, Req, F, ResB, E> Future for ThroughputFuture<S, Req, F>
where
    S: Service<Req, Response = Response<ResB>, Future = F, Error = E>,
    F: Future<Output = Result<Response<ResB>, E>>,
    E: Into<BoxError>,
{
    type Output = Result<Response<ResB>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Called { future } => {
                    let res = ready!(future.poll(cx)).map_err(Into::into)?;
                    if let Some(sent) = this.sent.take() {
                        sent.number
                            .answered(verdict(&res), sent.at, sent.body.as_ref());
                    }
                    return Poll::Ready(Ok(res));
                }
                StateProj::Refused { error } => {
                    let error = error.take().expect("polled after completion");
                    return Poll::Ready(Err(Error::Throttled(error).into()));
                }
                StateProj::Waiting { waiting } => {
                    if let Err(error) = ready!(waiting.poll_turn(cx)) {
                        this.state.set(State::Refused { error: None });
                        return Poll::Ready(Err(Error::Throttled(error).into()));
                    }
                    // Its turn: only now does it take the inner service's capacity.
                    ready!(waiting.inner.poll_ready(cx)).map_err(Into::into)?;
                    let request = waiting.request.take().expect("sent once");
                    *this.sent = Some(Sent {
                        number: waiting.number.clone(),
                        at: Instant::now(),
                        body: waiting.body.take(),
                    });
                    let future = waiting.inner.call(request);
                    this.state.set(State::Called { future });
                }
            }
        }
    }
}
