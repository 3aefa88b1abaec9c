//! The `bot` example from outside: its environment, the handshake, signed
//! and forged deliveries, one reply per text message (duplicates answered
//! once) while its token expires, a clean stop on SIGTERM, and every
//! captured delivery of `tests/fixtures/webhooks.json` answered at the
//! recipient it names.
#![cfg(all(feature = "webhook", feature = "retry", feature = "media"))]

#[path = "support/common/mod.rs"]
mod common;

use std::collections::HashSet;
use std::time::Duration;

use bytes::Bytes;

use common::fake_graph::{FakeConfig, FakeGraph};
use common::run::{env_for, printed, run_example, start_listening, Running};
use common::webhooks::{deliver, handshake, status_delivery, text_delivery};
use http::StatusCode;
use serde_json::{json, Value};

const SECRET: &str = "fake-app-secret";
const VERIFY: &str = "my-verify-token";

fn bot_env(fake: &FakeGraph, config: &FakeConfig) -> Vec<(String, String)> {
    let mut envs = env_for(fake, config);
    envs.push(("WHATSAPP_VERIFY_TOKEN".into(), VERIFY.into()));
    envs.push(("PORT".into(), "0".into()));
    envs
}

/// Starts the bot against `fake` and waits until it listens.
async fn start_bot(fake: &FakeGraph, config: &FakeConfig) -> Running {
    start_listening("bot", bot_env(fake, config)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_variable_exits_2_naming_it() {
    let config = FakeConfig {
        app_secret: Some(SECRET.into()),
        ..FakeConfig::default()
    };
    let fake = FakeGraph::start(config.clone()).await;
    for missing in [
        "META_APP_SECRET",
        "WHATSAPP_VERIFY_TOKEN",
        "WHATSAPP_TOKEN",
        "WHATSAPP_PHONE_NUMBER_ID",
    ] {
        let mut envs = bot_env(&fake, &config);
        envs.retain(|(k, _)| k != missing);
        let out = run_example("bot", &envs, &[]).await;
        assert_eq!(out.status.code(), Some(2), "{missing}");
        assert!(
            printed(&out).contains(missing),
            "{missing}: {}",
            printed(&out)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bot_answers_each_text_message_once_through_a_token_expiry() {
    let config = FakeConfig {
        app_secret: Some(SECRET.into()),
        token_uses: Some(4),
        ..FakeConfig::default()
    };
    let fake = FakeGraph::start(config.clone()).await;
    let Running {
        mut child,
        mut lines,
        addr,
    } = start_bot(&fake, &config).await;
    let url = format!("http://{addr}/webhook");

    // The handshake: the right token gets the challenge back; others a 403.
    assert_eq!(
        handshake(&url, VERIFY, "1158201444").await,
        (StatusCode::OK, "1158201444".into())
    );
    assert_eq!(handshake(&url, "wrong", "1").await.0, StatusCode::FORBIDDEN);

    // Forged, unsigned and non-JSON deliveries.
    let phone = config.phone_number_id.as_str();
    let forged = text_delivery(phone, "15550001", "wamid.FORGED", "forged");
    assert_eq!(
        deliver(&url, Some("not-the-secret"), forged.clone())
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        deliver(&url, None, forged).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        deliver(&url, Some(SECRET), "not json".into()).await.0,
        StatusCode::BAD_REQUEST
    );
    // A status is acknowledged, not answered.
    let status = status_delivery(phone, "wamid.SENT", "delivered");
    assert_eq!(deliver(&url, Some(SECRET), status).await.0, StatusCode::OK);

    // Ten messages, the first three delivered twice (Meta retries).
    for i in 0..10 {
        let id = format!("wamid.IN{i:02}");
        let (status, _) = fake
            .deliver_text(&url, &format!("1555000{i:02}"), &id, &format!("hello {i}"))
            .await;
        assert_eq!(status, StatusCode::OK);
        if i < 3 {
            let (status, _) = fake
                .deliver_text(&url, &format!("1555000{i:02}"), &id, &format!("hello {i}"))
                .await;
            assert_eq!(status, StatusCode::OK, "a duplicate is acknowledged");
        }
    }
    // The replies go out in the background: wait for them.
    for _ in 0..300 {
        if fake.counters().messages_accepted >= 10 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let graph = fake.counters();
    assert_eq!(
        graph.messages_accepted, 10,
        "one reply per text message: {graph:?}"
    );
    assert_eq!(
        graph.exchanges, 1,
        "the token expired after 4 replies: {graph:?}"
    );
    let mut replies: Vec<serde_json::Value> = fake
        .bodies()
        .iter()
        .map(|b| serde_json::from_slice(b).unwrap())
        .collect();
    replies.dedup();
    for i in 0..10 {
        let to = format!("1555000{i:02}");
        let reply = replies.iter().find(|r| r["to"] == to.as_str()).expect(&to);
        assert_eq!(reply["text"]["body"], format!("echo: hello {i}"));
    }

    // SIGTERM: a clean stop.
    let pid = child.id().unwrap();
    std::process::Command::new("kill")
        .arg(pid.to_string())
        .status()
        .unwrap();
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status:?}");
    let rest: Vec<String> = {
        let mut rest = Vec::new();
        while let Ok(Some(line)) = lines.next_line().await {
            rest.push(line);
        }
        rest
    };
    assert!(rest.iter().any(|l| l == "stopped"), "{rest:?}");
    assert_eq!(
        rest.iter()
            .filter(|l| l.starts_with("already answered"))
            .count(),
        3,
        "{rest:?}"
    );
}

/// Every delivery of `tests/fixtures/webhooks.json`: its source and body
/// (byte-exact where the fixture keeps the text).
fn fixture_deliveries() -> Vec<(String, Bytes)> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/webhooks.json");
    let all: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    all.as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let body = match f.get("body_text").and_then(Value::as_str) {
                Some(text) => Bytes::from(text.to_owned()),
                None => Bytes::from(f["body"].to_string()),
            };
            (f["source"].as_str().unwrap().to_owned(), body)
        })
        .collect()
}

/// The replies `body` calls for, read from the raw JSON as Meta documents
/// it, not through the crate: each text message of a `messages` change
/// that names where to answer (the group; else `from`; else the sender's
/// business-scoped user id, as `recipient`), with the message's id. Blank
/// values name nothing.
fn replies_called_for(body: &[u8]) -> Vec<(String, Value)> {
    let body: Value = serde_json::from_slice(body).unwrap();
    let named = |m: &Value, key: &str| {
        m[key]
            .as_str()
            .filter(|v| !v.trim().is_empty())
            .map(str::to_owned)
    };
    let mut replies = Vec::new();
    for change in body["entry"].as_array().into_iter().flatten() {
        let changes = change["changes"].as_array().into_iter().flatten();
        for change in changes.filter(|c| c["field"].is_null() || c["field"] == "messages") {
            for m in change["value"]["messages"].as_array().into_iter().flatten() {
                let Some(text) = m["text"]["body"].as_str().filter(|_| m["type"] == "text") else {
                    continue;
                };
                let recipient = match (
                    named(m, "group_id"),
                    named(m, "from"),
                    named(m, "from_user_id").or(named(m, "from_parent_user_id")),
                ) {
                    (Some(group), _, _) => json!({ "recipient_type": "group", "to": group }),
                    (None, Some(phone), _) => {
                        json!({ "recipient_type": "individual", "to": phone })
                    }
                    (None, None, Some(user)) => {
                        json!({ "recipient_type": "individual", "recipient": user })
                    }
                    (None, None, None) => continue,
                };
                let mut reply = recipient;
                reply["text"] = format!("echo: {text}").into();
                replies.push((m["id"].as_str().unwrap_or_default().to_owned(), reply));
            }
        }
    }
    replies
}

/// What a sent message says about where it went and what it said.
fn addressed(sent: &[u8]) -> Value {
    let sent: Value = serde_json::from_slice(sent).unwrap();
    assert_eq!(
        (&sent["messaging_product"], &sent["type"]),
        (&json!("whatsapp"), &json!("text"))
    );
    let mut seen = json!({ "text": sent["text"]["body"] });
    for key in ["to", "recipient", "recipient_type"] {
        if !sent[key].is_null() {
            seen[key] = sent[key].clone();
        }
    }
    seen
}

/// A fixture's source and the body Meta sent.
type Delivery = (String, Bytes);

/// Deliveries for one fresh bot, and the replies they call for.
#[derive(Default)]
struct Round {
    seen: HashSet<String>,
    deliveries: Vec<Delivery>,
    replies: Vec<Value>,
}

/// Deliveries split into rounds, each answered by a fresh bot: Meta's and
/// the SDKs' examples reuse message ids, and a bot answers an id once, so
/// a delivery goes to the first round that has not seen its ids (a
/// repeated id inside one delivery is answered once).
fn rounds(deliveries: Vec<Delivery>) -> Vec<Round> {
    let mut rounds: Vec<Round> = Vec::new();
    for (source, body) in deliveries {
        let replies = replies_called_for(&body);
        let ids: HashSet<String> = replies.iter().map(|(id, _)| id.clone()).collect();
        let round = match rounds.iter().position(|r| r.seen.is_disjoint(&ids)) {
            Some(round) => round,
            None => {
                rounds.push(Round::default());
                rounds.len() - 1
            }
        };
        let round = &mut rounds[round];
        for (id, reply) in replies {
            if round.seen.insert(id) {
                round.replies.push(reply);
            }
        }
        round.deliveries.push((source, body));
    }
    rounds
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bot_answers_every_captured_text_message_at_the_recipient_it_names() {
    let rounds = rounds(fixture_deliveries());
    let replies: Vec<&Value> = rounds.iter().flat_map(|r| &r.replies).collect();
    // The fixtures hold a text message answered at each kind of recipient.
    let shapes = [
        ("individual", "to"),
        ("individual", "recipient"),
        ("group", "to"),
    ];
    for (recipient_type, field) in shapes {
        let covered = replies
            .iter()
            .any(|r| r["recipient_type"] == recipient_type && r.get(field).is_some());
        assert!(covered, "no reply to a {recipient_type} {field}");
    }
    for round in rounds {
        let config = FakeConfig {
            app_secret: Some(SECRET.into()),
            ..FakeConfig::default()
        };
        let fake = FakeGraph::start(config.clone()).await;
        let bot = start_bot(&fake, &config).await;
        for (source, body) in round.deliveries {
            let url = format!("http://{}/webhook", bot.addr);
            let (status, answer) = deliver(&url, Some(SECRET), body).await;
            assert_eq!(status, StatusCode::OK, "{source}: {answer}");
        }
        let expected = round.replies.len() as u64;
        for _ in 0..300 {
            if fake.counters().message_requests >= expected {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await; // no extra reply comes late
        let graph = fake.counters();
        assert_eq!(
            (graph.message_requests, graph.messages_accepted),
            (expected, expected),
            "one reply per text message naming a sender, none refused: {graph:?}"
        );
        let mut sent: Vec<String> = fake
            .bodies()
            .iter()
            .map(|b| addressed(b).to_string())
            .collect();
        let mut expected: Vec<String> = round.replies.iter().map(Value::to_string).collect();
        sent.sort();
        expected.sort();
        assert_eq!(sent, expected);
        drop(bot);
    }
}

/// The fake refuses what Graph refuses: a message to an empty `to`, or to
/// an empty `recipient` without `to`, is an invalid parameter (100); a
/// business-scoped user id or a group is accepted.
#[tokio::test]
async fn graph_refuses_an_empty_recipient() {
    let config = FakeConfig::default();
    let fake = FakeGraph::start(config.clone()).await;
    let url = fake.messages_url("v25.0");
    let cases = [
        (json!({ "to": "" }), 400, Some(100)),
        (json!({ "to": "  ", "recipient": "US.1" }), 400, Some(100)),
        (json!({ "recipient": "" }), 400, Some(100)),
        (json!({}), 400, Some(100)),
        (json!({ "to": "16505551234" }), 200, None),
        (json!({ "recipient": "US.13491208655302741918" }), 200, None),
        (
            json!({ "recipient_type": "group", "to": "Y2FwaV9ncm91cDo" }),
            200,
            None,
        ),
    ];
    for (fields, status, code) in cases {
        let mut body =
            json!({ "messaging_product": "whatsapp", "type": "text", "text": { "body": "hi" } });
        body.as_object_mut()
            .unwrap()
            .extend(fields.as_object().unwrap().clone());
        let req = http::Request::post(&url)
            .header("authorization", format!("Bearer {}", config.token))
            .header("content-type", "application/json")
            .body(http_body_util::Full::new(Bytes::from(body.to_string())))
            .unwrap();
        let (got, answer) = common::webhooks::send(req).await;
        assert_eq!(got.as_u16(), status, "{fields}: {answer}");
        let answer: Value = serde_json::from_str(&answer).unwrap();
        assert_eq!(answer["error"]["code"].as_i64(), code, "{fields}: {answer}");
    }
}
