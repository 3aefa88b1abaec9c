//! [`Refusal`]: what Graph refusing the token in use means. Decided here
//! once, and read by the request path (does the caller get the response,
//! or an error?), the replay policy (is this refusal replayed?) and the
//! token task (renew, mark dead, block): so the three can never disagree,
//! and a request is never left waiting for a renewal nobody starts.

use crate::error::Error;
use crate::graph::{ErrorKind, GraphError, Misconfiguration};

/// What a refusal of the token in use means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The token expired and its source can renew it: the cell renews, and
    /// a replayable request is replayed with the new token.
    Renew,
    /// The token is unusable and nothing here can renew it (revoked,
    /// invalid, expired with nothing to renew it, or issued for another
    /// app): requests fail fast until the source has another.
    Dead,
    /// The app's configuration is wrong: requests fail fast until it is
    /// fixed. Never about the user's token.
    Block(Misconfiguration),
    /// The token authenticated, and lacks a permission for this call: the
    /// call fails, the token stays in use.
    Forbidden,
    /// Not about the token (rate limits, transient failures, invalid
    /// requests): the caller gets Graph's answer.
    NotAboutToken,
}

impl Refusal {
    /// What Graph refusing the token with `err` means, for a token whose
    /// source can (`can_renew`) or cannot produce another.
    pub(crate) fn of(err: &GraphError, can_renew: bool) -> Refusal {
        if let Some(what) = err.misconfiguration() {
            return Refusal::Block(what);
        }
        match err.kind() {
            ErrorKind::TokenExpired if can_renew => Refusal::Renew,
            // A Misconfigured kind without the setting is Graph's verdict on
            // an inspected token (issued for another app), not on ours.
            ErrorKind::TokenExpired
            | ErrorKind::TokenInvalid
            | ErrorKind::TokenRevoked
            | ErrorKind::Misconfigured => Refusal::Dead,
            ErrorKind::PermissionMissing => Refusal::Forbidden,
            ErrorKind::RateLimited | ErrorKind::Transient | ErrorKind::Other => {
                Refusal::NotAboutToken
            }
        }
    }
}

impl Error {
    /// The error a call Graph refused with `err` fails with: the setting
    /// when it is the app's configuration, else Graph's answer.
    pub(crate) fn refused(err: &GraphError) -> Error {
        match err.misconfiguration() {
            Some(what) => Error::Misconfigured {
                what,
                cause: err.clone(),
            },
            None => Error::Graph(err.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use http::StatusCode;

    use super::*;

    fn graph(code: i64, subcode: Option<i64>, message: &str) -> GraphError {
        GraphError::new(StatusCode::BAD_REQUEST, code, subcode, message)
    }

    #[test]
    fn refusals_renew_only_an_expired_token_with_a_renewable_source() {
        let wrong_secret = "Invalid appsecret_proof provided in the API argument";
        let cases = [
            (graph(190, Some(463), "t"), true, Refusal::Renew),
            (graph(190, Some(463), "t"), false, Refusal::Dead),
            (graph(190, Some(460), "t"), true, Refusal::Dead),
            (graph(190, None, "t"), true, Refusal::Dead),
            (graph(0, Some(458), "t"), true, Refusal::Dead),
            (graph(10, None, "t"), true, Refusal::Forbidden),
            (graph(131005, None, "t"), false, Refusal::Forbidden),
            (graph(130429, None, "t"), true, Refusal::NotAboutToken),
            (graph(2, None, "t"), true, Refusal::NotAboutToken),
            (graph(100, Some(33), "t"), true, Refusal::NotAboutToken),
            (
                graph(100, None, wrong_secret),
                true,
                Refusal::Block(Misconfiguration::AppSecret),
            ),
            (
                graph(101, None, "Error validating application."),
                false,
                Refusal::Block(Misconfiguration::AppId),
            ),
            (
                GraphError::about_inspected_token(101, None, "Error validating application."),
                true,
                Refusal::Dead,
            ),
        ];
        for (err, can_renew, expected) in cases {
            assert_eq!(
                Refusal::of(&err, can_renew),
                expected,
                "{err} ({can_renew})"
            );
        }
    }

    #[test]
    fn a_refused_call_fails_naming_the_setting_or_with_graph_s_answer() {
        let wrong_secret = graph(
            100,
            None,
            "Invalid appsecret_proof provided in the API argument",
        );
        assert!(matches!(
            Error::refused(&wrong_secret),
            Error::Misconfigured {
                what: Misconfiguration::AppSecret,
                ..
            }
        ));
        let revoked = graph(190, Some(460), "t");
        assert!(matches!(Error::refused(&revoked), Error::Graph(g) if g == revoked));
    }
}
