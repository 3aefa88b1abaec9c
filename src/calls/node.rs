//! Calls made with the user's token itself: a node (the phone number, or
//! `/me`) and `/me/permissions`; and validation, which picks between them
//! and `/debug_token`.

use http::Request;

use super::client::{Answer, GraphIo};
use super::{proof, Verdict};
use crate::body::ReplayBody;
use crate::permissions::Listing;
use crate::secret::Secret;

impl GraphIo {
    /// `GET` of a Graph node with `token` (and `appsecret_proof`).
    pub(crate) async fn get_with_token(
        &self,
        token: &Secret,
        path: &str,
    ) -> Result<Answer, String> {
        let Ok(mut req) = Request::get(self.config.url(path)).body(ReplayBody::empty()) else {
            return Err("invalid Graph base URL".into());
        };
        proof::authorize(&mut req, token, self.config.app_secret.as_ref());
        self.send(req).await.map_err(|e| e.to_string())
    }

    /// `/me/permissions`: what the token's user granted, declined or let expire.
    pub(crate) async fn me_permissions(&self, token: &Secret) -> Result<Listing, Verdict> {
        let answer = self
            .get_with_token(token, "me/permissions")
            .await
            .map_err(Verdict::Unknown)?;
        if let Some(err) = answer.error {
            return Err(Verdict::Refused(err));
        }
        let value: serde_json::Value = serde_json::from_slice(&answer.body)
            .map_err(|_| Verdict::Unknown("/me/permissions answer is not JSON".into()))?;
        let statuses = value["data"]
            .as_array()
            .ok_or_else(|| Verdict::Unknown("/me/permissions answer has no data list".into()))?
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

    /// Validates `token`: with `/debug_token` when the app credentials are
    /// set (which also tells the expiry), else `GET /{version}/{phone-number-id}`
    /// (or `/me`) with the token itself.
    pub(crate) async fn validate(&self, token: &Secret) -> Verdict {
        let config = &*self.config;
        if config.use_debug_token && config.app_credentials().is_some() {
            return match self.inspect(token).await {
                Ok(info) => Verdict::Valid(Some(info)),
                Err(verdict) => verdict,
            };
        }
        let node = config.phone_number_id.as_deref().unwrap_or("me");
        match self.get_with_token(token, node).await {
            Err(why) => Verdict::Unknown(why),
            // A Graph error object is an error whatever the status says.
            Ok(Answer {
                error: Some(err), ..
            }) => Verdict::Refused(err),
            Ok(answer) if answer.status.is_success() => Verdict::Valid(None),
            Ok(answer) => Verdict::Unknown(format!(
                "HTTP {} without a Graph error",
                answer.status.as_u16()
            )),
        }
    }
}
