//! What a Graph error means: [`ErrorKind`], [`classify`] and [`hint`].

use std::fmt;

/// What a Graph error means for the caller, decided from its code and subcode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Code 190, subcode 463: the token expired. Refreshable while the
    /// refresh can still authenticate (see `fb_exchange_token`).
    TokenExpired,
    /// Code 190 without a known subcode or with 467, code 0 or 102: the token
    /// is malformed, logged out or unknown. A new token is needed.
    TokenInvalid,
    /// Code 190 with subcodes 458, 459, 460, 464, 492, 493: the session was
    /// revoked; a refresh with the same token will fail.
    TokenRevoked,
    /// Codes 3, 10 and 200–299: the token authenticates but lacks a permission.
    PermissionMissing,
    /// Codes 4, 17, 32, 613, 80007, 130429, 131056, 131048: back off and retry.
    RateLimited,
    /// Codes 1 and 2: a temporary Graph failure; retry later.
    Transient,
    /// Anything else (invalid parameter, policy block, locked account, …).
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

    /// Whether this is an authentication or authorization failure: a rejected
    /// token or a missing permission. Rate limits and server errors are not.
    pub fn is_auth(self) -> bool {
        self.is_token_rejected() || self == ErrorKind::PermissionMissing
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
            ErrorKind::Other => "Graph error",
        })
    }
}

/// Classifies a Graph `code` / `error_subcode` pair.
///
/// ```
/// use tower_whatsapp_auth::{classify, ErrorKind};
/// assert_eq!(classify(190, Some(460)), ErrorKind::TokenRevoked);
/// assert_eq!(classify(190, None), ErrorKind::TokenInvalid);
/// assert_eq!(classify(200, None), ErrorKind::PermissionMissing);
/// assert_eq!(classify(100, None), ErrorKind::Other);
/// ```
pub fn classify(code: i64, subcode: Option<i64>) -> ErrorKind {
    match code {
        190 => match subcode {
            Some(463) => ErrorKind::TokenExpired,
            Some(458 | 459 | 460 | 464 | 492 | 493) => ErrorKind::TokenRevoked,
            _ => ErrorKind::TokenInvalid,
        },
        0 | 102 => ErrorKind::TokenInvalid,
        3 | 10 | 200..=299 => ErrorKind::PermissionMissing,
        4 | 17 | 32 | 613 | 80007 | 130429 | 131056 | 131048 => ErrorKind::RateLimited,
        1 | 2 => ErrorKind::Transient,
        _ => ErrorKind::Other,
    }
}

/// The remediation for a code / subcode pair, as documented by Meta.
///
/// ```
/// assert!(tower_whatsapp_auth::hint(10, None).contains("whatsapp_business_messaging"));
/// ```
pub fn hint(code: i64, subcode: Option<i64>) -> &'static str {
    match (code, subcode) {
        (190, Some(463)) => "the access token expired: configure the app id and secret so it is renewed with grant_type=fb_exchange_token, or use a non-expiring system-user token",
        (190, Some(467)) => "the access token is invalid (malformed or logged out): generate a new token",
        (190, Some(460)) => "the session was invalidated (password changed): the user must log in again and a new token must be generated; a refresh will fail",
        (190, Some(458)) => "the app is not installed or was removed by the user: re-authorise the app and generate a new token",
        (190, Some(459)) => "the user is checkpointed: they must log in to Facebook to clear it, then generate a new token",
        (190, Some(464)) => "the user is unconfirmed: they must confirm their account, then generate a new token",
        (190, Some(492)) => "the session is invalid because the user lost their role on the app or business: restore the role, then generate a new token",
        (190, Some(493)) => "data access expired (no engagement for 90 days): the user must log in again to renew it",
        (190, _) => "invalid OAuth access token: check it for truncation or stray spaces and inspect it with /debug_token; generate a new one if needed",
        (0, _) => "Graph could not authenticate the app user: verify the token and regenerate it",
        (102, _) => "the API session is invalid: generate a new token",
        (3, _) => "the app lacks the capability for this call: add the WhatsApp product to the app and pass App Review for the permission",
        (10, _) => "permission denied: grant whatsapp_business_messaging (and whatsapp_business_management) to the token's user or system user",
        (200..=299, _) => "the token lacks the API permission named in the message: grant it (whatsapp_business_messaging, whatsapp_business_management or business_management) and regenerate the token",
        (4 | 17 | 32 | 613 | 80007, _) => "rate limited: back off and retry later (see the X-App-Usage and X-Business-Use-Case-Usage headers)",
        (130429, _) => "Cloud API throughput limit reached: slow down and retry later",
        (131056, _) => "too many messages to the same recipient: slow down for this pair",
        (131048, _) => "spam rate limit: check the phone number's quality rating before sending more",
        (1 | 2, _) => "temporary Graph failure: retry later",
        (100, _) => "invalid parameter: fix the request; if the message names appsecret_proof, check the app secret configured for this token",
        (368, _) => "temporarily blocked for policy violations: see Business Manager",
        (131031, _) => "the business account is locked: contact Meta support",
        _ => "see the message and fbtrace_id in Meta's error reference",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_follows_the_table() {
        let cases = [
            (190, Some(463), ErrorKind::TokenExpired),
            (190, Some(467), ErrorKind::TokenInvalid),
            (190, None, ErrorKind::TokenInvalid),
            (190, Some(999), ErrorKind::TokenInvalid),
            (0, None, ErrorKind::TokenInvalid),
            (102, None, ErrorKind::TokenInvalid),
            (3, None, ErrorKind::PermissionMissing),
            (10, None, ErrorKind::PermissionMissing),
            (200, None, ErrorKind::PermissionMissing),
            (299, None, ErrorKind::PermissionMissing),
            (300, None, ErrorKind::Other),
            (1, None, ErrorKind::Transient),
            (2, None, ErrorKind::Transient),
            (100, None, ErrorKind::Other),
            (368, None, ErrorKind::Other),
            (131031, None, ErrorKind::Other),
        ];
        for (code, sub, kind) in cases {
            assert_eq!(classify(code, sub), kind, "{code}/{sub:?}");
        }
        for sub in [458, 459, 460, 464, 492, 493] {
            assert_eq!(classify(190, Some(sub)), ErrorKind::TokenRevoked);
        }
        for code in [4, 17, 32, 613, 80007, 130429, 131056, 131048] {
            assert_eq!(classify(code, None), ErrorKind::RateLimited);
            assert!(!classify(code, None).is_auth());
        }
    }
}
