//! Many businesses in the fake, as Graph keeps them apart: each phone
//! number belongs to one WhatsApp Business Account, and only a token of
//! that account's business may act on it (another business's token is
//! refused as Graph refuses an id the token cannot see: 100/33).

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use http::Response;
use http_body_util::Full;

use super::answers::graph_error;
use super::nodes::app_refused;
use super::{FakeGraph, State, TokenState};

/// One business's phone number in the fake, and the token it onboarded
/// with.
#[derive(Debug, Clone)]
pub struct FakeTenant {
    pub phone: String,
    pub waba: String,
    pub token: String,
    /// The token expires this long after the fake starts (never: `None`).
    pub lifetime: Option<Duration>,
}

impl FakeTenant {
    /// Phone number `phone` of the business `waba`, whose token is `token`.
    pub fn new(phone: &str, waba: &str, token: &str) -> FakeTenant {
        FakeTenant {
            phone: phone.into(),
            waba: waba.into(),
            token: token.into(),
            lifetime: None,
        }
    }

    /// The token expires `lifetime` after the fake starts.
    pub fn expiring_in(mut self, lifetime: Duration) -> FakeTenant {
        self.lifetime = Some(lifetime);
        self
    }
}

/// What the fake knows and counts of its businesses.
#[derive(Debug, Default)]
pub(super) struct Tenancy {
    /// Phone number id → the business account that owns it.
    pub(super) owners: HashMap<String, String>,
    /// Messages accepted per phone number id.
    pub(super) accepted: HashMap<String, u64>,
    /// Calls on a phone number with another business's token.
    pub(super) wrong_business: u64,
    /// Exchanges per business account.
    pub(super) exchanges: HashMap<String, u64>,
    pub(super) validations_in_flight: u64,
    pub(super) max_validations_in_flight: u64,
    /// How long each `/debug_token` answer takes.
    pub(super) validation_delay: Duration,
    /// Embedded Signup codes not yet exchanged → the business account each
    /// onboards.
    pub(super) signup_codes: HashMap<String, String>,
}

impl Tenancy {
    /// The businesses of `tenants`, and their tokens in `tokens`.
    pub(super) fn new(tenants: &[FakeTenant], tokens: &mut HashMap<String, TokenState>) -> Tenancy {
        let mut owners = HashMap::new();
        for tenant in tenants {
            owners.insert(tenant.phone.clone(), tenant.waba.clone());
            tokens.insert(
                tenant.token.clone(),
                TokenState {
                    owner: Some(tenant.waba.clone()),
                    expires_at: tenant.lifetime.map(|d| tokio::time::Instant::now() + d),
                    ..TokenState::default()
                },
            );
        }
        Tenancy {
            owners,
            ..Tenancy::default()
        }
    }

    /// Whether `phone` is one of the businesses' numbers.
    pub(super) fn serves(&self, phone: &str) -> bool {
        self.owners.contains_key(phone)
    }
}

/// Refuses `token` on `phone` when it belongs to another business, as
/// Graph refuses an object the token cannot see.
pub(super) fn refuse_other_business(
    state: &mut State,
    phone: &str,
    token: &str,
) -> Option<Response<Full<Bytes>>> {
    let owner = state.tenancy.owners.get(phone)?;
    let token_owner = state.tokens.get(token).and_then(|t| t.owner.as_ref());
    if token_owner == Some(owner) {
        return None;
    }
    state.tenancy.wrong_business += 1;
    Some(graph_error(
        400,
        100,
        Some(33),
        &format!("Unsupported post request. Object with ID '{phone}' does not exist, cannot be loaded due to missing permissions, or does not support this operation"),
    ))
}

/// Counts an accepted message from `phone`.
pub(super) fn accepted(state: &mut State, phone: &str) {
    *state.tenancy.accepted.entry(phone.to_owned()).or_default() += 1;
}

/// Counts an exchange of a token of `owner`'s business.
pub(super) fn exchanged(state: &mut State, owner: Option<&str>) {
    if let Some(owner) = owner {
        *state.tenancy.exchanges.entry(owner.to_owned()).or_default() += 1;
    }
}

/// Embedded Signup: exchanges a signup `code` (once) for the business's
/// token, which never expires, answered as integrations read it (only
/// `access_token` is relied on; chatwoot's spec stubs `{access_token}`).
pub(super) fn exchange_code(
    state: &mut State,
    client_id: Option<String>,
    client_secret: Option<String>,
    code: Option<String>,
) -> Response<Full<Bytes>> {
    if let Some(refused) = app_refused(state, &client_id, &client_secret) {
        return refused;
    }
    // As reported for spent or unknown codes (SammyK/LaravelFacebookSdk#141).
    let Some(waba) = code.and_then(|c| state.tenancy.signup_codes.remove(&c)) else {
        return graph_error(400, 100, None, "This authorization code has been used.");
    };
    state.issued += 1;
    let token = format!("EAAGsignup{:04}{}", state.issued, "s".repeat(24));
    exchanged(state, Some(&waba));
    state.tokens.insert(
        token.clone(),
        TokenState {
            owner: Some(waba),
            ..TokenState::default()
        },
    );
    super::answers::json(
        200,
        format!(r#"{{"access_token":"{token}","token_type":"bearer"}}"#),
    )
}

/// What the fake saw of its businesses.
impl FakeGraph {
    /// Messages accepted from `phone` (one of the businesses' numbers).
    pub fn accepted_for(&self, phone: &str) -> u64 {
        self.lock()
            .tenancy
            .accepted
            .get(phone)
            .copied()
            .unwrap_or(0)
    }

    /// Calls on a business's phone number made with another business's
    /// token: what a tenant-aware stack must never make.
    pub fn wrong_business(&self) -> u64 {
        self.lock().tenancy.wrong_business
    }

    /// Exchanges of tokens of the business account `waba`.
    pub fn exchanges_for(&self, waba: &str) -> u64 {
        self.lock()
            .tenancy
            .exchanges
            .get(waba)
            .copied()
            .unwrap_or(0)
    }

    /// The valid tokens of the business account `waba`, oldest first.
    pub fn tokens_of(&self, waba: &str) -> Vec<String> {
        let state = self.lock();
        let mut tokens: Vec<String> = state
            .tokens
            .iter()
            .filter(|(_, t)| {
                t.owner.as_deref() == Some(waba) && t.revoked.is_none() && !t.expired()
            })
            .map(|(token, _)| token.clone())
            .collect();
        tokens.sort();
        tokens
    }

    /// An Embedded Signup `code` the exchange will take once, onboarding
    /// the business account `waba`.
    pub fn add_signup_code(&self, code: &str, waba: &str) {
        self.lock()
            .tenancy
            .signup_codes
            .insert(code.into(), waba.into());
    }

    /// The most `/debug_token` calls ever in flight at once.
    pub fn max_validations_in_flight(&self) -> u64 {
        self.lock().tenancy.max_validations_in_flight
    }

    /// Each `/debug_token` answer takes `delay` from now on.
    pub fn set_validation_delay(&self, delay: Duration) {
        self.lock().tenancy.validation_delay = delay;
    }
}
