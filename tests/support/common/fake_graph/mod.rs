//! An in-process fake of the Graph API endpoints the crate touches, served by
//! hyper on 127.0.0.1. The quickstart example and the tests run against it.
//!
//! It answers as Graph documents: `Authorization: Bearer` tokens, error 190
//! with subcodes, `appsecret_proof` checked when an app secret is set, the
//! `fb_exchange_token` exchange, and knobs for the faults tests need.
//!
//! It stands alone (nothing outside this folder), so an example can take
//! it by itself: `#[path = "../tests/support/common/fake_graph/mod.rs"]
//! mod fake_graph;`.
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tower_whatsapp_auth::WhatsAppAuthLayer;

/// How the fake answers `/oauth/access_token`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExchangeMode {
    /// Issue a new token.
    Issue,
    /// `500` with an HTML body.
    ServerError,
    /// Never answer.
    Hang,
    /// Refuse with 190 (as Graph does for an expired or revoked token).
    Refuse,
}

/// A canned answer for the next message request, ahead of normal handling.
#[derive(Debug, Clone)]
pub enum Fault {
    /// `status` with a Graph error `code` (e.g. 400 / 130429).
    GraphError {
        status: u16,
        code: i64,
        subcode: Option<i64>,
    },
    /// A `502` HTML page, as a proxy would send.
    BadGatewayHtml,
    /// Revoke the token used (190 with this subcode, now and from then on).
    Revoke { subcode: i64 },
}

/// Counters, read with [`FakeGraph::counters`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    pub exchanges: u64,
    pub validations: u64,
    pub message_requests: u64,
    pub messages_accepted: u64,
    pub rejected_190: u64,
    pub debug_token_calls: u64,
    /// Calls answered with an injected fault.
    pub injected: u64,
    /// Requests whose URL carried `client_secret`, `access_token`, the app
    /// secret or the app token.
    pub secrets_in_url: u64,
    /// Requests whose URL carried a user token as `input_token` (only the
    /// documented GET of `/debug_token` does).
    pub tokens_in_url: u64,
    /// POSTs refused as unsupported (`refuse_post_reads`, `refuse_post_exchange`).
    pub refused_posts: u64,
    /// Messages delivered again although already delivered (same
    /// `biz_opaque_callback_data`): what a retry must never cause.
    pub duplicates: u64,
}

#[derive(Debug, Clone, Default)]
struct TokenState {
    uses_left: Option<u64>,
    revoked: Option<i64>,
    expires_at: Option<tokio::time::Instant>,
    /// The business account whose token this is (many businesses only).
    owner: Option<String>,
}

impl TokenState {
    fn expired(&self) -> bool {
        self.uses_left == Some(0)
            || self
                .expires_at
                .is_some_and(|at| tokio::time::Instant::now() >= at)
    }
}

struct State {
    config: FakeConfig,
    tokens: HashMap<String, TokenState>,
    counters: Counters,
    bodies: Vec<Bytes>,
    faults: VecDeque<Fault>,
    exchange_mode: ExchangeMode,
    exchange_delay: Duration,
    issued: u64,
    injected: Vec<(Route, Injected, usize)>,
    exchanged_rejected: bool,
    /// The parameter names of the last exchange (never their values).
    exchange_params: Vec<String>,
    /// Per `biz_opaque_callback_data`: its number among distinct messages,
    /// attempts, and whether it was delivered.
    tracked: HashMap<String, Tracked>,
    /// Many businesses: who owns which phone number, and what they did.
    tenancy: tenants::Tenancy,
    media: media::MediaState,
}

impl State {
    fn take_injected(&mut self, route: Route) -> Option<Injected> {
        let slot = self
            .injected
            .iter_mut()
            .find(|(r, _, times)| *r == route && *times > 0)?;
        slot.2 -= 1;
        Some(slot.1.clone())
    }

    fn count_injected(&mut self, route: Route, body: &Bytes) {
        self.counters.injected += 1;
        match route {
            Route::Messages => {
                self.counters.message_requests += 1;
                self.bodies.push(body.clone());
            }
            Route::Exchange => self.counters.exchanges += 1,
            Route::Node | Route::DebugToken => self.counters.validations += 1,
            Route::Permissions => {}
        }
    }
}

/// A running fake; stops accepting when dropped.
pub struct FakeGraph {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Drop for FakeGraph {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl FakeGraph {
    /// Starts the fake on a free port of 127.0.0.1.
    pub async fn start(config: FakeConfig) -> FakeGraph {
        FakeGraph::start_on(config, SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Starts the fake on `addr` (e.g. where a test saw connections refused).
    pub async fn start_on(config: FakeConfig, addr: SocketAddr) -> FakeGraph {
        let listener = TcpListener::bind(addr).await.expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("local addr");
        let mut tokens = HashMap::new();
        tokens.insert(
            config.token.clone(),
            TokenState {
                uses_left: config.token_uses,
                revoked: None,
                expires_at: config
                    .token_lifetime
                    .map(|d| tokio::time::Instant::now() + d),
                owner: None,
            },
        );
        let tenancy = tenants::Tenancy::new(&config.tenants, &mut tokens);
        let state = Arc::new(Mutex::new(State {
            config,
            tokens,
            counters: Counters::default(),
            bodies: Vec::new(),
            faults: VecDeque::new(),
            exchange_mode: ExchangeMode::Issue,
            exchange_delay: Duration::ZERO,
            issued: 0,
            injected: Vec::new(),
            exchanged_rejected: false,
            exchange_params: Vec::new(),
            tracked: HashMap::new(),
            tenancy,
            media: media::MediaState::default(),
        }));
        let shared = state.clone();
        let accept = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let state = shared.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req| handle(state.clone(), req));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        FakeGraph {
            addr,
            state,
            accept,
        }
    }

    /// A layer pointed at this fake with `config`'s token and phone number,
    /// and its app credentials when it has an app secret.
    pub fn layer(&self, config: &FakeConfig) -> WhatsAppAuthLayer {
        let layer = WhatsAppAuthLayer::new(config.token.as_str())
            .phone_number_id(config.phone_number_id.as_str())
            .graph_base(self.base_url());
        match &config.app_secret {
            Some(secret) => layer.app_credentials(config.app_id.as_str(), secret.as_str()),
            None => layer,
        }
    }

    /// `http://127.0.0.1:PORT`, for `GRAPH_API_BASE`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The messages endpoint for the configured phone number.
    pub fn messages_url(&self, version: &str) -> String {
        let phone = self.lock().config.phone_number_id.clone();
        format!("{}/{version}/{phone}/messages", self.base_url())
    }

    pub fn counters(&self) -> Counters {
        self.lock().counters
    }

    /// The parameter names the last token exchange carried.
    pub fn exchange_params(&self) -> Vec<String> {
        self.lock().exchange_params.clone()
    }

    /// What the fake runs with now (its app secret as last set).
    pub fn config(&self) -> FakeConfig {
        self.lock().config.clone()
    }

    /// Every message request body received, in arrival order.
    pub fn bodies(&self) -> Vec<Bytes> {
        self.lock().bodies.clone()
    }

    /// Lifetime of tokens the exchange issues from now on (zero: born expired).
    pub fn set_exchanged_lifetime(&self, lifetime: Duration) {
        self.lock().config.exchanged_lifetime = lifetime;
    }

    /// Exchanged tokens from now on are refused at once (while the exchange
    /// still reports a normal lifetime), or accepted again with `false`.
    pub fn set_exchanged_rejected(&self, rejected: bool) {
        self.lock().exchanged_rejected = rejected;
    }

    /// Answers the next `times` calls on `route` with `injected`.
    pub fn inject(&self, route: Route, injected: Injected, times: usize) {
        self.lock().injected.push((route, injected, times));
    }

    /// Removes every injected fault.
    pub fn clear_injected(&self) {
        self.lock().injected.clear();
    }

    pub fn push_fault(&self, fault: Fault) {
        self.lock().faults.push_back(fault);
    }

    /// Turns the app's "Require App Secret" setting on (`Some`) or off, as
    /// an operator would in the app dashboard.
    pub fn set_app_secret(&self, secret: Option<&str>) {
        self.lock().config.app_secret = secret.map(str::to_owned);
    }

    pub fn set_exchange_mode(&self, mode: ExchangeMode) {
        self.lock().exchange_mode = mode;
    }

    /// Delays every exchange answer, so concurrent rejections pile up.
    pub fn set_exchange_delay(&self, delay: Duration) {
        self.lock().exchange_delay = delay;
    }

    /// Adds a valid token (e.g. one an operator rotated in).
    pub fn add_token(&self, token: &str) {
        self.lock()
            .tokens
            .insert(token.to_owned(), TokenState::default());
    }

    /// Adds a valid token of the business account `waba` (as a business
    /// that connected again through Embedded Signup brings).
    pub fn add_token_of(&self, token: &str, waba: &str) {
        self.lock().tokens.insert(
            token.to_owned(),
            TokenState {
                owner: Some(waba.to_owned()),
                ..TokenState::default()
            },
        );
    }

    /// Revokes `token`: Graph refuses it with 190 and `subcode` from now on
    /// (460: the user changed their password).
    pub fn revoke(&self, token: &str, subcode: i64) {
        if let Some(t) = self.lock().tokens.get_mut(token) {
            t.revoked = Some(subcode);
        }
    }

    /// Expires every token known so far.
    pub fn expire_all(&self) {
        for state in self.lock().tokens.values_mut() {
            state.uses_left = Some(0);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }
}

mod answers;
mod config;
mod inject;
pub mod media;
mod media_host;
mod multipart;
mod nodes;
mod recipient;
mod routes;
pub mod tenants;
pub mod throughput;

use answers::*;
pub use config::FakeConfig;
pub use inject::{Injected, Route, ScriptBody};
use nodes::*;
use routes::*;
