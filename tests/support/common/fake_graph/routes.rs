//! Serving a request: injected faults first, then the route's answer.

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;

use super::inject::injected_answer;
use super::*;
use std::sync::{Arc, Mutex};

pub(super) async fn handle(
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
    let validating = parts.uri.path().ends_with("/debug_token");
    let in_flight = |change: i64| {
        let tenancy = &mut shared.lock().unwrap().tenancy;
        tenancy.validations_in_flight = tenancy.validations_in_flight.saturating_add_signed(change);
        tenancy.max_validations_in_flight = tenancy
            .max_validations_in_flight
            .max(tenancy.validations_in_flight);
    };
    if validating {
        in_flight(1);
    }
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
    if validating {
        in_flight(-1);
    }
    Ok(match slow {
        Some(delay) => res.map(|full| ScriptBody::slow(full_bytes(full), 16, delay)),
        None => res.map(ScriptBody::from),
    })
}

pub(super) fn full_bytes(full: Full<Bytes>) -> Bytes {
    let mut full = std::pin::pin!(full);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match http_body::Body::poll_frame(full.as_mut(), &mut cx) {
        std::task::Poll::Ready(Some(Ok(frame))) => frame.into_data().unwrap_or_default(),
        _ => Bytes::new(),
    }
}

/// What the route answers, and when.
pub(super) enum Next {
    Now(Response<Full<Bytes>>),
    /// After a delay; `None` never answers.
    Later(Duration, Option<Response<Full<Bytes>>>),
}

pub(super) fn route_request(state: &mut State, parts: &http::request::Parts, body: Bytes) -> Next {
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
    if let Some(next) = super::media::route(state, parts, &body) {
        return next;
    }
    let phone = state.config.phone_number_id.clone();
    match (parts.method.clone(), segments.as_slice()) {
        (Method::POST, [_v, id, "messages"])
            if *id == phone || state.config.throughput.serves(id) || state.tenancy.serves(id) =>
        {
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
                Auth::Ok(token) => {
                    if let Some(refused) = super::tenants::refuse_other_business(state, id, &token) {
                        return Next::Now(refused);
                    }
                    let sent: serde_json::Value =
                        serde_json::from_slice(&body).unwrap_or_default();
                    let contact = match super::recipient::addressee(&sent) {
                        Ok(contact) => contact,
                        Err(refused) => return Next::Now(*refused),
                    };
                    if let Some(refused) = state.config.throughput.take(id, tokio::time::Instant::now()) {
                        return Next::Now(refused);
                    }
                    let tracking = serde_json::from_slice::<serde_json::Value>(&body)
                        .ok()
                        .and_then(|v| v["biz_opaque_callback_data"].as_str().map(str::to_owned));
                    if let Some(tracking) = tracking {
                        if let Some(answer) = track(state, tracking) {
                            return Next::Now(answer);
                        }
                    }
                    state.counters.messages_accepted += 1;
                    super::tenants::accepted(state, id);
                    let n = state.counters.messages_accepted;
                    // In Graph's own field order (json! would sort them).
                    let answer = format!(
                        r#"{{"messaging_product":"whatsapp","contacts":[{contact}],"messages":[{{"id":"wamid.FAKE{n:08}"}}]}}"#
                    );
                    Next::Now(json(200, answer))
                }
            }
        }
        (Method::GET, [_v, id]) if *id == phone || *id == "me" || state.tenancy.serves(id) => {
            state.counters.validations += 1;
            match authenticate(state, parts, false) {
                Auth::Refused(res) => Next::Now(res),
                Auth::Ok(token) if state.tenancy.serves(id) => {
                    match super::tenants::refuse_other_business(state, id, &token) {
                        Some(refused) => Next::Now(refused),
                        None => Next::Now(json(
                            200,
                            format!(r#"{{"verified_name":"Fake Business","display_phone_number":"+1 555-010-0000","id":"{id}","quality_rating":"GREEN"}}"#),
                        )),
                    }
                }
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
            let answer = json(200, debug_token(state, &input));
            Next::Later(state.tenancy.validation_delay, Some(answer))
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
                ExchangeMode::Issue if param("grant_type").is_none() && param("code").is_some() => {
                    Some(super::tenants::exchange_code(
                        state,
                        param("client_id"),
                        param("client_secret"),
                        param("code"),
                    ))
                }
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
