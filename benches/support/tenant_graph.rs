//! An in-memory Graph holding many businesses, for the tenant benches:
//! phone number `P`'s token is `EAAGtenant{P}` and covers the account
//! `waba{P}`; `/debug_token` says so (never expiring), after `delay`; a
//! message from `P` goes only with `P`'s token.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use tower::Service;
use tower_whatsapp_auth::ReplayBody;

/// The token of phone number `phone`.
pub fn token_of(phone: &str) -> String {
    format!("EAAGtenant{phone}")
}

#[derive(Clone, Default)]
pub struct TenantGraph {
    pub state: Arc<Counts>,
}

#[derive(Default)]
pub struct Counts {
    pub validations: AtomicU64,
    pub in_flight: AtomicU64,
    pub most_in_flight: AtomicU64,
    pub messages: AtomicU64,
    /// Messages that came with another business's token.
    pub wrong: AtomicU64,
    /// How long each `/debug_token` answer takes (milliseconds).
    pub delay_ms: AtomicU64,
}

impl TenantGraph {
    pub fn with_delay(delay: Duration) -> TenantGraph {
        let graph = TenantGraph::default();
        graph
            .state
            .delay_ms
            .store(delay.as_millis() as u64, Ordering::Relaxed);
        graph
    }

    pub fn get(&self, counter: fn(&Counts) -> &AtomicU64) -> u64 {
        counter(&self.state).load(Ordering::SeqCst)
    }
}

fn answer(status: u16, body: String) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .body(Full::new(Bytes::from(body)))
        .unwrap()
}

async fn debug_token(state: &Counts, form: &[u8]) -> Response<Full<Bytes>> {
    state.validations.fetch_add(1, Ordering::SeqCst);
    let now = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    state.most_in_flight.fetch_max(now, Ordering::SeqCst);
    let delay = state.delay_ms.load(Ordering::Relaxed);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    state.in_flight.fetch_sub(1, Ordering::SeqCst);
    let form = String::from_utf8_lossy(form);
    let token = form
        .split('&')
        .find_map(|kv| kv.strip_prefix("input_token="))
        .unwrap_or("");
    let phone = token.strip_prefix("EAAGtenant").unwrap_or("none");
    answer(
        200,
        format!(
            r#"{{"data":{{"app_id":"1234","type":"SYSTEM_USER","expires_at":0,"is_valid":true,"scopes":["whatsapp_business_messaging"],"granular_scopes":[{{"scope":"whatsapp_business_messaging","target_ids":["waba{phone}"]}}]}}}}"#
        ),
    )
}

impl Service<Request<ReplayBody>> for TenantGraph {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<ReplayBody>) -> Self::Future {
        let state = self.state.clone();
        Box::pin(async move {
            let (parts, body) = req.into_parts();
            let body = body
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            if parts.uri.path().ends_with("/debug_token") {
                return Ok(debug_token(&state, &body).await);
            }
            let phone = parts.uri.path().split('/').nth(2).unwrap_or("");
            let bearer = parts
                .headers
                .get("authorization")
                .and_then(|v| v.to_str().ok());
            if bearer.and_then(|b| b.strip_prefix("Bearer ")) != Some(token_of(phone).as_str()) {
                state.wrong.fetch_add(1, Ordering::SeqCst);
                return Ok(answer(400, r#"{"error":{"message":"(#100) wrong business","type":"OAuthException","code":100,"error_subcode":33}}"#.into()));
            }
            state.messages.fetch_add(1, Ordering::SeqCst);
            Ok(answer(
                200,
                r#"{"messaging_product":"whatsapp","messages":[{"id":"wamid.T"}]}"#.into(),
            ))
        })
    }
}
