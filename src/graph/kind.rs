//! What a Graph error means: [`ErrorKind`], [`Misconfiguration`] and
//! [`hint`].
//!
//! Every rule here comes from Meta's error references and from real error
//! bodies captured in public issues, logs and SDK fixtures
//! (`tests/fixtures/graph_errors.json`, each with its source). Graph's
//! codes are decided first by what only a configuration mistake produces,
//! then by subcode (458–467 mean the same under any code, as Meta's PHP SDK
//! treats them), then by code, then by `is_transient`, and where code and
//! subcode leave the meaning open, by Graph's stable message phrases.

use std::fmt;

/// What a Graph error means for the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Subcode 463 (under any code), or 190 saying the session expired:
    /// the token expired.
    TokenExpired,
    /// Code 190 without a known subcode, subcode 467, codes 0, 102 and
    /// 2500: the token is malformed, logged out or unknown.
    TokenInvalid,
    /// Subcodes 458, 459, 460, 464, 466 (under any code), 190 with 492 or
    /// 493, or 190 saying the session was invalidated or the app is no
    /// longer authorized: a renewal cannot help.
    TokenRevoked,
    /// Codes 3, 10, 200–299, 131005: the token authenticates but lacks a
    /// permission.
    PermissionMissing,
    /// Codes 4, 17, 32, 341, 613, 80007, 130429, 131048, 131056, 131064,
    /// 131208, 133016: slow down (some for hours or days: see
    /// [`hint`](crate::graph::hint)).
    RateLimited,
    /// Codes 1, 2, 1150, 1200, 131000, 131016, 131057, 133004, or
    /// `is_transient`: a temporary Graph failure; retry later.
    Transient,
    /// The app secret or app id is wrong, or the app requires an
    /// `appsecret_proof` and no secret is configured: see
    /// [`GraphError::misconfiguration`](crate::graph::GraphError::misconfiguration).
    /// Nothing about the user's token, and nothing time will repair.
    Misconfigured,
    /// Anything else: invalid parameters, unknown ids, template errors,
    /// policy blocks, a locked account, a message a business-scoped user id
    /// cannot receive (131062).
    Other,
}

impl ErrorKind {
    /// Whether the token itself was refused (expired, invalid or revoked).
    pub fn is_token_rejected(self) -> bool {
        matches!(
            self,
            ErrorKind::TokenExpired | ErrorKind::TokenInvalid | ErrorKind::TokenRevoked
        )
    }

    /// Whether this is an authentication or authorization failure: a
    /// rejected token, a missing permission, or a misconfigured app. Rate
    /// limits and server errors are not.
    pub fn is_auth(self) -> bool {
        self.is_token_rejected()
            || matches!(
                self,
                ErrorKind::PermissionMissing | ErrorKind::Misconfigured
            )
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorKind::TokenExpired => "token expired",
            ErrorKind::TokenInvalid => "token invalid",
            ErrorKind::TokenRevoked => "token revoked",
            ErrorKind::PermissionMissing => "permission missing",
            ErrorKind::RateLimited => "rate limited",
            ErrorKind::Transient => "transient Graph error",
            ErrorKind::Misconfigured => "app misconfigured",
            ErrorKind::Other => "Graph error",
        })
    }
}

/// Which part of the app's configuration Graph refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Misconfiguration {
    /// The app secret is wrong: an `appsecret_proof` refused, an app token
    /// whose signature is refused, "Error validating client secret".
    AppSecret,
    /// The app id is wrong, or the token was issued by another app.
    AppId,
    /// The app requires `appsecret_proof` ("Require App Secret") and no app
    /// secret is configured.
    AppSecretMissing,
}

impl Misconfiguration {
    /// What is wrong, in a few words.
    pub fn describe(self) -> &'static str {
        match self {
            Misconfiguration::AppSecret => "the app secret is wrong",
            Misconfiguration::AppId => "the app id is wrong, or the token belongs to another app",
            Misconfiguration::AppSecretMissing => {
                "the app requires an app secret and none is configured"
            }
        }
    }

    /// What to change.
    pub fn fix(self) -> &'static str {
        match self {
            Misconfiguration::AppSecret => "the app secret is wrong: set the secret of the app that issued the token (App settings → Basic → App secret); the token itself is fine",
            Misconfiguration::AppId => "the app id is wrong, or the token was issued by another app: set the id and secret of the app that issued the token; the token itself is fine",
            Misconfiguration::AppSecretMissing => "the app requires appsecret_proof (\"Require App Secret\"): configure its app secret",
        }
    }
}

impl fmt::Display for Misconfiguration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Misconfiguration::AppSecret => "app secret",
            Misconfiguration::AppId => "app id",
            Misconfiguration::AppSecretMissing => "app secret missing",
        })
    }
}

impl ErrorKind {
    /// What a Graph `code` / `error_subcode` pair means, without the
    /// message. [`GraphError::kind`](crate::graph::GraphError::kind)
    /// refines it with the message phrases and `is_transient`.
    ///
    /// ```
    /// use tower_whatsapp_auth::graph::ErrorKind;
    /// assert_eq!(ErrorKind::from_codes(190, Some(460)), ErrorKind::TokenRevoked);
    /// assert_eq!(ErrorKind::from_codes(0, Some(458)), ErrorKind::TokenRevoked);
    /// assert_eq!(ErrorKind::from_codes(190, None), ErrorKind::TokenInvalid);
    /// assert_eq!(ErrorKind::from_codes(131005, None), ErrorKind::PermissionMissing);
    /// assert_eq!(ErrorKind::from_codes(341, None), ErrorKind::RateLimited);
    /// assert_eq!(ErrorKind::from_codes(100, None), ErrorKind::Other);
    /// ```
    pub fn from_codes(code: i64, subcode: Option<i64>) -> ErrorKind {
        by_codes(code, subcode)
    }
}

fn by_codes(code: i64, subcode: Option<i64>) -> ErrorKind {
    // The app itself is refused: whatever the subcode says of the user's
    // token, the app id is what to fix (and what `GraphError::kind` says).
    if code == 101 {
        return ErrorKind::Misconfigured;
    }
    match subcode {
        Some(463) => return ErrorKind::TokenExpired,
        Some(458 | 459 | 460 | 464 | 466) => return ErrorKind::TokenRevoked,
        Some(467) => return ErrorKind::TokenInvalid,
        _ => {}
    }
    match code {
        190 => match subcode {
            Some(492 | 493) => ErrorKind::TokenRevoked,
            _ => ErrorKind::TokenInvalid,
        },
        0 | 102 | 2500 => ErrorKind::TokenInvalid,
        3 | 10 | 200..=299 | 131005 => ErrorKind::PermissionMissing,
        // Meta's error codes page lists 131064 and 133016 under
        // throttling; 131208 is the Groups API's 429.
        4 | 17 | 32 | 341 | 613 | 80007 | 130429 | 131048 | 131056 | 131064 | 131208 | 133016 => {
            ErrorKind::RateLimited
        }
        // 131057: the account is in maintenance mode, as while its number
        // is upgraded to higher throughput ("can take up to 1 minute").
        1 | 2 | 1150 | 1200 | 131000 | 131016 | 131057 | 133004 => ErrorKind::Transient,
        _ => ErrorKind::Other,
    }
}

/// Case-insensitive phrase search (Graph's wording varies in case only).
fn says(message: &str, phrase: &str) -> bool {
    message.to_ascii_lowercase().contains(phrase)
}

/// The configuration mistake an error shows, wherever it comes from.
pub(crate) fn misconfiguration(code: i64, message: &str) -> Option<Misconfiguration> {
    match code {
        100 if says(message, "invalid appsecret_proof") => Some(Misconfiguration::AppSecret),
        100 if says(message, "require an appsecret_proof") => {
            Some(Misconfiguration::AppSecretMissing)
        }
        100 if says(message, "app_id in the input_token did not match") => {
            Some(Misconfiguration::AppId)
        }
        1 if says(message, "error validating client secret") => Some(Misconfiguration::AppSecret),
        101 => Some(Misconfiguration::AppId),
        _ if says(message, "error validating application") => Some(Misconfiguration::AppId),
        _ => None,
    }
}

/// The configuration mistake behind a top-level error on `/debug_token`,
/// where the credential Graph checks first is the app token
/// `app_id|app_secret`, not the user's token.
pub(crate) fn app_token_refusal(code: i64, message: &str) -> Option<Misconfiguration> {
    misconfiguration(code, message).or(match code {
        190 if says(message, "signature") => Some(Misconfiguration::AppSecret),
        190 | 100 if says(message, "app access token") => Some(Misconfiguration::AppId),
        _ => None,
    })
}

/// The classification of an error that is not a misconfiguration (that is
/// decided first, and kept on the error, since it depends on where the
/// error came from): [`ErrorKind::from_codes`], refined by the message where the code
/// leaves the meaning open, and by `is_transient`.
pub(crate) fn kind_of(
    code: i64,
    subcode: Option<i64>,
    message: &str,
    is_transient: bool,
) -> ErrorKind {
    let by_code = by_codes(code, subcode);
    let phrase = |p: &str| says(message, p);
    match (code, subcode, by_code) {
        (190, None, _) if phrase("session has expired") => ErrorKind::TokenExpired,
        (190, None, _)
            if phrase("session has been invalidated")
                || phrase("changed their password")
                || phrase("changed the password")
                || phrase("has not authorized application") =>
        {
            ErrorKind::TokenRevoked
        }
        (190, None, _) if phrase("must be an administrator") => ErrorKind::PermissionMissing,
        // Code 1 is "unknown, retry" except where the message says what
        // is wrong with the request.
        (1, _, _) if phrase("reduce the amount of data") || phrase("not specified") => {
            ErrorKind::Other
        }
        (2500, _, _) if phrase("unknown path components") => ErrorKind::Other,
        (_, _, ErrorKind::Other) if is_transient => ErrorKind::Transient,
        (_, _, kind) => kind,
    }
}

/// The remediation for a code / subcode pair, as Meta documents it.
///
/// ```
/// assert!(tower_whatsapp_auth::graph::hint(10, None).contains("whatsapp_business_messaging"));
/// ```
pub fn hint(code: i64, subcode: Option<i64>) -> &'static str {
    match (code, subcode) {
        (_, Some(463)) => "the access token expired; Graph does not exchange an expired token: renew it ahead of expiry (app id and secret configured, so the expiry is known from /debug_token) or use a non-expiring system-user token",
        (_, Some(467)) => "the access token is invalid (malformed or logged out): generate a new token",
        (_, Some(460)) => "the session was invalidated (password changed): the user must log in again and a new token must be generated; a refresh will fail",
        (_, Some(458)) => "the app is not installed or was removed by the user: re-authorise the app and generate a new token",
        (_, Some(459)) => "the user is checkpointed: they must log in to Facebook to clear it, then generate a new token",
        (_, Some(464)) => "the user is unconfirmed: they must confirm their account, then generate a new token",
        (_, Some(466)) => "the session was invalidated by an API call (logout or token revocation): generate a new token",
        (190, Some(492)) => "the session is invalid because the user lost their role on the app or business: restore the role, then generate a new token",
        (190, Some(493)) => "data access expired (no engagement for 90 days): the user must log in again to renew it",
        (190, _) => "invalid OAuth access token: check it for truncation or stray spaces and inspect it with /debug_token; generate a new one if needed",
        (0, _) => "Graph could not authenticate the app user: verify the token and regenerate it",
        (102, _) => "the API session is invalid: generate a new token",
        (2500, _) => "no usable access token reached Graph: check that the token is set and sent",
        (3, _) => "the app lacks the capability for this call: add the WhatsApp product to the app and pass App Review for the permission",
        (10 | 131005, _) => "permission denied (not granted, or removed): grant whatsapp_business_messaging (and whatsapp_business_management) to the token's user or system user",
        (200..=299, _) => "the token lacks the API permission named in the message: grant it (whatsapp_business_messaging, whatsapp_business_management or business_management) and regenerate the token",
        (613, _) => "rate limited (in the Calling API: the call-permission status limit): back off and retry later, or ask less often",
        (4 | 17 | 32 | 341 | 80007, _) => "rate limited: back off and retry later (see the X-App-Usage and X-Business-Use-Case-Usage headers)",
        (130429, _) => "Cloud API throughput limit reached: slow down and retry later",
        (131056, _) => "too many messages to the same recipient: wait before sending this pair another (Meta: retry after 4^n seconds)",
        (131048, _) => "spam rate limit: check the phone number's quality rating before sending more",
        (131064, _) => "messaging limit reached for template classification violations (templates and free-form messages alike): review your templates' categories; Meta lifts the limit after its enforcement period",
        (131208, _) => "too many group operations from this phone number in a short period: slow down and retry later",
        (133016, _) => "too many registration or deregistration attempts for this number (Meta allows 10 in 72 hours): the number is blocked from them for up to 72 hours; try again once it is unblocked",
        (131057, _) => "the business account is in maintenance mode (for example while its number is upgraded to higher throughput, which takes up to a minute): retry in a minute; a phone_number_quality_update webhook with event THROUGHPUT_UPGRADE follows an upgrade",
        (1 | 2 | 1150 | 1200 | 131000 | 131016 | 133004, _) => "temporary Graph failure: retry later",
        (131049, _) => "Meta limits the marketing templates this user receives: wait at least 24 hours before sending them another (resending sooner can block delivery to them for up to 24 hours)",
        (131063, _) => "marketing templates are disabled on Cloud API for this account (disable_marketing_messages_on_cloud_api is true): send the template through /marketing_messages, or set the flag to false",
        (138013, _) => "business-initiated calling is not available for this business phone number (it depends on where the number is registered): see Meta's Calling availability",
        (101, _) => Misconfiguration::AppId.fix(),
        (100, Some(33)) => "the object id does not exist, the token cannot see it, or the node does not accept this method: check the phone number id (or other id) and that the token's system user is assigned the WhatsApp account",
        (100, _) => "invalid parameter: fix the request (error_data.details says which parameter)",
        (132000..=132999, _) => "template error: check the template's name, language and parameters against WhatsApp Manager (error_data.details says which)",
        (368, _) => "temporarily blocked for policy violations: see Business Manager",
        (131031, _) => "the business account is locked: contact Meta support",
        (131062, _) => "this message cannot go to a business-scoped user id (one-tap, zero-tap and copy-code authentication templates need a phone number): send it to the user's phone number as `to`",
        _ => "see the message, error_data.details and fbtrace_id in Meta's error reference",
    }
}

#[cfg(test)]
mod tests;
