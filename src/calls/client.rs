//! [`GraphIo`]: the stack's own Graph calls go through a type-erased clone
//! of the user's service, so they use its TLS, proxy and pool.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::BodyExt;
use tower::util::BoxCloneService;
use tower::{BoxError, ServiceExt};

use crate::body::Gather;
use crate::body::ReplayBody;
use crate::bounds::HttpService;
use crate::config::Config;
use crate::graph::GraphError;

type Transport =
    BoxCloneService<Request<ReplayBody>, Response<UnsyncBoxBody<Bytes, BoxError>>, BoxError>;

/// The configuration and a transport: everything Graph I/O needs. It knows
/// nothing of the token state.
pub(crate) struct GraphIo {
    pub(crate) config: Arc<Config>,
    /// Set once Graph refuses `/debug_token` as a POST: read it by GET.
    pub(crate) reads_by_get: AtomicBool,
    // BoxCloneService is Send but not Sync; the lock is held only to clone it.
    transport: Mutex<Transport>,
}

/// Graph's answer to one of the stack's own calls, read up to a limit.
pub(crate) struct Answer {
    pub status: StatusCode,
    pub body: Bytes,
    pub error: Option<GraphError>,
}

/// Why a call made no usable answer.
pub(crate) enum CallError {
    Transport(BoxError),
    TooLarge,
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Transport(e) => write!(f, "transport error: {e}"),
            CallError::TooLarge => f.write_str("the answer is larger than the error body limit"),
        }
    }
}

impl GraphIo {
    pub(crate) fn new<S: HttpService>(config: Arc<Config>, service: S) -> GraphIo {
        let transport = service
            .map_response(|res: Response<S::ResponseBody>| {
                res.map(|b| b.map_err(Into::into).boxed_unsync())
            })
            .map_err(Into::into);
        GraphIo {
            config,
            reads_by_get: AtomicBool::new(false),
            transport: Mutex::new(BoxCloneService::new(transport)),
        }
    }

    /// Sends `req` through a fresh clone of the transport: it waits for its
    /// own capacity (`poll_ready`), never a caller's. Reads the answer up
    /// to the error body limit.
    pub(crate) async fn send(&self, req: Request<ReplayBody>) -> Result<Answer, CallError> {
        let transport = self
            .transport
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let res = transport.oneshot(req).await.map_err(CallError::Transport)?;
        let (parts, mut body) = res.into_parts();
        let mut gather = Gather::default();
        while let Some(frame) = body.frame().await {
            if gather.push(frame.map_err(CallError::Transport)?) > self.config.error_body_limit {
                return Err(CallError::TooLarge);
            }
        }
        let body = gather.to_bytes();
        let error = GraphError::parse(parts.status, &body);
        Ok(Answer {
            status: parts.status,
            body,
            error,
        })
    }
}

impl std::fmt::Debug for GraphIo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GraphIo")
    }
}
