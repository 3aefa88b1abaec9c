//! Embedded Signup: the `code` a business's signup returns, exchanged
//! server to server for the business's token, and what `/debug_token` says
//! of it.

use crate::access_token::{Expiry, Token};
use crate::calls::GraphIo;
use crate::error::{Error, RefreshError};
use crate::permissions::Permission;
use crate::secret::Secret;

use super::source::Tenant;

/// A business onboarded with Embedded Signup: its token, and what
/// `/debug_token` said of it (its expiry, type, and the WhatsApp Business
/// Accounts it covers, newest first as Graph lists them).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Onboarded {
    /// The business's token (a business integration system user token),
    /// with its expiry when Graph told it.
    pub token: Token,
    /// The WhatsApp Business Account ids the token covers
    /// (`granular_scopes` of `whatsapp_business_management`, else of
    /// `whatsapp_business_messaging`); empty when Graph did not say.
    pub waba_ids: Vec<String>,
    /// The token's `type` (`SYSTEM_USER`, or `USER` as Embedded Signup
    /// tokens are also reported).
    pub token_type: Option<String>,
    /// Why `/debug_token` could not be asked, when it could not: the token
    /// is still the business's, keep it.
    pub not_inspected: Option<String>,
}

impl Onboarded {
    /// The tenant to keep for one of the business's phone numbers: the
    /// token, and the newest WhatsApp Business Account.
    pub fn tenant(&self) -> Tenant {
        let tenant = Tenant::new(self.token.clone());
        match self.waba_ids.first() {
            Some(waba) => tenant.waba_id(waba.clone()),
            None => tenant,
        }
    }
}

/// Exchanges `code` and inspects the token Graph grants. Once the exchange
/// succeeded the token is returned whatever the inspection does: the code
/// cannot be exchanged twice.
pub(crate) async fn onboard(graph: &GraphIo, code: &str) -> Result<Onboarded, Error> {
    let code = Secret::new(code);
    // Bounded as a renewal is: a Graph that never answers must not hold
    // the signup's request (or the platform's handler) for ever.
    let limit = graph.config.refresh_timeout;
    let token = tokio::time::timeout(limit, graph.exchange_code(&code))
        .await
        .unwrap_or(Err(RefreshError::Timeout(limit)))
        .map_err(Error::Refresh)?;
    let limit = graph.config.validation_timeout;
    let inspected = tokio::time::timeout(limit, graph.debug_token(token.value())).await;
    let info = match inspected {
        Ok(Ok(info)) => info,
        Ok(Err(_)) | Err(_) => {
            return Ok(Onboarded {
                token,
                waba_ids: Vec::new(),
                token_type: None,
                not_inspected: Some("/debug_token gave no answer about the new token".into()),
            })
        }
    };
    let scoped = |permission: Permission| {
        info.granular_scopes
            .iter()
            .find(|(scope, _)| scope == permission.name())
            .map(|(_, ids)| ids.clone())
            .filter(|ids| !ids.is_empty())
    };
    let waba_ids = scoped(Permission::WhatsappBusinessManagement)
        .or_else(|| scoped(Permission::WhatsappBusinessMessaging))
        .unwrap_or_default();
    let token = match (info.expiry, token.expiry()) {
        (Some(Expiry::Never), _) => Token::new(token.value().clone()).never_expires(),
        (Some(Expiry::In(left)), _) => Token::new(token.value().clone()).expires_in(left),
        _ => token,
    };
    Ok(Onboarded {
        token,
        waba_ids,
        token_type: info.token_type,
        not_inspected: None,
    })
}
