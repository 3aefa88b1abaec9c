//! [`ValidateIfNeeded`]: makes the token ready, stamps it on each request,
//! and turns Graph's refusals of it into outcomes.
//!
//! - **Ready token** (the hot path): the request gets `Authorization: Bearer
//!   <token>` (replacing any the caller set; marked sensitive) and, with an
//!   app secret, `appsecret_proof`, both computed once per token. No lock,
//!   no clock read, no allocation beyond the request's own.
//! - **No usable token yet** (first validation, a renewal after a refusal, a
//!   source with no token): the request gives back the capacity it reserved
//!   in `poll_ready`, waits for the cell's task to finish that work (it does
//!   not run it, so dropping the request cancels nothing), then polls the
//!   inner service ready again and sends.
//! - **Known unusable** (dead token, back-off, bad configuration): the
//!   request fails at once with an [`Error`], unsent.
//!
//! Responses carrying a [`GraphError`] (put there by
//! [`Classify`](crate::classify::Classify)) get a [`TokenGeneration`] extension, and a
//! refusal of the token is reported to the cell (an expired token is renewed
//! in the background, a revoked one marked dead). What the caller gets:
//!
//! | Graph's answer | outcome |
//! |---|---|
//! | token expired, source can renew, body replayable, not yet replayed | the response, for [`RefreshOn190`](crate::refresh::RefreshOn190) above to replay |
//! | token expired, body streamed past the buffer | [`Error::NotReplayed`] (the renewal runs for the next request) |
//! | any other refusal of the token, or a missing permission | [`Error::Graph`] |
//! | anything else (success, rate limits, 5xx, HTML pages) | the response, untouched |
//!
//! ```
//! use std::time::Duration;
//! use http::{Request, Response};
//! use tower::{service_fn, Layer, ServiceBuilder, ServiceExt};
//! use tower_whatsapp_auth::{classify::ClassifyLayer, ReplayBody, validate::ValidateIfNeededLayer, WhatsAppAuthLayer};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), tower::BoxError> {
//! // Answers every call (the validation included) with 200 and echoes the
//! // Authorization header.
//! let graph = service_fn(|req: Request<ReplayBody>| async move {
//!     let mut res = Response::new(http_body_util::Empty::<bytes::Bytes>::new());
//!     if let Some(auth) = req.headers().get("authorization") {
//!         res.headers_mut().insert("x-seen-auth", auth.clone());
//!     }
//!     Ok::<_, tower::BoxError>(res)
//! });
//! let cell = WhatsAppAuthLayer::new("EAAG-token")
//!     .validation_interval(Duration::from_secs(600))
//!     .token_cell(graph.clone());
//! let svc = ServiceBuilder::new()
//!     .layer(ValidateIfNeededLayer::new(cell.clone()))
//!     .layer(ClassifyLayer::new())
//!     .service(graph);
//! for _ in 0..3 {
//!     let res = svc.clone().oneshot(Request::new(ReplayBody::empty())).await?;
//!     assert_eq!(res.headers()["x-seen-auth"], "Bearer EAAG-token");
//!     assert!(res.headers()["x-seen-auth"].is_sensitive());
//! }
//! assert_eq!(cell.stats().validations, 1);
//! # Ok(()) }
//! ```

mod future;
mod layer;
mod service;

pub use future::ValidateFuture;
pub(crate) use future::{answered, SentWith};
pub use layer::ValidateIfNeededLayer;
pub use service::ValidateIfNeeded;
pub(crate) use service::{dispatch, send_with, stamp_head, Dispatch, Stamped};

use http::Extensions;

use crate::body::{NotReplayable, ReplayBody};
use crate::error::Error;
use crate::graph::GraphError;
use crate::refusal::Refusal;
use crate::token::TokenCell;

/// Request extension on a replay, so the layers below know not to expect
/// another one.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Replayed;

/// Response extension: the token generation a request carried, set on
/// responses that carry a [`GraphError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenGeneration(pub u64);

/// What is known, when a request is sent, about repairing a refusal of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Repair {
    /// The source can produce a new token.
    renewable: bool,
    /// A copy can be sent again (the body is complete), and was not yet.
    replayable: bool,
    /// The body streamed past this buffer limit.
    streamed: Option<usize>,
}

impl Repair {
    /// What can repair a refusal of a request with `ext` and `body`, sent
    /// with `cell`'s token. Most requests carry no extensions: for them
    /// the marks are not looked up (each look-up is a hash-map probe, and
    /// inlined on every request they made the hot path's code longer).
    #[inline]
    pub(crate) fn of(ext: &Extensions, body: &ReplayBody, cell: &TokenCell) -> Repair {
        let (replayed, over_limit) = match ext.is_empty() {
            true => (false, None),
            false => marks(ext),
        };
        Repair {
            renewable: cell.can_refresh(),
            replayable: body.is_replayable() && !replayed,
            streamed: (!body.is_replayable()).then(|| over_limit.unwrap_or(0)),
        }
    }
}

/// Whether `ext` marks a replay, and the buffer limit a body streamed past.
#[inline(never)]
fn marks(ext: &Extensions) -> (bool, Option<usize>) {
    let over_limit = ext.get::<NotReplayable>().map(|n| n.limit);
    (ext.get::<Replayed>().is_some(), over_limit)
}

/// Whether a response carrying `err` goes up as a response (`Ok`: for the
/// replay policy above, or for the caller) or becomes an error, as
/// [`Refusal::of`] decides for the token it refuses.
pub(crate) fn outcome(err: &GraphError, repair: Repair) -> Result<(), Error> {
    match Refusal::of(err, repair.renewable) {
        Refusal::Renew if repair.replayable => Ok(()),
        Refusal::Renew => match repair.streamed {
            Some(limit) => Err(Error::NotReplayed {
                limit,
                source: err.clone(),
            }),
            None => Err(Error::Graph(err.clone())),
        },
        Refusal::Dead | Refusal::Block(_) | Refusal::Forbidden => Err(Error::refused(err)),
        Refusal::NotAboutToken => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{Request, StatusCode};

    #[test]
    fn outcomes_follow_the_table() {
        let g = |code, sub| GraphError::new(StatusCode::UNAUTHORIZED, code, sub, "t");
        let repair = |renewable, replayable, streamed| Repair {
            renewable,
            replayable,
            streamed,
        };
        let expired = g(190, Some(463));
        let cases: Vec<(&str, GraphError, Repair, &str)> = vec![
            (
                "replayable",
                expired.clone(),
                repair(true, true, None),
                "ok",
            ),
            (
                "replayed already",
                expired.clone(),
                repair(true, false, None),
                "graph",
            ),
            (
                "streamed",
                expired.clone(),
                repair(true, false, Some(9)),
                "not replayed",
            ),
            (
                "not renewable",
                expired.clone(),
                repair(false, true, None),
                "graph",
            ),
            (
                "revoked",
                g(190, Some(460)),
                repair(true, true, None),
                "graph",
            ),
            ("invalid", g(190, None), repair(true, true, None), "graph"),
            ("permission", g(10, None), repair(true, true, None), "graph"),
            (
                "rate limit",
                g(130429, None),
                repair(true, true, None),
                "ok",
            ),
            (
                "streamed, not renewable",
                expired.clone(),
                repair(false, false, Some(9)),
                "graph",
            ),
            ("transient", g(2, None), repair(false, false, None), "ok"),
            ("other", g(100, None), repair(true, true, None), "ok"),
            (
                "wrong app secret",
                GraphError::new(
                    StatusCode::BAD_REQUEST,
                    100,
                    None,
                    "Invalid appsecret_proof provided in the API argument",
                ),
                repair(true, true, None),
                "misconfigured",
            ),
        ];
        for (name, err, repair, expected) in cases {
            let got = match outcome(&err, repair) {
                Ok(()) => "ok",
                Err(Error::Graph(_)) => "graph",
                Err(Error::NotReplayed { limit: 9, .. }) => "not replayed",
                Err(Error::Misconfigured { .. }) => "misconfigured",
                Err(other) => panic!("{name}: {other}"),
            };
            assert_eq!(got, expected, "{name}");
        }
    }

    /// What a request can do about a refusal, read from its body and
    /// extensions: replayable only if complete and not replayed yet; the
    /// limit it streamed past otherwise.
    #[tokio::test]
    async fn repair_is_read_from_the_request() {
        let client = tower::service_fn(|_: Request<ReplayBody>| async {
            Ok::<_, tower::BoxError>(http::Response::new(
                http_body_util::Empty::<bytes::Bytes>::new(),
            ))
        });
        let fixed = crate::layer::WhatsAppAuthLayer::new("EAAG-token").token_cell(client);
        let renewable = crate::layer::WhatsAppAuthLayer::new("EAAG-token")
            .app_credentials("1", "secret")
            .token_cell(client);
        let full = || Request::new(ReplayBody::from("hi"));
        let streamed = || {
            Request::new(ReplayBody::streaming(
                http_body_util::Empty::<bytes::Bytes>::new(),
            ))
        };
        let with = |mut req: Request<ReplayBody>, limit: Option<usize>, replayed: bool| {
            if let Some(limit) = limit {
                req.extensions_mut().insert(NotReplayable { limit });
            }
            if replayed {
                req.extensions_mut().insert(Replayed);
            }
            req
        };
        let cases = [
            (with(full(), None, false), &fixed, (false, true, None)),
            (with(full(), None, false), &renewable, (true, true, None)),
            (with(full(), None, true), &renewable, (true, false, None)),
            (
                with(streamed(), Some(4), false),
                &renewable,
                (true, false, Some(4)),
            ),
            (
                with(streamed(), None, false),
                &renewable,
                (true, false, Some(0)),
            ),
        ];
        for (i, (req, cell, (renewable, replayable, streamed))) in cases.into_iter().enumerate() {
            let want = Repair {
                renewable,
                replayable,
                streamed,
            };
            assert_eq!(
                Repair::of(req.extensions(), req.body(), cell),
                want,
                "case {i}"
            );
        }
    }
}
