//! Every message kind, read from captured deliveries: the typed fields a
//! bot needs, one row per fixture.

use super::super::*;
use super::message;

/// A message's content and context, in words, through the typed API.
fn describe(m: &Message) -> String {
    let mut parts = vec![content(m)];
    if let Some(context) = &m.context {
        if let Some(id) = &context.id {
            parts.push(format!("replying to {id}"));
        }
        if context.forwarded == Some(true) {
            parts.push("forwarded".into());
        }
        if context.frequently_forwarded == Some(true) {
            parts.push("frequently forwarded".into());
        }
    }
    if let Some(ad) = &m.referral {
        let opt = |v: &Option<String>| v.clone().unwrap_or_default();
        let mut from = format!(
            "from {} {} {:?} ({})",
            opt(&ad.source_type),
            opt(&ad.source_id),
            opt(&ad.headline),
            opt(&ad.media_type)
        );
        if let Some(click) = &ad.ctwa_clid {
            from += &format!(" ctwa_clid={click}");
        }
        parts.push(from);
    }
    if !m.errors.is_empty() {
        let codes: Vec<String> = m.errors.iter().map(|e| e.code.to_string()).collect();
        parts.push(format!("errors {}", codes.join(",")));
    }
    parts.join("; ")
}

fn media(kind: &str, m: &Media) -> String {
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "?".into());
    let mut out = format!(
        "{kind} {} {} sha256={}",
        opt(&m.id),
        opt(&m.mime_type),
        opt(&m.sha256)
    );
    if let Some(caption) = &m.caption {
        out += &format!(" caption={caption:?}");
    }
    if let Some(name) = &m.filename {
        out += &format!(" filename={name:?}");
    }
    if m.url.is_some() {
        out += " url";
    }
    match m.voice {
        Some(true) => out += " voice note",
        Some(false) => out += " audio file",
        None => {}
    }
    match m.animated {
        Some(true) => out += " animated",
        Some(false) => out += " static",
        None => {}
    }
    out
}

fn content(m: &Message) -> String {
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "?".into());
    match m.content() {
        Content::Text(t) => format!("text {:?}", t.body),
        Content::Image(x) => media("image", x),
        Content::Audio(x) => media("audio", x),
        Content::Video(x) => media("video", x),
        Content::Document(x) => media("document", x),
        Content::Sticker(x) => media("sticker", x),
        Content::Location(at) => {
            let mut out = format!(
                "location {},{}",
                at.latitude.unwrap(),
                at.longitude.unwrap()
            );
            for part in [&at.name, &at.address].into_iter().flatten() {
                out += &format!(" {part:?}");
            }
            out
        }
        Content::Contacts(cards) => {
            let cards: Vec<String> = cards
                .iter()
                .map(|c| {
                    let name = c.name.as_ref().and_then(|n| n.formatted_name.clone());
                    let ids: Vec<String> = c.phones.iter().map(|p| opt(&p.wa_id)).collect();
                    format!("{} {}", opt(&name), ids.join("/"))
                })
                .collect();
            format!("contacts {}", cards.join(", "))
        }
        Content::Interactive(i) => match (i.kind.as_str(), i.choice_id(), &i.nfm_reply) {
            (kind, Some(id), _) => {
                let choice = i.button_reply.as_ref().or(i.list_reply.as_ref()).unwrap();
                format!("{kind} {id} {:?}", opt(&choice.title))
            }
            ("nfm_reply", None, Some(flow)) => {
                let answers = flow.response_json.as_ref().and_then(|r| r.as_object());
                format!(
                    "flow token={} answers={}",
                    flow.flow_token().unwrap_or("?"),
                    answers.map_or(0, |a| a.len())
                )
            }
            (kind, _, _) => format!("interactive {kind}"),
        },
        Content::Button(b) => format!("button {} {:?}", opt(&b.payload), opt(&b.text)),
        Content::Reaction(r) if r.is_removal() => {
            format!("reaction removed from {}", opt(&r.message_id))
        }
        Content::Reaction(r) => format!("reaction {} to {}", opt(&r.emoji), opt(&r.message_id)),
        Content::Order(o) => {
            let items: Vec<String> = o
                .product_items
                .iter()
                .map(|i| {
                    let (price, currency) = (i.item_price.unwrap(), opt(&i.currency));
                    let id = opt(&i.product_retailer_id);
                    format!("{} {id} at {price} {currency}", i.quantity.unwrap())
                })
                .collect();
            format!("order {}: {}", opt(&o.catalog_id), items.join(", "))
        }
        Content::System(s) => {
            let mut out = format!("system {}", opt(&s.kind));
            for (name, value) in [("wa_id", &s.wa_id), ("user_id", &s.user_id)] {
                if let Some(value) = value {
                    out += &format!(" {name}={value}");
                }
            }
            out
        }
        Content::Unsupported(u) => {
            format!("unsupported {}", opt(&u.and_then(|u| u.kind.clone())))
        }
        Content::Other { kind, content } => {
            let with = if content.is_some() { "with" } else { "no" };
            format!("{kind} kept ({with} content)")
        }
    }
}

/// One row per captured message: the fixture (a phrase of its source or
/// context) and what a bot reads from it.
#[rustfmt::skip]
const KINDS: &[(&str, &str)] = &[
    ("webhooks/overview", r#"text "Does it come in another color?""#),
    ("key 'reply'", r#"text "replied text"; replying to wamid.xyzxyz=="#),
    ("key 'forwarded'", r#"text "forwarded text"; forwarded"#),
    ("key 'forwarded_many_times'", r#"text "text forwarded many times"; frequently forwarded"#),
    ("key 'referral'", r#"text "BODY"; from ad or post ADID "AD_TITLE" (image or video) ctwa_clid=CTWA_CLID"#),
    ("webhook-incoming-message-ads", r#"text "Test"; from ad ADID "AD_TITLE" (video)"#),
    ("messages/image.mdx", r#"image 1003383421387256 image/jpeg sha256=SfInY0gGKTsJlUWbwxC1k+FAD0FZHvzwfpvO0zX0GUI= caption="Taj Mahal" url"#),
    ("updates/message.json key 'image'", "image 65463453 image/jpeg sha256=4654+8g="),
    ("key 'media_with_url'", "image 65463453 image/jpeg sha256=4654+8g= url"),
    ("key 'video'", r#"video 765756756 video/mp4 sha256=Jh+2ij6PzUv/J2y+grrtegr/ZMzRxkEPwc24Oyib4s03w9Jc= caption="caption"; forwarded"#),
    ("key 'document'", r#"document 1234567890987654321 application/pdf sha256=grwfwe/ZPx0wAbdfbdeFUNItPZ0RylL8gGUvdt3YFqc18SY= caption="caption" filename="filename.pdf"; forwarded"#),
    ("key 'audio'", "audio 1234567890987654321 audio/ogg; codecs=opus sha256=E3dxS/PdYZE7ppA3pQ4mpCFaXBJ8pX4SRN/dsfvds/iPGA= audio file; forwarded"),
    ("key 'voice'", "audio 1234567890987654321 audio/ogg; codecs=opus sha256=m04pFf2ERdaopTyFkGPA0+bX3i+YY2dYgVFwOgDLSDI= voice note"),
    ("messages/audio.mdx", "audio 1908647269898587 audio/ogg; codecs=opus sha256=wvqXMe6n7n1W0zphvLPoLj+s/NtKqmr3zZ7YzTP7xFI= url voice note"),
    ("key 'static_sticker'", "sticker 1234567890987654321 image/webp sha256=OmT4nhjUhCMIPNmj7eeOZeCYjTXkLxoOv85OMCFwSuc= static"),
    ("key 'animated_sticker'", "sticker 1234567890987654321 image/webp sha256=HcwyCKrTKXHk0a00ms4HWIA76GY0Du6q4Z/iuwevw= animated"),
    ("messages/location.mdx", r#"location 37.44221496582,-122.16165924072 "Philz Coffee" "101 Forest Ave, Palo Alto, CA 94301""#),
    ("key 'current_location'", "location 12.25089,43.90539; forwarded"),
    ("key 'chosen_location'", r#"location 37.4611978,-122.2164385 "Facebook HQ" "1 Hacker Way, Menlo Park, CA 94025"; forwarded"#),
    ("updates/message.json key 'contacts'", "contacts Chandler Bing 972987654321, Monica 972987654321, Rachel Green 972987654321"),
    ("messages/contacts.mdx", "contacts Barbara J. Johnson 14125550829"),
    ("interactive.type=list_reply", r#"list_reply priority_express "Priority Mail Express"; replying to wamid.HBgLMTQxMjU1NTA4MjkVAgASGBQzQUNCNjk5RDUwNUZGMUZEM0VBRAA="#),
    ("interactive.type=button_reply", r#"button_reply cancel-button "Cancel"; replying to wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3MEM2RUJFNkI0RENGQTVDRjUA"#),
    ("callback_button.json key 'button'", r#"button_reply callback_data "title"; replying to wamid.xyzxyz"#),
    ("key 'completion'", "flow token=AQAAAAACS5FpgQ_cAAAAAD0QI3s. answers=6; replying to wamid.gvwegfretge=="),
    ("call_permission_update.json key 'accept'", "interactive call_permission_reply; replying to wamid.y=="),
    ("key 'interactive_message_with_err'", "interactive kept (no content); replying to wamid.gvwegfretge=="),
    ("callback_button.json key 'quick_reply'", r#"button callback_data "title"; replying to wamid.xyzxyz=="#),
    ("key 'quick_reply_without_context'", r#"button callback_data "title""#),
    ("updates/message.json key 'reaction'", "reaction 😮 to wamid.yzxyzx="),
    ("key 'unreaction_no_emoji'", "reaction removed from wamid.yzxyzx="),
    ("key 'unreaction_empty'", "reaction removed from wamid.yzxyzx="),
    ("key 'order'", "order 354160437058781: 3 HAMBURGER at 30 ILS, 2 FRENCH_FRIES at 35 ILS, 2 SODA at 10 ILS"),
    ("SYSTEM message (user_changed_number)", "system user_changed_number wa_id=12195555358"),
    ("key 'phone_number_change'", "system user_changed_number wa_id=972912345678"),
    ("can_build_a_system_notification", "system user_changed_number wa_id=NEW_PHONE_NUMBER_ID"),
    ("key 'identity_change'", "system customer_identity_changed"),
    ("webhook-incoming-message-system-bsuid", "system user_changed_user_id user_id=US.13491208655302741918"),
    ("unsupported.type=edit", "unsupported edit; errors 131051"),
    ("updates/message.json key 'unsupported'", "unsupported ?; errors 131051"),
    ("key 'unsupported_with_type'", "unsupported pool; errors 131051"),
    ("chat_opened.json", "request_welcome kept (no content)"),
    ("deleted_message.json key 'revoke'", "revoke kept (with content)"),
    ("edited_message.json key 'image'", "edit kept (with content)"),
];

#[test]
fn every_message_kind_reads_the_fields_a_bot_needs() {
    for (key, expected) in KINDS {
        let (_, m) = message(key);
        assert_eq!(describe(&m), *expected, "{key}");
    }
}

/// Only a `text` message has a text body; a kind whose content is missing
/// is not mistaken for its kind.
#[test]
fn text_bodies_come_from_text_messages_only() {
    let cases = [
        (r#"{"type":"text","text":{"body":"hi"}}"#, Some("hi")),
        (r#"{"type":"text"}"#, None),
        (r#"{"type":"button","text":{"body":"hi"}}"#, None),
        (r#"{"type":"image","image":"junk"}"#, None),
    ];
    for (json, body) in cases {
        let m: Message = serde_json::from_str(json).unwrap();
        assert_eq!(m.text_body(), body, "{json}");
        if m.kind != "text" {
            assert!(matches!(m.content(), Content::Other { .. }), "{json}");
        }
    }
}
