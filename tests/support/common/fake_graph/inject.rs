//! Faults injected ahead of normal handling, and the scripted bodies that
//! carry them (reset mid-body, slow, huge).

use std::collections::VecDeque;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use http::Response;
use http_body_util::Full;

use super::*;

/// The Graph calls a fault can be injected into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `POST /{v}/{phone}/messages`
    Messages,
    /// `GET /{v}/{phone}` and `GET /{v}/me` (validation without app credentials)
    Node,
    /// `/{v}/oauth/access_token`
    Exchange,
    /// `/{v}/debug_token`
    DebugToken,
    /// `GET /{v}/me/permissions`
    Permissions,
}

impl Route {
    pub(super) fn of(parts: &http::request::Parts, phone: &str) -> Option<Route> {
        let segments: Vec<&str> = parts.uri.path().trim_matches('/').split('/').collect();
        match segments.as_slice() {
            [_, id, "messages"] if *id == phone => Some(Route::Messages),
            [_, "me", "permissions"] => Some(Route::Permissions),
            [_, "oauth", "access_token"] => Some(Route::Exchange),
            [_, "debug_token"] => Some(Route::DebugToken),
            [_, id] if *id == phone || *id == "me" => Some(Route::Node),
            _ => None,
        }
    }
}

/// A fault the fake answers with instead of its normal answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Injected {
    /// Never answer.
    Hang,
    /// Send the head and part of the body, then reset the connection.
    ResetMidBody,
    /// The normal answer, 16 bytes at a time with this delay between them.
    SlowBody(Duration),
    /// `{"error": nope` with a 400 (200 for the exchange).
    InvalidJson,
    /// The first half of a Graph error object.
    TruncatedJson,
    /// A 502 HTML page from a proxy.
    Html,
    /// An error answer of this many bytes.
    HugeBody(usize),
    /// HTTP 200 carrying a Graph error object.
    ErrorIn200 { code: i64, subcode: Option<i64> },
    /// Exchange answers with `"access_token":""`.
    EmptyToken,
    /// Exchange answers with a 5,000-byte `access_token`: within any error
    /// body limit, past what a real token is (a few hundred bytes).
    HugeToken,
    /// Exchange answers with `"access_token":12345`.
    NonStringToken,
}

/// A response body that can be slow, reset, or never end.
pub struct ScriptBody {
    chunks: VecDeque<Bytes>,
    delay: Duration,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
    end: End,
    exact: Option<u64>,
}

enum End {
    Finish,
    Reset,
}

impl From<Full<Bytes>> for ScriptBody {
    fn from(full: Full<Bytes>) -> ScriptBody {
        let bytes = full_bytes(full);
        ScriptBody {
            exact: Some(bytes.len() as u64),
            chunks: VecDeque::from([bytes]),
            delay: Duration::ZERO,
            sleep: None,
            end: End::Finish,
        }
    }
}

impl ScriptBody {
    pub(super) fn slow(bytes: Bytes, chunk: usize, delay: Duration) -> ScriptBody {
        let chunks = (0..bytes.len())
            .step_by(chunk)
            .map(|i| bytes.slice(i..(i + chunk).min(bytes.len())))
            .collect();
        ScriptBody {
            chunks,
            delay,
            sleep: None,
            end: End::Finish,
            exact: None,
        }
    }

    fn reset_after(prefix: &'static str) -> ScriptBody {
        ScriptBody {
            chunks: VecDeque::from([Bytes::from_static(prefix.as_bytes())]),
            delay: Duration::ZERO,
            sleep: None,
            end: End::Reset,
            exact: None,
        }
    }

    fn repeated(len: usize) -> ScriptBody {
        let block = Bytes::from(vec![b'x'; 64 * 1024]);
        let mut chunks = VecDeque::from([Bytes::from_static(b"{\"error\":{\"message\":\"")]);
        let mut left = len;
        while left > 0 {
            let n = left.min(block.len());
            chunks.push_back(block.slice(..n));
            left -= n;
        }
        ScriptBody {
            chunks,
            delay: Duration::ZERO,
            sleep: None,
            end: End::Finish,
            exact: None,
        }
    }
}

impl http_body::Body for ScriptBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, std::io::Error>>> {
        use std::future::Future;
        if let Some(sleep) = self.sleep.as_mut() {
            std::task::ready!(sleep.as_mut().poll(cx));
            self.sleep = None;
        }
        if let Some(chunk) = self.chunks.pop_front() {
            if !self.delay.is_zero() && !self.chunks.is_empty() {
                self.sleep = Some(Box::pin(tokio::time::sleep(self.delay)));
            }
            return std::task::Poll::Ready(Some(Ok(http_body::Frame::data(chunk))));
        }
        std::task::Poll::Ready(match self.end {
            End::Finish => None,
            End::Reset => Some(Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "injected reset",
            ))),
        })
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.exact
            .map_or_else(http_body::SizeHint::new, http_body::SizeHint::with_exact)
    }
}

pub(super) async fn injected_answer(injected: Injected, route: Route) -> Response<ScriptBody> {
    let status = if route == Route::Exchange { 200 } else { 400 };
    let with = |status: u16, body: ScriptBody| {
        Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(body)
            .unwrap()
    };
    let text =
        |status: u16, body: String| with(status, ScriptBody::from(Full::new(Bytes::from(body))));
    match injected {
        Injected::Hang => std::future::pending().await,
        Injected::ResetMidBody => with(
            status,
            ScriptBody::reset_after(r#"{"error":{"message":"Session has exp"#),
        ),
        Injected::SlowBody(_) => unreachable!("handled with the normal answer"),
        Injected::InvalidJson => text(status, r#"{"error": nope"#.into()),
        Injected::TruncatedJson => text(
            status,
            r#"{"error":{"message":"Error validating access token","type":"OAuthExcep"#.into(),
        ),
        Injected::Html => html(
            502,
            "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
        )
        .map(ScriptBody::from),
        Injected::HugeBody(len) => with(400, ScriptBody::repeated(len)),
        Injected::ErrorIn200 { code, subcode } => {
            let sub = subcode
                .map(|s| format!(",\"error_subcode\":{s}"))
                .unwrap_or_default();
            text(
                200,
                format!(
                    r#"{{"error":{{"message":"error under 200","type":"OAuthException","code":{code}{sub},"fbtrace_id":"X"}}}}"#
                ),
            )
        }
        Injected::EmptyToken => text(200, r#"{"access_token":"","token_type":"bearer"}"#.into()),
        Injected::HugeToken => text(
            200,
            format!(
                r#"{{"access_token":"EAA{}","token_type":"bearer"}}"#,
                "x".repeat(5000)
            ),
        ),
        Injected::NonStringToken => text(
            200,
            r#"{"access_token":12345,"token_type":"bearer"}"#.into(),
        ),
    }
}
