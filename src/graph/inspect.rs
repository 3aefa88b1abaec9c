//! `/debug_token`: what Graph knows of a token (validity, type, expiry,
//! scopes), asked with the app access token `{app-id}|{app-secret}`.

use std::time::Duration;

use http::{Request, StatusCode};

use super::client::GraphIo;
use super::exchange::secret_bearing_request;
use super::{proof, Verdict};
use crate::permissions::Listing;
use crate::secret::form_pair;
use crate::source::Expiry;
use crate::{GraphError, ReplayBody, Secret};

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

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

pub(crate) fn parse_token_info(status: StatusCode, body: &[u8]) -> Option<TokenInfo> {
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

impl GraphIo {
    /// `/debug_token` for `token`: Graph's answer, whether or not the token
    /// is valid. Fails only when Graph gave no usable answer.
    pub(crate) async fn debug_token(&self, token: &Secret) -> Result<TokenInfo, Verdict> {
        let config = &*self.config;
        let (app_id, app_secret) = config
            .app_credentials()
            .ok_or_else(|| Verdict::Unknown("debug_token needs the app id and secret".into()))?;
        let mut params = String::new();
        form_pair(&mut params, "input_token", token.expose());
        let mut req: Request<ReplayBody> = secret_bearing_request(config, "debug_token", params)
            .ok_or_else(|| Verdict::Unknown("invalid Graph base URL".into()))?;
        let app_token = Secret::new(format!("{app_id}|{}", app_secret.expose()));
        if proof::bearer(&app_token).is_none() {
            return Err(Verdict::Unknown(
                "the app id or secret cannot be sent in a header".into(),
            ));
        }
        proof::authorize(&mut req, &app_token, config.app_secret.as_ref());
        let answer = self
            .send(req)
            .await
            .map_err(|e| Verdict::Unknown(e.to_string()))?;
        if let Some(err) = answer.error {
            return Err(Verdict::Unknown(format!("debug_token refused: {err}")));
        }
        if !answer.status.is_success() {
            return Err(Verdict::Unknown(format!(
                "debug_token answered HTTP {}",
                answer.status.as_u16()
            )));
        }
        parse_token_info(answer.status, &answer.body)
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
            GraphError::new(
                StatusCode::OK,
                190,
                None,
                "debug_token: the token is not valid",
            )
        })))
    }
}
