//! The subscription handshake: Meta's `GET` with `hub.mode=subscribe`,
//! `hub.verify_token` and `hub.challenge`, answered 200 with the challenge
//! (verbatim: Meta calls it an int on one page, a string on another) when
//! the token matches, 403 otherwise ("respond with a 400-level HTTP status
//! code, or anything other than status 200": Meta's "Create a webhook
//! endpoint").

use std::convert::Infallible;
use std::future::{ready, Ready};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::Full;
use tower_service::Service;

use crate::secret::Secret;

/// Why a handshake was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HandshakeError {
    /// Not `hub.mode=subscribe`, or no `hub.challenge`.
    #[error("not a webhook subscription request")]
    NotASubscription,
    /// `hub.verify_token` is not the one configured.
    #[error("verify token does not match")]
    WrongToken,
}

/// The challenge to answer with, when `query` is a subscription request
/// carrying `verify_token`. For any framework.
///
/// ```
/// use tower_whatsapp_auth::{webhook::answer_handshake, Secret};
/// let token = Secret::new("my verify token");
/// let query = "hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=my+verify%20token";
/// assert_eq!(answer_handshake(Some(query), &token).unwrap(), "1158201444");
/// assert!(answer_handshake(Some("hub.mode=subscribe&hub.challenge=1&hub.verify_token=x"), &token).is_err());
/// ```
pub fn answer_handshake(
    query: Option<&str>,
    verify_token: &Secret,
) -> Result<String, HandshakeError> {
    let (mut mode, mut token, mut challenge) = (None, None, None);
    for pair in query.unwrap_or("").split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        match decode(name).as_str() {
            "hub.mode" => mode = Some(decode(value)),
            "hub.verify_token" => token = Some(decode(value)),
            "hub.challenge" => challenge = Some(decode(value)),
            _ => {}
        }
    }
    let (Some("subscribe"), Some(challenge)) = (mode.as_deref(), challenge) else {
        return Err(HandshakeError::NotASubscription);
    };
    let token = token.unwrap_or_default();
    // An empty verify token would answer anyone who sends none.
    let configured = !verify_token.expose().is_empty();
    if configured && constant_time_eq(token.as_bytes(), verify_token.expose().as_bytes()) {
        Ok(challenge)
    } else {
        Err(HandshakeError::WrongToken)
    }
}

/// Equality whose time depends on the longer input's length only.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        diff |= usize::from(a.get(i).copied().unwrap_or(0) ^ b.get(i).copied().unwrap_or(0));
    }
    diff == 0
}

/// `application/x-www-form-urlencoded` decoding (`+` is a space).
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                match (
                    bytes.get(i + 1).and_then(|b| hex(*b)),
                    bytes.get(i + 2).and_then(|b| hex(*b)),
                ) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The handshake as a ready service (for `GET` on the webhook path): 200
/// with the challenge, or 403 with a short plain-text reason.
///
/// ```
/// use http::Request;
/// use tower::ServiceExt;
/// use tower_whatsapp_auth::webhook::Handshake;
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let req = Request::get("/webhook?hub.mode=subscribe&hub.challenge=42&hub.verify_token=t")
///     .body(())
///     .unwrap();
/// let res = Handshake::new("t").oneshot(req).await.unwrap();
/// assert_eq!(res.status(), 200);
/// # }
/// ```
#[derive(Clone)]
pub struct Handshake {
    verify_token: Secret,
}

impl Handshake {
    /// Answers subscription requests carrying `verify_token`. An empty
    /// token answers none (it would answer anyone who sends no token).
    pub fn new(verify_token: impl Into<Secret>) -> Handshake {
        Handshake {
            verify_token: verify_token.into(),
        }
    }
}

impl std::fmt::Debug for Handshake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Handshake")
    }
}

impl<B> Service<Request<B>> for Handshake {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Ready<Result<Response<Full<Bytes>>, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let (status, body) = match answer_handshake(req.uri().query(), &self.verify_token) {
            Ok(challenge) => (StatusCode::OK, challenge),
            Err(error) => {
                tracing::warn!(%error, "webhook subscription refused");
                (StatusCode::FORBIDDEN, error.to_string())
            }
        };
        let mut res = Response::new(Full::new(Bytes::from(body)));
        *res.status_mut() = status;
        res.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        ready(Ok(res))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An empty verify token answers no one: not a request without a
    /// token, not one with an empty token.
    #[test]
    fn an_empty_verify_token_answers_no_one() {
        let empty = Secret::new("");
        for query in [
            "hub.mode=subscribe&hub.challenge=1",
            "hub.mode=subscribe&hub.challenge=1&hub.verify_token=",
        ] {
            assert_eq!(
                answer_handshake(Some(query), &empty),
                Err(HandshakeError::WrongToken),
                "{query}"
            );
        }
    }

    #[test]
    fn only_a_subscription_with_the_right_token_is_answered() {
        let token = Secret::new("s3cret token");
        let ok = "hub.mode=subscribe&hub.challenge=abc%2B1&hub.verify_token=s3cret+token";
        assert_eq!(answer_handshake(Some(ok), &token).unwrap(), "abc+1");
        let cases = [
            (
                Some("hub.mode=subscribe&hub.challenge=1&hub.verify_token=s3cret"),
                HandshakeError::WrongToken,
            ),
            (
                Some("hub.mode=subscribe&hub.challenge=1&hub.verify_token=s3cret+token+"),
                HandshakeError::WrongToken,
            ),
            (
                Some("hub.mode=subscribe&hub.challenge=1"),
                HandshakeError::WrongToken,
            ),
            (
                Some("hub.mode=unsubscribe&hub.challenge=1&hub.verify_token=s3cret+token"),
                HandshakeError::NotASubscription,
            ),
            (
                Some("hub.mode=subscribe&hub.verify_token=s3cret+token"),
                HandshakeError::NotASubscription,
            ),
            (None, HandshakeError::NotASubscription),
            (Some("%%%"), HandshakeError::NotASubscription),
        ];
        for (query, expected) in cases {
            assert_eq!(answer_handshake(query, &token), Err(expected), "{query:?}");
        }
        assert!(constant_time_eq(b"", b""));
        assert!(!constant_time_eq(b"a", b""));
    }
}
