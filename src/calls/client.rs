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
use crate::error::TransportError;
use crate::graph::GraphError;
use crate::telemetry::Metrics;

type Transport =
    BoxCloneService<Request<ReplayBody>, Response<UnsyncBoxBody<Bytes, BoxError>>, BoxError>;

/// The configuration and a transport: everything Graph I/O needs. It knows
/// nothing of the token state.
pub(crate) struct GraphIo {
    pub(crate) config: Arc<Config>,
    /// Set once Graph refuses `/debug_token` as a POST: read it by GET.
    pub(crate) reads_by_get: AtomicBool,
    /// The client, once a stack over it is built. BoxCloneService is Send
    /// but not Sync; the lock is held only to clone it.
    transport: Mutex<Option<Transport>>,
    /// Whether the client is a `ReqwestClient` (whose TLS `check` tests).
    #[cfg(feature = "reqwest")]
    reqwest: AtomicBool,
    /// The cell's instruments (none without the `opentelemetry` feature).
    metrics: Metrics,
}

/// The largest successful answer to one of the stack's own calls read
/// (`/debug_token` of a token covering thousands of accounts is a few
/// hundred KiB).
const OWN_ANSWER_LIMIT: usize = 4 * 1024 * 1024;

/// Graph's answer to one of the stack's own calls, read up to a limit.
pub(crate) struct Answer {
    pub status: StatusCode,
    pub body: Bytes,
    pub error: Option<GraphError>,
}

/// Why a call made no usable answer.
pub(crate) enum CallError {
    Transport(TransportError),
    TooLarge,
    /// No stack was built over a client yet.
    Unbound,
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Transport(e) => write!(f, "transport error: {e}"),
            CallError::TooLarge => f.write_str("the answer is larger than the error body limit"),
            CallError::Unbound => f.write_str(
                "no client yet: the token cell calls Graph through the client of the stack built from its layer",
            ),
        }
    }
}

impl GraphIo {
    /// Graph I/O with no client yet: [`bind`](Self::bind) gives it one.
    pub(crate) fn new(config: Arc<Config>) -> GraphIo {
        GraphIo {
            metrics: config.telemetry.metrics(),
            config,
            reads_by_get: AtomicBool::new(false),
            transport: Mutex::new(None),
            #[cfg(feature = "reqwest")]
            reqwest: AtomicBool::new(false),
        }
    }

    /// The instruments of the cell that owns this.
    pub(crate) fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    fn transport(&self) -> std::sync::MutexGuard<'_, Option<Transport>> {
        self.transport.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Calls Graph through `service` from now on, unless a client is
    /// already bound (the first one stays).
    pub(crate) fn bind<S: HttpService>(&self, service: S) {
        let mut transport = self.transport();
        if transport.is_some() {
            return;
        }
        #[cfg(feature = "reqwest")]
        {
            let any: &dyn std::any::Any = &service;
            let reqwest = any.is::<crate::reqwest_client::ReqwestClient>();
            self.reqwest
                .store(reqwest, std::sync::atomic::Ordering::Relaxed);
        }
        let service = service
            .map_response(|res: Response<S::ResponseBody>| {
                res.map(|b| b.map_err(Into::into).boxed_unsync())
            })
            .map_err(Into::into);
        *transport = Some(BoxCloneService::new(service));
    }

    /// Whether a client is bound.
    pub(crate) fn is_bound(&self) -> bool {
        self.transport().is_some()
    }

    /// What the bound client cannot do that the configuration needs, where
    /// that can be known: a `ReqwestClient` built without TLS, for an
    /// `https` base URL.
    pub(crate) fn check_client(&self) -> Result<(), crate::error::Error> {
        #[cfg(feature = "reqwest")]
        if self.reqwest.load(std::sync::atomic::Ordering::Relaxed)
            && self.config.graph_base.starts_with("https:")
            && crate::reqwest_client::lacks_tls()
        {
            return Err(crate::error::Error::Config(format!(
                "reqwest is built without TLS here, so ReqwestClient cannot reach {:?}: \
                 enable one of reqwest's TLS features (`rustls`, `native-tls`, or its \
                 default features)",
                self.config.graph_base
            )));
        }
        Ok(())
    }

    /// Sends `req` through a fresh clone of the transport: it waits for its
    /// own capacity (`poll_ready`), never a caller's. Reads the answer up
    /// to the error body limit. The call is timed, and a Graph error in
    /// its answer counted (with the `opentelemetry` feature).
    pub(crate) async fn send(&self, req: Request<ReplayBody>) -> Result<Answer, CallError> {
        let transport = self.transport().clone().ok_or(CallError::Unbound)?;
        let secrets = self.secrets_of(&req);
        let failed = |e: BoxError| {
            let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
            CallError::Transport(TransportError::new(e.as_ref(), &secrets))
        };
        let timer = self.metrics.call(req.method(), req.uri());
        let res = match transport.oneshot(req).await {
            Ok(res) => res,
            Err(e) => {
                timer.failed(None, "transport");
                return Err(failed(e));
            }
        };
        let (parts, mut body) = res.into_parts();
        // An error is read up to the error body limit; an answer up to a
        // larger one: `/debug_token` for a partner's token lists every
        // account it covers, well past 64 KiB.
        let limit = match parts.status.is_success() {
            true => OWN_ANSWER_LIMIT.max(self.config.error_body_limit),
            false => self.config.error_body_limit,
        };
        let mut gather = Gather::default();
        while let Some(frame) = body.frame().await {
            let frame = match frame {
                Ok(frame) => frame,
                Err(e) => {
                    timer.failed(Some(parts.status), "transport");
                    return Err(failed(e));
                }
            };
            if gather.push(frame) > limit {
                timer.failed(Some(parts.status), "too_large");
                return Err(CallError::TooLarge);
            }
        }
        timer.answered(parts.status);
        let body = gather.to_bytes();
        let error = GraphError::parse(parts.status, &body);
        if let Some(error) = &error {
            self.metrics.graph_error(error.kind());
        }
        Ok(Answer {
            status: parts.status,
            body,
            error,
        })
    }
}

impl GraphIo {
    /// What a failure to send `req` must not quote: its bearer token and
    /// the app secret (secret URL parameters are redacted by name).
    fn secrets_of<B>(&self, req: &Request<B>) -> Vec<String> {
        let bearer = req
            .headers()
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_owned);
        let app_secret = self
            .config
            .app_secret
            .as_ref()
            .map(|s| s.expose().to_owned());
        bearer.into_iter().chain(app_secret).collect()
    }
}

impl std::fmt::Debug for GraphIo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GraphIo")
    }
}
