//! `grant_type=fb_exchange_token`: a new long-lived token for the current one.

use std::time::Duration;

use http::header::CONTENT_TYPE;
use http::{HeaderValue, Request};
use serde::Deserialize;

use super::client::{CallError, GraphIo};
use super::proof;
use crate::access_token::Token;
use crate::body::ReplayBody;
use crate::config::{Config, ExchangeMethod};
use crate::error::RefreshError;
use crate::graph::ErrorKind;
use crate::secret::form_pair;
use crate::secret::Secret;

#[derive(Deserialize)]
struct ExchangeAnswer {
    access_token: serde_json::Value,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
}

/// Longest token accepted from an exchange; real ones are a few hundred bytes.
const MAX_TOKEN_LEN: usize = 4096;

/// A request carrying `params` (which hold a secret) as a POST form body, or
/// in the query string where the deployment chose [`ExchangeMethod::GetQuery`].
pub(crate) fn secret_bearing_request(
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
        CallError::Transport(e) => RefreshError::Transport(e),
        other @ (CallError::TooLarge | CallError::Unbound) => RefreshError::Unavailable {
            status: 0,
            reason: other.to_string(),
        },
    }
}

impl GraphIo {
    /// Exchanges `token` for a new one; a `system_user` token for another
    /// 60 days.
    pub(crate) async fn exchange(
        &self,
        token: &Secret,
        system_user: bool,
    ) -> Result<Token, RefreshError> {
        let config = &*self.config;
        let (app_id, app_secret) = config
            .app_credentials()
            .ok_or(RefreshError::NotConfigured)?;
        let mut params = String::new();
        form_pair(&mut params, "grant_type", "fb_exchange_token");
        form_pair(&mut params, "client_id", app_id);
        form_pair(&mut params, "client_secret", app_secret.expose());
        form_pair(&mut params, "fb_exchange_token", token.expose());
        if system_user {
            form_pair(&mut params, "set_token_expires_in_60_days", "true");
        }
        self.grant(params, Some(token)).await
    }

    /// Exchanges an Embedded Signup `code` for the business's token
    /// (`client_id`, `client_secret`, `code`, as Meta documents).
    #[cfg_attr(not(feature = "tenants"), allow(dead_code))]
    pub(crate) async fn exchange_code(&self, code: &Secret) -> Result<Token, RefreshError> {
        let config = &*self.config;
        let (app_id, app_secret) = config
            .app_credentials()
            .ok_or(RefreshError::NotConfigured)?;
        let mut params = String::new();
        form_pair(&mut params, "client_id", app_id);
        form_pair(&mut params, "client_secret", app_secret.expose());
        form_pair(&mut params, "code", code.expose());
        self.grant(params, None).await
    }

    /// Sends `params` (which hold the app secret) to `/oauth/access_token`
    /// and reads the token Graph grants. With `proving`, the call carries
    /// that token's `appsecret_proof`.
    async fn grant(&self, params: String, proving: Option<&Secret>) -> Result<Token, RefreshError> {
        let config = &*self.config;
        let mut req =
            secret_bearing_request(config, "oauth/access_token", params).ok_or_else(|| {
                RefreshError::Unavailable {
                    status: 0,
                    reason: "the configured Graph base URL does not form a valid request URL"
                        .into(),
                }
            })?;
        let pair = proving.and_then(|token| proof::proof_pair(config.app_secret.as_ref(), token));
        if let Some(pair) = pair {
            let path = proof::authorized_path(req.uri().path_and_query(), &pair);
            proof::set_path(req.uri_mut(), path);
        }
        let answer = self.send(req).await.map_err(call_error)?;
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
        if !answer.status.is_success() {
            return Err(RefreshError::Unavailable {
                status,
                reason: "the answer is not a Graph error object".into(),
            });
        }
        granted_token(&answer.body).map_err(|reason| RefreshError::Unavailable {
            status,
            reason: reason.to_owned(),
        })
    }
}

/// The token in a `/oauth/access_token` answer, with its `expires_in`.
fn granted_token(body: &[u8]) -> Result<Token, &'static str> {
    let parsed: ExchangeAnswer =
        serde_json::from_slice(body).map_err(|_| "the answer is not the expected JSON")?;
    let serde_json::Value::String(value) = parsed.access_token else {
        return Err("access_token is not a string");
    };
    if value.is_empty() || value.len() > MAX_TOKEN_LEN {
        return Err("access_token is empty or implausibly long");
    }
    if HeaderValue::from_str(&format!("Bearer {value}")).is_err() {
        return Err("access_token has characters not allowed in a header");
    }
    let expires_in = parsed.expires_in.and_then(|v| match v {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s.parse().ok(),
        _ => None,
    });
    let token = Token::new(value);
    Ok(match expires_in {
        // `0` tells no lifetime (as `expires_at: 0` on /debug_token means
        // none): the token's expiry is learned when it is validated.
        Some(0) | None => token,
        Some(secs) => token.expires_in(Duration::from_secs(secs)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access_token::Expiry;

    #[test]
    fn an_exchange_answer_s_lifetime_is_read_and_zero_tells_none() {
        // Meta's Access Token Guide: the exchange answers `access_token`,
        // `token_type` and `expires_in` (seconds, about 60 days).
        let cases: [(&str, Expiry); 4] = [
            (
                r#"{"access_token":"EAAG-a","token_type":"bearer","expires_in":5183944}"#,
                Expiry::In(Duration::from_secs(5183944)),
            ),
            (
                r#"{"access_token":"EAAG-a","token_type":"bearer","expires_in":"5183944"}"#,
                Expiry::In(Duration::from_secs(5183944)),
            ),
            (
                r#"{"access_token":"EAAG-a","token_type":"bearer","expires_in":0}"#,
                Expiry::Unknown,
            ),
            (r#"{"access_token":"EAAG-a"}"#, Expiry::Unknown),
        ];
        for (body, expiry) in cases {
            assert_eq!(
                granted_token(body.as_bytes()).unwrap().expiry,
                expiry,
                "{body}"
            );
        }
    }
}
