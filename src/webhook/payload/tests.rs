use super::*;
use crate::graph::ErrorKind;

mod fields;
mod kinds;
mod senders;

/// Every captured delivery in the fixture file (Meta's own examples, SDK
/// fixtures, BSP samples, captured deliveries), each with its source.
fn fixtures() -> Vec<(String, serde_json::Value)> {
    all_fixtures()
        .into_iter()
        .map(|(source, _, body)| (source, body))
        .collect()
}

/// Each fixture's source, context and body.
fn all_fixtures() -> Vec<(String, String, serde_json::Value)> {
    let all: serde_json::Value =
        serde_json::from_str(include_str!("../../../tests/fixtures/webhooks.json")).unwrap();
    all.as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let body = match f.get("body_text") {
                Some(text) => serde_json::from_str(text.as_str().unwrap()).unwrap(),
                None => f["body"].clone(),
            };
            let text = |key: &str| f[key].as_str().unwrap_or_default().to_owned();
            (text("source"), text("context"), body)
        })
        .collect()
}

/// The one fixture whose source or context contains `key`, parsed.
fn delivery(key: &str) -> Notification {
    let found: Vec<serde_json::Value> = all_fixtures()
        .into_iter()
        .filter(|(source, context, _)| source.contains(key) || context.contains(key))
        .map(|(_, _, body)| body)
        .collect();
    assert_eq!(found.len(), 1, "exactly one fixture matches {key:?}");
    Notification::parse(&serde_json::to_vec(&found[0]).unwrap()).unwrap()
}

/// The only message of the fixture `key`.
fn message(key: &str) -> (Value, Message) {
    let delivery = delivery(key);
    let mut all = delivery.messages();
    let (value, message) = all.next().unwrap_or_else(|| panic!("{key}: a message"));
    assert!(all.next().is_none(), "{key}: one message");
    (value.clone(), message.clone())
}

#[test]
fn every_captured_delivery_parses() {
    let fixtures = all_fixtures();
    assert!(fixtures.len() >= 90, "{}", fixtures.len());
    for (source, context, _) in &fixtures {
        assert!(!source.is_empty() && !context.is_empty(), "{source}");
    }
    for (source, body) in &self::fixtures() {
        let bytes = serde_json::to_vec(body).unwrap();
        let parsed = Notification::parse(&bytes).unwrap_or_else(|e| panic!("{source}: {e}"));
        assert!(!parsed.entry.is_empty(), "{source}");
        for (_, message) in parsed.messages() {
            assert!(
                !message.id.is_empty() && !message.kind.is_empty(),
                "{source}"
            );
        }
    }
}

#[test]
fn a_text_message_reads_as_meta_documents_it() {
    let (_, body) = &fixtures()[0];
    let parsed = Notification::parse(&serde_json::to_vec(body).unwrap()).unwrap();
    let (value, message) = parsed.messages().next().unwrap();
    assert_eq!(parsed.object, "whatsapp_business_account");
    assert_eq!(message.from, "16505551234");
    assert_eq!(message.text_body(), Some("Does it come in another color?"));
    assert_eq!(
        value.metadata.as_ref().unwrap().phone_number_id,
        "106540352242922"
    );
    assert_eq!(
        value.contacts[0].profile.as_ref().unwrap().name.as_deref(),
        Some("Sheena Nelson")
    );
}

#[test]
fn errors_in_deliveries_are_classified_like_any_graph_error() {
    let kinds: Vec<(i64, ErrorKind)> = fixtures()
        .iter()
        .filter_map(|(_, body)| Notification::parse(&serde_json::to_vec(body).unwrap()).ok())
        .flat_map(|n| n.errors().map(|e| (e.code(), e.kind())).collect::<Vec<_>>())
        .collect();
    assert!(
        kinds.contains(&(130429, ErrorKind::RateLimited)),
        "{kinds:?}"
    );
    assert!(kinds.contains(&(131049, ErrorKind::Other)), "{kinds:?}");
    let details = fixtures()
        .iter()
        .filter_map(|(_, body)| Notification::parse(&serde_json::to_vec(body).unwrap()).ok())
        .flat_map(|n| n.errors().collect::<Vec<_>>())
        .find(|e| e.code() == 131049)
        .unwrap();
    assert!(details.details().unwrap().contains("healthy ecosystem"));
}

#[test]
fn unknown_shapes_do_not_break_parsing() {
    let odd = br#"{"object":"whatsapp_business_account","entry":[{"id":1,"changes":[{"field":"messages","value":{
        "messages":[{"from":16505551234,"id":"wamid.X","timestamp":1669233778,"type":"hologram","hologram":{"depth":3}},
                    {"from":"1","id":"wamid.Y","type":"interactive"}],
        "statuses":[{"id":"wamid.Z","status":"teleported","errors":[{"code":"131026","title":"t"}]}],
        "new_field":{"anything":true}}}]}]}"#;
    let parsed = Notification::parse(odd).unwrap();
    let messages: Vec<&Message> = parsed.messages().map(|(_, m)| m).collect();
    assert_eq!(messages[0].from, "16505551234");
    assert_eq!(messages[0].timestamp, "1669233778");
    assert_eq!(messages[0].kind, "hologram");
    assert_eq!(messages[0].other["hologram"]["depth"], 3);
    assert_eq!(messages[0].text_body(), None);
    assert_eq!(parsed.statuses().next().unwrap().1.status, "teleported");
    assert_eq!(parsed.errors().next().unwrap().code(), 131026);
    assert!(Notification::parse(b"<html>").is_err());
    assert!(Notification::parse(b"{}").unwrap().entry.is_empty());
}
