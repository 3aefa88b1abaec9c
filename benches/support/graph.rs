//! An in-memory Graph for the benches: messages succeed with the current
//! token and get 190/463 with any other; the exchange issues the next token.
//! With `expire_after_use`, each token is good for one message, so every
//! request is refused once, renewed and replayed.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use tower::Service;
use tower_whatsapp_auth::ReplayBody;

#[derive(Clone)]
pub struct MemoryGraph {
    pub state: Arc<GraphState>,
}

pub struct GraphState {
    pub current: Mutex<String>,
    pub exchanges: AtomicU64,
    pub accepted: AtomicU64,
    pub exchange_delay: Duration,
    pub expire_after_use: bool,
    /// Pointers of the message bodies received, to prove they were not copied.
    pub body_ptrs: Mutex<Vec<usize>>,
    pub record_ptrs: bool,
}

impl MemoryGraph {
    pub fn new(
        token: &str,
        exchange_delay: Duration,
        expire_after_use: bool,
        record_ptrs: bool,
    ) -> MemoryGraph {
        MemoryGraph {
            state: Arc::new(GraphState {
                current: Mutex::new(token.to_owned()),
                exchanges: AtomicU64::new(0),
                accepted: AtomicU64::new(0),
                exchange_delay,
                expire_after_use,
                body_ptrs: Mutex::new(Vec::new()),
                record_ptrs,
            }),
        }
    }

    /// Makes every token issued so far invalid.
    pub fn expire(&self) {
        *self.state.current.lock().unwrap() = "none".into();
    }
}

fn json(status: u16, body: &'static str) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .unwrap()
}

const EXPIRED: &str = r#"{"error":{"message":"Session has expired","type":"OAuthException","code":190,"error_subcode":463,"fbtrace_id":"B"}}"#;
const SENT: &str = r#"{"messaging_product":"whatsapp","messages":[{"id":"wamid.BENCH"}]}"#;

impl Service<Request<ReplayBody>> for MemoryGraph {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<ReplayBody>) -> Self::Future {
        let state = self.state.clone();
        Box::pin(async move {
            if req.uri().path().ends_with("/oauth/access_token") {
                if !state.exchange_delay.is_zero() {
                    tokio::time::sleep(state.exchange_delay).await;
                }
                let n = state.exchanges.fetch_add(1, Ordering::Relaxed) + 1;
                let token = format!("EAABenchRenewed{n:08}");
                *state.current.lock().unwrap() = token.clone();
                let body = format!(
                    r#"{{"access_token":"{token}","token_type":"bearer","expires_in":5183944}}"#
                );
                return Ok(Response::new(Full::new(Bytes::from(body))));
            }
            if state.record_ptrs {
                if let Some(bytes) = req.body().as_bytes() {
                    state
                        .body_ptrs
                        .lock()
                        .unwrap()
                        .push(bytes.as_ptr() as usize);
                }
            }
            let bearer = req
                .headers()
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            let ok = {
                let mut current = state.current.lock().unwrap();
                let ok = bearer.strip_prefix("Bearer ") == Some(current.as_str());
                if ok && state.expire_after_use {
                    *current = "used".into();
                }
                ok
            };
            tokio::task::yield_now().await;
            let _ = req.into_body().collect().await;
            if ok {
                state.accepted.fetch_add(1, Ordering::Relaxed);
                Ok(json(200, SENT))
            } else {
                Ok(json(401, EXPIRED))
            }
        })
    }
}
