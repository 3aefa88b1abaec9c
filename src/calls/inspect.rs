//! `/debug_token`: what Graph knows of a token (validity, type, expiry,
//! scopes), asked with the app access token `{app-id}|{app-secret}`.

use std::time::Duration;

use std::sync::atomic::Ordering;

use http::header::CONTENT_TYPE;
use http::Request;

use super::client::GraphIo;
use super::{proof, Verdict};
use crate::access_token::Expiry;
use crate::body::ReplayBody;
use crate::config::ExchangeMethod;
use crate::graph::{ErrorKind, GraphError};
use crate::permissions::Listing;
use crate::secret::form_pair;
use crate::secret::Secret;

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

pub(crate) fn parse_token_info(body: &[u8]) -> Option<TokenInfo> {
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
            (at.max(0) as u64).saturating_sub(crate::clock::unix_now()),
        )),
    });
    let error = data.get("error").map(GraphError::inspected_token);
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

impl GraphIo {
    /// The `/debug_token` request for `token`, authenticated with the app
    /// token in the `Authorization` header (never in the URL). By default a
    /// POST whose form body carries `input_token` and `method=GET`, so the
    /// token stays out of the URL; as Graph documents it (a GET with
    /// `input_token` in the query) once Graph has refused the POST, or when
    /// the deployment chose [`ExchangeMethod::GetQuery`].
    fn debug_token_request(
        &self,
        token: &Secret,
        by_get: bool,
    ) -> Result<Request<ReplayBody>, Verdict> {
        let config = &*self.config;
        let (app_id, app_secret) = config
            .app_credentials()
            .ok_or_else(|| Verdict::Unknown("debug_token needs the app id and secret".into()))?;
        let mut params = String::new();
        form_pair(&mut params, "input_token", token.expose());
        let url = config.url("debug_token");
        let built = if by_get || config.exchange_method == ExchangeMethod::GetQuery {
            Request::get(format!("{url}?{params}")).body(ReplayBody::empty())
        } else {
            form_pair(&mut params, "method", "GET");
            Request::post(url)
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(ReplayBody::from(params))
        };
        let mut req = built.map_err(|_| Verdict::Unknown("invalid Graph base URL".into()))?;
        let app_token = Secret::new(format!("{app_id}|{}", app_secret.expose()));
        if proof::bearer(&app_token).is_none() {
            return Err(Verdict::Unknown(
                "the app id or secret cannot be sent in a header".into(),
            ));
        }
        proof::authorize(&mut req, &app_token, config.app_secret.as_ref());
        Ok(req)
    }

    /// `/debug_token` for `token`: Graph's answer, whether or not the token
    /// is valid. A refusal of the app token is a configuration verdict;
    /// anything else without an answer is no verdict.
    pub(crate) async fn debug_token(&self, token: &Secret) -> Result<TokenInfo, Verdict> {
        let by_get = self.reads_by_get.load(Ordering::Relaxed);
        let mut answer = self
            .send(self.debug_token_request(token, by_get)?)
            .await
            .map_err(|e| Verdict::Unknown(e.to_string()))?;
        let refused_post = answer
            .error
            .as_ref()
            .is_some_and(GraphError::is_unsupported_post);
        if refused_post && !by_get && self.config.exchange_method == ExchangeMethod::PostForm {
            if !self.reads_by_get.swap(true, Ordering::Relaxed) {
                tracing::warn!("Graph refused /debug_token as a POST; using the documented GET from now on (the inspected token travels as input_token in the URL; the app token stays in the Authorization header)");
            }
            answer = self
                .send(self.debug_token_request(token, true)?)
                .await
                .map_err(|e| Verdict::Unknown(e.to_string()))?;
        }
        if let Some(err) = answer.error {
            let err = err.refusing_app_token();
            return Err(match err.kind() {
                ErrorKind::Misconfigured => Verdict::Refused(err),
                _ => Verdict::Unknown(format!("debug_token refused: {err}")),
            });
        }
        if !answer.status.is_success() {
            return Err(Verdict::Unknown(format!(
                "debug_token answered HTTP {}",
                answer.status.as_u16()
            )));
        }
        parse_token_info(&answer.body)
            .ok_or_else(|| Verdict::Unknown("debug_token answer is not the expected JSON".into()))
    }

    /// `/debug_token` as a verdict: the answer when the token is valid, else
    /// Graph's reason (a 190 when it gives none).
    pub(crate) async fn inspect(&self, token: &Secret) -> Result<TokenInfo, Verdict> {
        let info = self.debug_token(token).await?;
        if info.is_valid {
            return Ok(info);
        }
        Err(Verdict::Refused(info.error.unwrap_or_else(|| {
            GraphError::about_inspected_token(190, None, "debug_token: the token is not valid")
        })))
    }
}
