//! The graph nodes with state: message tracking, `/debug_token`, and the
//! `fb_exchange_token` exchange.

use std::time::Duration;

use bytes::Bytes;
use http::Response;
use http_body_util::Full;

use super::*;

/// What the fake knows of one tracked message.
#[derive(Debug, Default)]
pub(super) struct Tracked {
    number: u64,
    attempts: u64,
    delivered: bool,
}

/// Counts an attempt at a tracked message; answers instead of delivering
/// when a throttle or proxy fault is due for it. `None`: deliver it.
pub(super) fn track(state: &mut State, tracking: String) -> Option<Response<Full<Bytes>>> {
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
        let mut answer = graph_error(429, 130429, None, "(#130429) Rate limit hit");
        let sets = &state.config.throttle_headers;
        if !sets.is_empty() {
            let every = state.config.throttle_every.unwrap_or(1).max(1);
            let turn = (number / every).saturating_sub(1) as usize % sets.len();
            for (name, value) in &sets[turn] {
                if let Ok(value) = value.parse() {
                    answer.headers_mut().append(*name, value);
                }
            }
        }
        return Some(answer);
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

pub(super) fn unix_in(left: Duration) -> u64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    (now + left).as_secs()
}

pub(super) fn debug_token(state: &State, input: &str) -> String {
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
    // A business's token covers that business's account only.
    let owned = token.owner.as_ref().map(|waba| vec![waba.clone()]);
    let granular: Vec<String> = state
        .config
        .scopes
        .iter()
        .map(|(s, targets)| {
            let targets = owned.as_ref().unwrap_or(targets);
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

pub(super) fn bearer(parts: &http::request::Parts) -> Option<String> {
    parts
        .headers
        .get("authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::to_owned)
}

/// Graph's answer refusing the app's id or secret on an OAuth call (a
/// token exchange, an Embedded Signup code), or `None` when they are the
/// app's. As captured: diowa/icare#5 (a wrong client_id),
/// php-graph-sdk#538 (a wrong client_secret).
pub(super) fn app_refused(
    state: &State,
    client_id: &Option<String>,
    client_secret: &Option<String>,
) -> Option<Response<Full<Bytes>>> {
    if client_id.as_deref() != Some(state.config.app_id.as_str()) {
        return Some(graph_error(
            400,
            101,
            None,
            "Error validating application. Invalid application ID.",
        ));
    }
    if client_secret.is_none() || *client_secret != state.config.app_secret {
        return Some(graph_error(400, 1, None, "Error validating client secret."));
    }
    None
}

pub(super) fn exchange(
    state: &mut State,
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    current: Option<String>,
) -> Response<Full<Bytes>> {
    if grant_type.as_deref() != Some("fb_exchange_token") {
        return graph_error(400, 100, None, "Invalid grant_type");
    }
    if let Some(refused) = app_refused(state, &client_id, &client_secret) {
        return refused;
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
    // A renewal of a business's token is that business's.
    let owner = state.tokens.get(&current).and_then(|t| t.owner.clone());
    super::tenants::exchanged(state, owner.as_deref());
    state.tokens.insert(
        token.clone(),
        TokenState {
            expires_at,
            uses_left,
            owner,
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
