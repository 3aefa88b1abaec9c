//! What the fake starts with: its app, phone number and first token, how
//! tokens expire and are exchanged, what `/debug_token` and
//! `/me/permissions` report, and the answers it is told to throttle or
//! fail; by default, Graph's as captured.

use std::time::Duration;

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
    /// Headers put on those 130429 answers, one set per throttled message
    /// in turn (e.g. `Retry-After` values a hostile or broken proxy sends).
    pub throttle_headers: Vec<Vec<(&'static str, String)>>,
    /// Answers the first attempt of every n-th distinct message with a 502
    /// HTML page *after delivering it*, as a proxy failing on the way back
    /// would: sending it again would deliver it twice.
    pub bad_gateway_every: Option<u64>,
    /// Businesses, each with its own phone number and token (none by
    /// default: one phone number, `phone_number_id`).
    pub tenants: Vec<super::tenants::FakeTenant>,
    /// Per-number throughput limits (130429 beyond them); none by default.
    pub throughput: super::throughput::Rates,
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
            throttle_headers: Vec::new(),
            bad_gateway_every: None,
            tenants: Vec::new(),
            throughput: Default::default(),
        }
    }
}
