//! An in-process fake of the Graph API endpoints the crate touches, served by
//! hyper on 127.0.0.1. The quickstart example and the tests run against it.
//!
//! It answers as Graph documents: `Authorization: Bearer` tokens, error 190
//! with subcodes, `appsecret_proof` checked when an app secret is set, the
//! `fb_exchange_token` exchange, and knobs for the faults tests need.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tower_whatsapp_auth::{appsecret_proof, Secret, WhatsAppAuthLayer};

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

/// What the fake starts with.
#[derive(Debug, Clone)]
pub struct FakeConfig {
    pub app_id: String,
    /// When set, every call must carry a valid `appsecret_proof`.
    pub app_secret: Option<String>,
    pub phone_number_id: String,
    pub token: String,
    /// The first token expires after this many accepted messages.
    pub token_uses: Option<u64>,
    /// HTTP status for 190 answers: 400 (classic Graph) or 401 (Cloud API,
    /// with `WWW-Authenticate`).
    pub status_190: u16,
    /// Real Graph refuses to exchange an expired token; the seed's flow
    /// (refresh after 190) only works where it does not. Default: accept.
    pub exchange_accepts_expired: bool,
    /// The first token expires this long after the fake starts.
    pub token_lifetime: Option<Duration>,
    /// Lifetime of exchanged tokens (Graph: about 60 days).
    pub exchanged_lifetime: Duration,
    /// Scopes `/debug_token` reports, with the target ids of each.
    pub scopes: Vec<(String, Vec<String>)>,
    /// `type` in `/debug_token` (USER, SYSTEM_USER, PAGE).
    pub token_type: String,
    /// Permissions `/me/permissions` lists as declined.
    pub declined: Vec<String>,
    /// Refuse POST on the read nodes (`/debug_token`, `/me/permissions`)
    /// with 100/33 "Unsupported post request", as Graph is reported to
    /// answer a POST to `/debug_token` (logly/mureo#740).
    pub refuse_post_reads: bool,
    /// Refuse POST on `/oauth/access_token` the same way.
    pub refuse_post_exchange: bool,
    /// Answers the first attempt of every n-th distinct message (told
    /// apart by `biz_opaque_callback_data`) with 130429 under HTTP 429: a
    /// throughput limit, the message not processed.
    pub throttle_every: Option<u64>,
    /// Answers the first attempt of every n-th distinct message with a 502
    /// HTML page *after delivering it*, as a proxy failing on the way back
    /// would: sending it again would deliver it twice.
    pub bad_gateway_every: Option<u64>,
}

impl Default for FakeConfig {
    fn default() -> Self {
        FakeConfig {
            app_id: "1234567890".into(),
            app_secret: None,
            phone_number_id: "106540352242922".into(),
            token: "EAAFakeInitialToken0000000000000000".into(),
            token_uses: None,
            status_190: 401,
            exchange_accepts_expired: true,
            token_lifetime: None,
            exchanged_lifetime: Duration::from_secs(5_183_944),
            scopes: [
                "whatsapp_business_messaging",
                "whatsapp_business_management",
                "business_management",
            ]
            .iter()
            .map(|s| (s.to_string(), vec!["102290129340398".to_string()]))
            .collect(),
            token_type: "USER".into(),
            declined: Vec::new(),
            refuse_post_reads: false,
            refuse_post_exchange: false,
            throttle_every: None,
            bad_gateway_every: None,
        }
    }
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
            },
        );
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

    /// Delivers an incoming text message to the webhook at `url`, as Meta
    /// does: signed with the app secret.
    pub async fn deliver_text(
        &self,
        url: &str,
        from: &str,
        id: &str,
        text: &str,
    ) -> (http::StatusCode, String) {
        let (secret, phone) = {
            let state = self.lock();
            (
                state.config.app_secret.clone(),
                state.config.phone_number_id.clone(),
            )
        };
        let body = super::webhooks::text_delivery(&phone, from, id, text);
        super::webhooks::deliver(url, secret.as_deref(), body).await
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

fn json(status: u16, body: String) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .unwrap()
}

fn graph_error(
    status: u16,
    code: i64,
    subcode: Option<i64>,
    message: &str,
) -> Response<Full<Bytes>> {
    let sub = subcode
        .map(|s| format!(",\"error_subcode\":{s}"))
        .unwrap_or_default();
    let body = format!(
        r#"{{"error":{{"message":"{message}","type":"OAuthException","code":{code}{sub},"fbtrace_id":"AFakeTrace{code}"}}}}"#
    );
    let mut res = json(status, body);
    if status == 401 {
        res.headers_mut().insert(
            "www-authenticate",
            format!("OAuth \"Facebook Platform\" \"invalid_token\" \"{message}\"")
                .parse()
                .unwrap(),
        );
    }
    res
}

/// A Graph error of another `type` than `OAuthException`, without subcode.
fn graph_error_typed(status: u16, code: i64, kind: &str, message: &str) -> Response<Full<Bytes>> {
    json(
        status,
        format!(
            r#"{{"error":{{"message":"{message}","type":"{kind}","code":{code},"fbtrace_id":"AFakeTrace{code}"}}}}"#
        ),
    )
}

fn html(status: u16, page: &str) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "text/html")
        .body(Full::new(Bytes::from(page.to_owned())))
        .unwrap()
}

fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
}

fn form_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

enum Auth {
    Ok(String),
    Refused(Response<Full<Bytes>>),
}

/// Checks the bearer token and `appsecret_proof` of a request.
fn authenticate(state: &mut State, req: &http::request::Parts, count_use: bool) -> Auth {
    let status = state.config.status_190;
    let query = req.uri.query().unwrap_or("");
    let token = req
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("OAuth "))
        })
        .map(str::to_owned);
    let Some(token) = token else {
        return Auth::Refused(graph_error(
            400,
            2500,
            None,
            "An active access token must be used to query information about the current user.",
        ));
    };
    if let Some(secret) = &state.config.app_secret {
        let expected = appsecret_proof(&Secret::new(secret.as_str()), &Secret::new(token.as_str()));
        // Both answers as captured (tests/fixtures/graph_errors.json): a
        // missing proof where the app requires one, and a wrong one.
        match query_param(query, "appsecret_proof") {
            None => {
                return Auth::Refused(graph_error_typed(
                    400,
                    100,
                    "GraphMethodException",
                    "API calls from the server require an appsecret_proof argument",
                ))
            }
            Some(proof) if proof != expected => {
                return Auth::Refused(graph_error(
                    400,
                    100,
                    None,
                    "Invalid appsecret_proof provided in the API argument",
                ))
            }
            Some(_) => {}
        }
    }
    let Some(tok) = state.tokens.get_mut(&token) else {
        state.counters.rejected_190 += 1;
        return Auth::Refused(graph_error(
            status,
            190,
            None,
            "Invalid OAuth access token - Cannot parse access token",
        ));
    };
    if let Some(sub) = tok.revoked {
        state.counters.rejected_190 += 1;
        return Auth::Refused(graph_error(status, 190, Some(sub), "Error validating access token: The session has been invalidated because the user changed their password."));
    }
    if tok.expired() {
        state.counters.rejected_190 += 1;
        return Auth::Refused(graph_error(status, 190, Some(463), "Error validating access token: Session has expired on Tuesday, 25-Nov-26 10:00:00 PST."));
    }
    if count_use {
        if let Some(left) = &mut tok.uses_left {
            *left -= 1;
        }
    }
    Auth::Ok(token)
}

async fn handle(
    shared: Arc<Mutex<State>>,
    req: Request<Incoming>,
) -> Result<Response<ScriptBody>, Infallible> {
    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return Ok(html(400, "bad body").map(ScriptBody::from)),
    };
    enum Plan {
        Normal(Next, Option<Duration>),
        Fault(Injected, Route),
    }
    let plan = {
        let mut state = shared.lock().unwrap();
        let route = Route::of(&parts, &state.config.phone_number_id);
        match route.and_then(|route| state.take_injected(route).map(|i| (route, i))) {
            Some((_, Injected::SlowBody(delay))) => {
                Plan::Normal(route_request(&mut state, &parts, body), Some(delay))
            }
            Some((route, injected)) => {
                state.count_injected(route, &body);
                Plan::Fault(injected, route)
            }
            None => Plan::Normal(route_request(&mut state, &parts, body), None),
        }
    };
    let (next, slow) = match plan {
        Plan::Fault(injected, route) => return Ok(injected_answer(injected, route).await),
        Plan::Normal(next, slow) => (next, slow),
    };
    let res = match next {
        Next::Now(res) => res,
        Next::Later(delay, res) => {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            match res {
                Some(res) => res,
                None => std::future::pending().await,
            }
        }
    };
    Ok(match slow {
        Some(delay) => res.map(|full| ScriptBody::slow(full_bytes(full), 16, delay)),
        None => res.map(ScriptBody::from),
    })
}

fn full_bytes(full: Full<Bytes>) -> Bytes {
    let mut full = std::pin::pin!(full);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match http_body::Body::poll_frame(full.as_mut(), &mut cx) {
        std::task::Poll::Ready(Some(Ok(frame))) => frame.into_data().unwrap_or_default(),
        _ => Bytes::new(),
    }
}

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
    fn of(parts: &http::request::Parts, phone: &str) -> Option<Route> {
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
    fn slow(bytes: Bytes, chunk: usize, delay: Duration) -> ScriptBody {
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

async fn injected_answer(injected: Injected, route: Route) -> Response<ScriptBody> {
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

use std::pin::Pin;

enum Next {
    Now(Response<Full<Bytes>>),
    /// After a delay; `None` never answers.
    Later(Duration, Option<Response<Full<Bytes>>>),
}

fn route_request(state: &mut State, parts: &http::request::Parts, body: Bytes) -> Next {
    let query = parts.uri.query().unwrap_or("");
    let segments: Vec<&str> = parts.uri.path().trim_matches('/').split('/').collect();
    let secret = state.config.app_secret.clone().unwrap_or_default();
    if query_param(query, "client_secret").is_some()
        || query_param(query, "access_token").is_some()
        || (!secret.is_empty() && parts.uri.to_string().contains(&secret))
    {
        state.counters.secrets_in_url += 1;
    }
    if query_param(query, "input_token").is_some() {
        state.counters.tokens_in_url += 1;
    }
    let unsupported_post = |what: &str| {
        graph_error(
            400,
            100,
            Some(33),
            &format!("Unsupported post request. Please read the Graph API documentation ({what})"),
        )
    };
    if parts.method == Method::POST {
        let read = matches!(
            segments.as_slice(),
            [_, "debug_token"] | [_, "me", "permissions"]
        );
        if read && state.config.refuse_post_reads {
            state.counters.refused_posts += 1;
            return Next::Now(unsupported_post("read node"));
        }
        if matches!(segments.as_slice(), [_, "oauth", "access_token"])
            && state.config.refuse_post_exchange
        {
            state.counters.exchanges += 1;
            state.counters.refused_posts += 1;
            return Next::Now(unsupported_post("oauth"));
        }
    }
    let phone = state.config.phone_number_id.clone();
    match (parts.method.clone(), segments.as_slice()) {
        (Method::POST, [_v, id, "messages"]) if *id == phone => {
            state.counters.message_requests += 1;
            state.bodies.push(body.clone());
            if let Some(fault) = state.faults.pop_front() {
                match fault {
                    Fault::GraphError {
                        status,
                        code,
                        subcode,
                    } => {
                        let message = format!("(#{code}) injected fault");
                        return Next::Now(graph_error(status, code, subcode, &message));
                    }
                    Fault::BadGatewayHtml => {
                        return Next::Now(html(502, "<html><head><title>502 Bad Gateway</title></head><body>Bad Gateway</body></html>"));
                    }
                    Fault::Revoke { subcode } => {
                        if let Some(token) = bearer(parts) {
                            if let Some(t) = state.tokens.get_mut(&token) {
                                t.revoked = Some(subcode);
                            }
                        }
                    }
                }
            }
            match authenticate(state, parts, true) {
                Auth::Refused(res) => Next::Now(res),
                Auth::Ok(_) => {
                    let to = serde_json::from_slice::<serde_json::Value>(&body)
                        .ok()
                        .and_then(|v| v.get("to").and_then(|t| t.as_str()).map(str::to_owned));
                    let Some(to) = to else {
                        return Next::Now(graph_error(
                            400,
                            100,
                            None,
                            "(#100) The parameter to is required.",
                        ));
                    };
                    let tracking = serde_json::from_slice::<serde_json::Value>(&body)
                        .ok()
                        .and_then(|v| v["biz_opaque_callback_data"].as_str().map(str::to_owned));
                    if let Some(tracking) = tracking {
                        if let Some(answer) = track(state, tracking) {
                            return Next::Now(answer);
                        }
                    }
                    state.counters.messages_accepted += 1;
                    let n = state.counters.messages_accepted;
                    Next::Now(json(
                        200,
                        format!(
                            r#"{{"messaging_product":"whatsapp","contacts":[{{"input":"{to}","wa_id":"{to}"}}],"messages":[{{"id":"wamid.FAKE{n:08}"}}]}}"#
                        ),
                    ))
                }
            }
        }
        (Method::GET, [_v, id]) if *id == phone || *id == "me" => {
            state.counters.validations += 1;
            match authenticate(state, parts, false) {
                Auth::Refused(res) => Next::Now(res),
                Auth::Ok(_) if *id == "me" => Next::Now(json(
                    200,
                    r#"{"id":"1000001","name":"Fake System User"}"#.into(),
                )),
                Auth::Ok(_) => Next::Now(json(
                    200,
                    format!(
                        r#"{{"verified_name":"Fake Business","display_phone_number":"+1 555-010-0000","id":"{phone}","quality_rating":"GREEN"}}"#
                    ),
                )),
            }
        }
        (Method::GET, [_v, "me", "permissions"]) => match authenticate(state, parts, false) {
            Auth::Refused(res) => Next::Now(res),
            Auth::Ok(_) => {
                let granted = state
                    .config
                    .scopes
                    .iter()
                    .map(|(s, _)| (s.as_str(), "granted"));
                let declined = state
                    .config
                    .declined
                    .iter()
                    .map(|s| (s.as_str(), "declined"));
                let entries: Vec<String> = granted
                    .chain(declined)
                    .map(|(p, st)| format!(r#"{{"permission":"{p}","status":"{st}"}}"#))
                    .collect();
                Next::Now(json(200, format!(r#"{{"data":[{}]}}"#, entries.join(","))))
            }
        },
        (_, [_v, "debug_token"]) => {
            state.counters.validations += 1;
            state.counters.debug_token_calls += 1;
            let app_token = format!(
                "{}|{}",
                state.config.app_id,
                state.config.app_secret.clone().unwrap_or_default()
            );
            let presented = bearer(parts).unwrap_or_default();
            if presented != app_token {
                // As captured: a wrong secret in the app token is a refused
                // signature (react-native-firebase#1621); an app id Graph
                // does not know cannot be looked up (bk-rs/facebook-apis-rs
                // debug_token__200__cannot_get_application_info.json).
                let (app_id, _) = presented.split_once('|').unwrap_or(("", ""));
                let message = if app_id == state.config.app_id {
                    "Invalid OAuth access token signature."
                } else {
                    "Error validating application. Cannot get application info due to a system error."
                };
                return Next::Now(graph_error(400, 190, None, message));
            }
            let form = if parts.method == Method::POST {
                String::from_utf8_lossy(&body).into_owned()
            } else {
                query.to_owned()
            };
            let input = query_param(&form, "input_token")
                .map(form_decode)
                .unwrap_or_default();
            Next::Now(json(200, debug_token(state, &input)))
        }
        (_, [_v, "oauth", "access_token"]) => {
            state.counters.exchanges += 1;
            let form = if parts.method == Method::POST {
                String::from_utf8_lossy(&body).into_owned()
            } else {
                query.to_owned()
            };
            state.exchange_params = form
                .split('&')
                .filter_map(|kv| kv.split('=').next())
                .map(str::to_owned)
                .collect();
            let param = |name: &str| query_param(&form, name).map(form_decode);
            let mode = state.exchange_mode;
            let delay = state.exchange_delay;
            let answer = match mode {
                ExchangeMode::Hang => None,
                ExchangeMode::ServerError => {
                    Some(html(500, "<html><body>Internal Server Error</body></html>"))
                }
                ExchangeMode::Refuse => Some(graph_error(
                    400,
                    190,
                    Some(460),
                    "Error validating access token: The session has been invalidated.",
                )),
                ExchangeMode::Issue => Some(exchange(
                    state,
                    param("grant_type"),
                    param("client_id"),
                    param("client_secret"),
                    param("fb_exchange_token"),
                )),
            };
            Next::Later(delay, answer)
        }
        // As Graph answers a path or method it does not serve (fixtures #18, #34).
        (method, _) => Next::Now(graph_error(
            400,
            100,
            Some(33),
            &format!(
                "Unsupported {} request. Object with ID does not exist, cannot be loaded due to missing permissions, or does not support this operation",
                method.as_str().to_ascii_lowercase()
            ),
        )),
    }
}

/// What the fake knows of one tracked message.
#[derive(Debug, Default)]
struct Tracked {
    number: u64,
    attempts: u64,
    delivered: bool,
}

/// Counts an attempt at a tracked message; answers instead of delivering
/// when a throttle or proxy fault is due for it. `None`: deliver it.
fn track(state: &mut State, tracking: String) -> Option<Response<Full<Bytes>>> {
    // A tracking string ending in `#n` (as `send` writes them) numbers the
    // message; others are numbered in order of arrival.
    let next = tracking
        .rsplit_once('#')
        .and_then(|(_, n)| n.parse().ok())
        .unwrap_or(state.tracked.len() as u64 + 1);
    let entry = state.tracked.entry(tracking).or_insert(Tracked {
        number: next,
        ..Tracked::default()
    });
    entry.attempts += 1;
    let (number, first) = (entry.number, entry.attempts == 1);
    let due = |every: Option<u64>| first && every.is_some_and(|n| number % n == 0);
    if due(state.config.throttle_every) {
        // As Meta documents 130429; sent here under 429, as some see it.
        return Some(graph_error(429, 130429, None, "(#130429) Rate limit hit"));
    }
    if entry.delivered {
        state.counters.duplicates += 1;
    }
    entry.delivered = true;
    if due(state.config.bad_gateway_every) {
        state.counters.messages_accepted += 1;
        return Some(html(
            502,
            "<html><head><title>502 Bad Gateway</title></head><body>Bad Gateway</body></html>",
        ));
    }
    None
}

fn unix_in(left: Duration) -> u64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    (now + left).as_secs()
}

fn debug_token(state: &State, input: &str) -> String {
    let invalid = |code: i64, subcode: Option<i64>, message: &str| {
        let sub = subcode.map_or("null".to_string(), |s| s.to_string());
        format!(
            r#"{{"data":{{"app_id":"{}","is_valid":false,"error":{{"code":{code},"message":"{message}","subcode":{sub}}},"scopes":[]}}}}"#,
            state.config.app_id
        )
    };
    let Some(token) = state.tokens.get(input) else {
        return invalid(190, None, "Invalid OAuth access token.");
    };
    if let Some(sub) = token.revoked {
        return invalid(
            190,
            Some(sub),
            "Error validating access token: The session has been invalidated.",
        );
    }
    if token.expired() {
        return invalid(
            190,
            Some(463),
            "Error validating access token: Session has expired.",
        );
    }
    let expires_at = token.expires_at.map_or(0, |at| {
        unix_in(at.saturating_duration_since(tokio::time::Instant::now()))
    });
    let scopes: Vec<String> = state
        .config
        .scopes
        .iter()
        .map(|(s, _)| format!("\"{s}\""))
        .collect();
    let granular: Vec<String> = state
        .config
        .scopes
        .iter()
        .map(|(s, targets)| {
            let ids: Vec<String> = targets.iter().map(|t| format!("\"{t}\"")).collect();
            format!(r#"{{"scope":"{s}","target_ids":[{}]}}"#, ids.join(","))
        })
        .collect();
    format!(
        r#"{{"data":{{"app_id":"{}","type":"{}","application":"Fake App","data_access_expires_at":{},"expires_at":{expires_at},"is_valid":true,"issued_at":{},"user_id":"1000001","scopes":[{}],"granular_scopes":[{}]}}}}"#,
        state.config.app_id,
        state.config.token_type,
        unix_in(Duration::from_secs(90 * 86400)),
        unix_in(Duration::ZERO),
        scopes.join(","),
        granular.join(",")
    )
}

fn bearer(parts: &http::request::Parts) -> Option<String> {
    parts
        .headers
        .get("authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::to_owned)
}

fn exchange(
    state: &mut State,
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    current: Option<String>,
) -> Response<Full<Bytes>> {
    if grant_type.as_deref() != Some("fb_exchange_token") {
        return graph_error(400, 100, None, "Invalid grant_type");
    }
    // As captured: diowa/icare#5 (a wrong client_id), php-graph-sdk#538
    // (a wrong client_secret).
    if client_id.as_deref() != Some(state.config.app_id.as_str()) {
        return graph_error(
            400,
            101,
            None,
            "Error validating application. Invalid application ID.",
        );
    }
    if client_secret.is_none() || client_secret != state.config.app_secret {
        return graph_error(400, 1, None, "Error validating client secret.");
    }
    let Some(current) = current else {
        return graph_error(400, 100, None, "Missing fb_exchange_token");
    };
    let status = state.config.status_190;
    match state.tokens.get(&current) {
        None => return graph_error(status, 190, None, "Invalid OAuth access token."),
        Some(t) if t.revoked.is_some() => {
            return graph_error(status, 190, t.revoked, "Session invalidated.")
        }
        Some(t) if t.expired() && !state.config.exchange_accepts_expired => {
            return graph_error(
                status,
                190,
                Some(463),
                "Error validating access token: Session has expired.",
            );
        }
        Some(_) => {}
    }
    state.issued += 1;
    let token = format!("EAAFakeRefreshed{:04}{}", state.issued, "x".repeat(24));
    let lifetime = state.config.exchanged_lifetime;
    let expires_at = Some(tokio::time::Instant::now() + lifetime);
    let uses_left = state.exchanged_rejected.then_some(0);
    state.tokens.insert(
        token.clone(),
        TokenState {
            expires_at,
            uses_left,
            ..TokenState::default()
        },
    );
    json(
        200,
        format!(
            r#"{{"access_token":"{token}","token_type":"bearer","expires_in":{}}}"#,
            lifetime.as_secs()
        ),
    )
}
