//! The Graph calls the stack makes on its own behalf (token exchange,
//! validation). They go through the user's service, so they use its TLS,
//! proxy, pool and timeouts, and tests can observe them.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body::Body;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::BodyExt;
use serde::Deserialize;
use tower::util::BoxCloneService;
use tower::{BoxError, ServiceExt};
use tower_service::Service;

use crate::body::Gather;
use crate::cell::Credential;
use crate::config::{Config, ExchangeMethod};
use crate::secret::form_pair;
use crate::{GraphError, RefreshError, ReplayBody, Secret};

type Transport =
    BoxCloneService<Request<ReplayBody>, Response<UnsyncBoxBody<Bytes, BoxError>>, BoxError>;

/// A type-erased clone of the user's service, for the stack's own calls.
pub(crate) struct GraphClient {
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

impl GraphClient {
    pub(crate) fn new<S, ResB>(service: S) -> GraphClient
    where
        S: Service<Request<ReplayBody>, Response = Response<ResB>> + Clone + Send + 'static,
        S::Future: Send + 'static,
        S::Error: Into<BoxError>,
        ResB: Body<Data = Bytes> + Send + 'static,
        ResB::Error: Into<BoxError>,
    {
        let transport = service
            .map_response(|res: Response<ResB>| res.map(|b| b.map_err(Into::into).boxed_unsync()))
            .map_err(Into::into);
        GraphClient {
            transport: Mutex::new(BoxCloneService::new(transport)),
        }
    }

    pub(crate) async fn send(
        &self,
        req: Request<ReplayBody>,
        limit: usize,
    ) -> Result<Answer, CallError> {
        let transport = self
            .transport
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let res = transport.oneshot(req).await.map_err(CallError::Transport)?;
        let (parts, mut body) = res.into_parts();
        let mut gather = Gather::default();
        while let Some(frame) = body.frame().await {
            if gather.push(frame.map_err(CallError::Transport)?) > limit {
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

impl std::fmt::Debug for GraphClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GraphClient")
    }
}

/// A token obtained from Graph.
pub(crate) struct NewToken {
    pub token: Secret,
    pub expires_in: Option<u64>,
}

#[derive(Deserialize)]
struct ExchangeAnswer {
    access_token: serde_json::Value,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
}

/// Longest token accepted from an exchange; real ones are a few hundred bytes.
const MAX_TOKEN_LEN: usize = 4096;

/// `grant_type=fb_exchange_token` for the current token.
pub(crate) async fn exchange(
    client: &GraphClient,
    config: &Config,
    current: &Credential,
) -> Result<NewToken, RefreshError> {
    let (app_id, app_secret) = config
        .app_credentials()
        .ok_or(RefreshError::NotConfigured)?;
    let mut params = String::new();
    form_pair(&mut params, "grant_type", "fb_exchange_token");
    form_pair(&mut params, "client_id", app_id);
    form_pair(&mut params, "client_secret", app_secret.expose());
    form_pair(&mut params, "fb_exchange_token", current.token().expose());
    let url = config.url("oauth/access_token");
    let builder = Request::builder();
    let req = match config.exchange_method {
        ExchangeMethod::PostForm => builder
            .method(Method::POST)
            .uri(url)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(ReplayBody::from(params)),
        ExchangeMethod::GetQuery => builder
            .method(Method::GET)
            .uri(format!("{url}?{params}"))
            .body(ReplayBody::empty()),
    };
    let mut req = req.map_err(|_| RefreshError::Unavailable {
        status: 0,
        reason: "the configured Graph base URL does not form a valid request URL".into(),
    })?;
    current.apply_proof(&mut req);
    let answer = client
        .send(req, config.error_body_limit)
        .await
        .map_err(|e| match e {
            CallError::Transport(e) => RefreshError::Transport(Arc::from(e)),
            CallError::TooLarge => RefreshError::Unavailable {
                status: 0,
                reason: "exchange answer larger than the error body limit".into(),
            },
        })?;
    let status = answer.status.as_u16();
    if let Some(err) = answer.error {
        return Err(match err.kind() {
            crate::ErrorKind::RateLimited | crate::ErrorKind::Transient => {
                RefreshError::Unavailable {
                    status,
                    reason: err.to_string(),
                }
            }
            _ => RefreshError::Rejected(err),
        });
    }
    let unavailable = |reason: &str| RefreshError::Unavailable {
        status,
        reason: reason.to_owned(),
    };
    if !answer.status.is_success() {
        return Err(unavailable("the answer is not a Graph error object"));
    }
    let parsed: ExchangeAnswer = serde_json::from_slice(&answer.body)
        .map_err(|_| unavailable("the answer is not the expected JSON"))?;
    let token = match parsed.access_token {
        serde_json::Value::String(t) => t,
        _ => return Err(unavailable("access_token is not a string")),
    };
    if token.is_empty() || token.len() > MAX_TOKEN_LEN {
        return Err(unavailable("access_token is empty or implausibly long"));
    }
    if HeaderValue::from_str(&format!("Bearer {token}")).is_err() {
        return Err(unavailable(
            "access_token has characters not allowed in a header",
        ));
    }
    let expires_in = parsed.expires_in.and_then(|v| match v {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s.parse().ok(),
        _ => None,
    });
    Ok(NewToken {
        token: Secret::new(token),
        expires_in,
    })
}

/// What a validation call found.
pub(crate) enum Validation {
    /// The token authenticates.
    Valid,
    /// Graph refused it with this error.
    Refused(GraphError),
    /// No verdict (transport failure, 5xx, rate limit, garbage): try later.
    Unknown(String),
}

/// `GET /{version}/{phone-number-id}` (or `/me` without one) with the token.
pub(crate) async fn validate(
    client: &GraphClient,
    config: &Config,
    current: &Credential,
) -> Validation {
    let node = config.phone_number_id.as_deref().unwrap_or("me");
    let req = match Request::get(config.url(node)).body(ReplayBody::empty()) {
        Ok(req) => req,
        Err(_) => return Validation::Unknown("invalid Graph base URL".into()),
    };
    let mut req = req;
    current.apply(&mut req);
    debug_assert!(req.headers().contains_key(AUTHORIZATION));
    match client.send(req, config.error_body_limit).await {
        Err(CallError::Transport(e)) => Validation::Unknown(format!("transport error: {e}")),
        Err(CallError::TooLarge) => Validation::Unknown("answer too large".into()),
        Ok(answer) if answer.status.is_success() => Validation::Valid,
        Ok(Answer {
            error: Some(err), ..
        }) => Validation::Refused(err),
        Ok(answer) => Validation::Unknown(format!(
            "HTTP {} without a Graph error",
            answer.status.as_u16()
        )),
    }
}

#[allow(dead_code)]
fn _send_checks(c: &GraphClient, cfg: &Config, cred: &Credential) {
    fn is_send<T: Send>(_: T) {}
    is_send(c.send(Request::new(ReplayBody::empty()), 1));
    is_send(validate(c, cfg, cred));
    is_send(exchange(c, cfg, cred));
}
