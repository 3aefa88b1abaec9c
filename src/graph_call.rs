//! The Graph calls the stack makes on its own behalf (token exchange,
//! validation). They go through the user's service, so they use its TLS,
//! proxy, pool and timeouts, and tests can observe them.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderValue, Request, Response, StatusCode};
use http_body::Body;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::BodyExt;
use serde::Deserialize;
use tower::util::BoxCloneService;
use tower::{BoxError, ServiceExt};
use tower_service::Service;

use std::time::Duration;

use crate::body::Gather;
use crate::cell::{with_query_pair, Credential};
use crate::config::{Config, ExchangeMethod};
use crate::permissions::Listing;
use crate::secret::form_pair;
use crate::source::{Expiry, Token};
use crate::{appsecret_proof, ErrorKind, GraphError, RefreshError, ReplayBody, Secret};

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

#[derive(Deserialize)]
struct ExchangeAnswer {
    access_token: serde_json::Value,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
}

/// Longest token accepted from an exchange; real ones are a few hundred bytes.
const MAX_TOKEN_LEN: usize = 4096;

/// Adds `appsecret_proof` for `token` when an app secret is configured.
fn add_proof<B>(config: &Config, token: &Secret, req: &mut Request<B>) {
    if let Some(secret) = &config.app_secret {
        let pair = format!("appsecret_proof={}", appsecret_proof(secret, token));
        if let Some(uri) = with_query_pair(req.uri(), &pair) {
            *req.uri_mut() = uri;
        }
    }
}

/// A request carrying `params` (which hold a secret) as a POST form body, or
/// in the query string where the deployment chose [`ExchangeMethod::GetQuery`].
fn secret_bearing_request(
    config: &Config,
    path: &str,
    params: String,
) -> Option<Request<ReplayBody>> {
    let url = config.url(path);
    match config.exchange_method {
        ExchangeMethod::PostForm => Request::post(url)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(ReplayBody::from(params)),
        ExchangeMethod::GetQuery => {
            Request::get(format!("{url}?{params}")).body(ReplayBody::empty())
        }
    }
    .ok()
}

fn call_error(e: CallError) -> RefreshError {
    match e {
        CallError::Transport(e) => RefreshError::Transport(Arc::from(e)),
        CallError::TooLarge => RefreshError::Unavailable {
            status: 0,
            reason: "answer larger than the error body limit".into(),
        },
    }
}

/// `grant_type=fb_exchange_token` for `token`.
pub(crate) async fn exchange(
    client: &GraphClient,
    config: &Config,
    token: &Secret,
) -> Result<Token, RefreshError> {
    let (app_id, app_secret) = config
        .app_credentials()
        .ok_or(RefreshError::NotConfigured)?;
    let mut params = String::new();
    form_pair(&mut params, "grant_type", "fb_exchange_token");
    form_pair(&mut params, "client_id", app_id);
    form_pair(&mut params, "client_secret", app_secret.expose());
    form_pair(&mut params, "fb_exchange_token", token.expose());
    let mut req =
        secret_bearing_request(config, "oauth/access_token", params).ok_or_else(|| {
            RefreshError::Unavailable {
                status: 0,
                reason: "the configured Graph base URL does not form a valid request URL".into(),
            }
        })?;
    add_proof(config, token, &mut req);
    let answer = client
        .send(req, config.error_body_limit)
        .await
        .map_err(call_error)?;
    let status = answer.status.as_u16();
    if let Some(err) = answer.error {
        return Err(match err.kind() {
            ErrorKind::RateLimited | ErrorKind::Transient => RefreshError::Unavailable {
                status,
                reason: err.to_string(),
            },
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
    let serde_json::Value::String(value) = parsed.access_token else {
        return Err(unavailable("access_token is not a string"));
    };
    if value.is_empty() || value.len() > MAX_TOKEN_LEN {
        return Err(unavailable("access_token is empty or implausibly long"));
    }
    if HeaderValue::from_str(&format!("Bearer {value}")).is_err() {
        return Err(unavailable(
            "access_token has characters not allowed in a header",
        ));
    }
    let expires_in = parsed.expires_in.and_then(|v| match v {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s.parse().ok(),
        _ => None,
    });
    let token = Token::new(value);
    Ok(match expires_in {
        Some(secs) => token.expires_in(Duration::from_secs(secs)),
        None => token,
    })
}

/// What `/debug_token` says about a token.
#[derive(Debug, Clone, Default)]
pub(crate) struct TokenInfo {
    pub is_valid: bool,
    pub expiry: Option<Expiry>,
    pub token_type: Option<String>,
    pub scopes: Vec<String>,
    pub granular_scopes: Vec<(String, Vec<String>)>,
    pub error: Option<GraphError>,
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn parse_token_info(status: StatusCode, body: &[u8]) -> Option<TokenInfo> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let data = value.get("data")?.as_object()?;
    let int = |v: Option<&serde_json::Value>| {
        v.and_then(|v| v.as_i64().or_else(|| v.as_str()?.parse().ok()))
    };
    let strings = |v: Option<&serde_json::Value>| -> Vec<String> {
        v.and_then(|v| v.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let expiry = int(data.get("expires_at")).map(|at| match at {
        0 => Expiry::Never,
        at => Expiry::In(Duration::from_secs(
            (at.max(0) as u64).saturating_sub(unix_now()),
        )),
    });
    let error = data.get("error").map(|e| {
        let code = int(e.get("code")).unwrap_or(190);
        let subcode = int(e.get("subcode")).or_else(|| int(e.get("error_subcode")));
        let message = e.get("message").and_then(|m| m.as_str()).unwrap_or("");
        GraphError::new(status, code, subcode, message)
    });
    let granular_scopes = data
        .get("granular_scopes")
        .and_then(|g| g.as_array())
        .map(|list| {
            list.iter()
                .filter_map(|g| {
                    Some((
                        g.get("scope")?.as_str()?.to_owned(),
                        strings(g.get("target_ids")),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    Some(TokenInfo {
        is_valid: data
            .get("is_valid")
            .and_then(|v| v.as_bool())
            .unwrap_or(false),
        expiry,
        token_type: data.get("type").and_then(|t| t.as_str()).map(str::to_owned),
        scopes: strings(data.get("scopes")),
        granular_scopes,
        error,
    })
}

/// `/debug_token` for `token`, authenticated with the app access token.
pub(crate) async fn debug_token(
    client: &GraphClient,
    config: &Config,
    token: &Secret,
) -> Result<TokenInfo, Validation> {
    let (app_id, app_secret) = config
        .app_credentials()
        .ok_or_else(|| Validation::Unknown("debug_token needs the app id and secret".into()))?;
    let mut params = String::new();
    form_pair(&mut params, "input_token", token.expose());
    let mut req = secret_bearing_request(config, "debug_token", params)
        .ok_or_else(|| Validation::Unknown("invalid Graph base URL".into()))?;
    let app_token = Secret::new(format!("{app_id}|{}", app_secret.expose()));
    let mut bearer =
        HeaderValue::from_str(&format!("Bearer {}", app_token.expose())).map_err(|_| {
            Validation::Unknown("the app id or secret cannot be sent in a header".into())
        })?;
    bearer.set_sensitive(true);
    req.headers_mut().insert(AUTHORIZATION, bearer);
    add_proof(config, &app_token, &mut req);
    let answer = match client.send(req, config.error_body_limit).await {
        Ok(answer) => answer,
        Err(CallError::Transport(e)) => {
            return Err(Validation::Unknown(format!("transport error: {e}")))
        }
        Err(CallError::TooLarge) => return Err(Validation::Unknown("answer too large".into())),
    };
    if let Some(err) = answer.error {
        return Err(Validation::Unknown(format!("debug_token refused: {err}")));
    }
    if !answer.status.is_success() {
        return Err(Validation::Unknown(format!(
            "debug_token answered HTTP {}",
            answer.status.as_u16()
        )));
    }
    parse_token_info(answer.status, &answer.body)
        .ok_or_else(|| Validation::Unknown("debug_token answer is not the expected JSON".into()))
}

impl TokenInfo {
    pub(crate) fn listing(&self) -> Listing {
        Listing {
            statuses: self
                .scopes
                .iter()
                .map(|s| (s.clone(), "granted".to_owned()))
                .collect(),
            granular: self.granular_scopes.clone(),
            from_debug_token: true,
        }
    }
}

/// `GET` of a Graph node with the token (and `appsecret_proof`).
pub(crate) async fn get_with_token(
    client: &GraphClient,
    config: &Config,
    current: &Credential,
    path: &str,
) -> Result<Answer, String> {
    let Ok(mut req) = Request::get(config.url(path)).body(ReplayBody::empty()) else {
        return Err("invalid Graph base URL".into());
    };
    current.apply(&mut req);
    match client.send(req, config.error_body_limit).await {
        Ok(answer) => Ok(answer),
        Err(CallError::Transport(e)) => Err(format!("transport error: {e}")),
        Err(CallError::TooLarge) => Err("answer too large".into()),
    }
}

/// `/me/permissions`: what the token's user granted, declined or let expire.
pub(crate) async fn me_permissions(
    client: &GraphClient,
    config: &Config,
    current: &Credential,
) -> Result<Listing, Validation> {
    let answer = get_with_token(client, config, current, "me/permissions")
        .await
        .map_err(Validation::Unknown)?;
    if let Some(err) = answer.error {
        return Err(Validation::Refused(err));
    }
    let value: serde_json::Value = serde_json::from_slice(&answer.body)
        .map_err(|_| Validation::Unknown("/me/permissions answer is not JSON".into()))?;
    let statuses = value["data"]
        .as_array()
        .ok_or_else(|| Validation::Unknown("/me/permissions answer has no data list".into()))?
        .iter()
        .filter_map(|entry| {
            Some((
                entry["permission"].as_str()?.to_owned(),
                entry["status"].as_str()?.to_owned(),
            ))
        })
        .collect();
    Ok(Listing {
        statuses,
        granular: Vec::new(),
        from_debug_token: false,
    })
}

/// What a validation call found.
pub(crate) enum Validation {
    /// The token authenticates; `/debug_token` also tells expiry and scopes.
    Valid(Option<TokenInfo>),
    /// Graph refused it with this error.
    Refused(GraphError),
    /// No verdict (transport failure, 5xx, rate limit, garbage): try later.
    Unknown(String),
}

/// `/debug_token` as a verdict: the answer when the token is valid, else
/// Graph's reason (a 190 when it gives none).
pub(crate) async fn inspect(
    client: &GraphClient,
    config: &Config,
    token: &Secret,
) -> Result<TokenInfo, Validation> {
    let info = debug_token(client, config, token).await?;
    if info.is_valid {
        return Ok(info);
    }
    Err(Validation::Refused(info.error.unwrap_or_else(|| {
        GraphError::new(
            StatusCode::OK,
            190,
            None,
            "debug_token: the token is not valid",
        )
    })))
}

/// Validates `token`: with `/debug_token` when the app credentials are set
/// (which also tells the expiry), else `GET /{version}/{phone-number-id}`
/// (or `/me`) with the token itself.
pub(crate) async fn validate(
    client: &GraphClient,
    config: &Config,
    current: &Credential,
) -> Validation {
    if config.use_debug_token && config.app_credentials().is_some() {
        return match inspect(client, config, current.token()).await {
            Ok(info) => Validation::Valid(Some(info)),
            Err(verdict) => verdict,
        };
    }
    let node = config.phone_number_id.as_deref().unwrap_or("me");
    match get_with_token(client, config, current, node).await {
        Err(why) => Validation::Unknown(why),
        // A Graph error object is an error whatever the status says.
        Ok(Answer {
            error: Some(err), ..
        }) => Validation::Refused(err),
        Ok(answer) if answer.status.is_success() => Validation::Valid(None),
        Ok(answer) => Validation::Unknown(format!(
            "HTTP {} without a Graph error",
            answer.status.as_u16()
        )),
    }
}
