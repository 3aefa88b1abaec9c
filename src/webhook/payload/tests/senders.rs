//! Who wrote, and where a reply goes: captured senders (phone numbers,
//! business-scoped user ids, usernames, groups) and the decision table.

use serde_json::json;

use super::super::*;
use super::message;

type Row = (
    &'static str,
    Option<(RecipientKind, &'static str)>,
    (&'static str, Option<&'static str>, Option<&'static str>),
);

/// The fixture, where its reply goes, and its contact (`wa_id`, `user_id`,
/// username).
#[rustfmt::skip]
const SENDERS: &[Row] = &[
    ("webhooks/overview", Some((RecipientKind::PhoneNumber, "16505551234")), ("16505551234", None, None)),
    ("58511992474", Some((RecipientKind::PhoneNumber, "556195798701")), ("556195798701", Some("BR.2610227519432898"), None)),
    ("incoming TEXT from a user who adopted a username", Some((RecipientKind::UserId, "user.93737...")), ("", Some("user.93737..."), Some("@realsheenanelson"))),
    ("webhook-incoming-message-text-bsuid", Some((RecipientKind::Group, "120363418770915618@g.us")), ("", Some("US.13491208655302741918"), Some("@realsheenanelson"))),
    ("messages/group.md", Some((RecipientKind::Group, "HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA")), ("16505551234", None, None)),
    ("BSP-published sample: incoming TEXT in a GROUP", Some((RecipientKind::Group, "Y2FwaV9ncm91cDo5MTg5Mjk4NzQyNzg6MTIwMzYzNDIzMTQ4MDkxxxxxx")), ("917385180297", None, None)),
    ("key 'quick_reply_without_context'", Some((RecipientKind::PhoneNumber, "972987654321")), ("972987654321", Some("US.13491208655302741918"), None)),
    ("webhook-incoming-message-system-bsuid", None, ("", None, None)),
];

#[test]
fn captured_senders_are_answered_where_they_can_be_reached() {
    for (key, reply_to, (wa_id, user_id, username)) in SENDERS {
        let (value, m) = message(key);
        let got = m.reply_to().map(|r| (r.kind(), r.id().to_owned()));
        assert_eq!(got, reply_to.map(|(k, id)| (k, id.to_owned())), "{key}");
        let contact = value.contact_of(&m);
        let got = contact.map(|c| (c.wa_id.as_str(), c.user_id.as_deref(), c.username()));
        let expected = (!value.contacts.is_empty()).then_some((*wa_id, *user_id, *username));
        assert_eq!(got, expected, "{key}");
    }
    let (_, group) = message("webhook-incoming-message-text-bsuid");
    assert_eq!(group.from, "");
    assert_eq!(
        group.from_parent_user_id.as_deref(),
        Some("US.ENT.11815799212886844830")
    );
}

/// Where a reply goes, decided from the message alone: a group first, then
/// a phone number, then a business-scoped user id, then its parent; blank
/// values name nothing.
#[test]
fn a_reply_goes_to_the_group_else_the_number_else_the_user_id() {
    use RecipientKind::*;
    let cases = [
        (
            json!({"from": "1555", "group_id": "G1", "from_user_id": "US.1"}),
            Some((Group, "G1")),
        ),
        (
            json!({"from": "1555", "group_id": " ", "from_user_id": "US.1"}),
            Some((PhoneNumber, "1555")),
        ),
        (json!({"from": 1555}), Some((PhoneNumber, "1555"))),
        (
            json!({"from": "", "from_user_id": "US.1", "from_parent_user_id": "US.ENT.1"}),
            Some((UserId, "US.1")),
        ),
        (
            json!({"from_user_id": "", "from_parent_user_id": "US.ENT.1"}),
            Some((UserId, "US.ENT.1")),
        ),
        (json!({"from": " +1555 "}), Some((PhoneNumber, "+1555"))),
        (json!({"from": "", "from_user_id": " "}), None),
        (json!({"from": null, "group_id": null}), None),
        (json!({}), None),
    ];
    for (fields, expected) in cases {
        let m: Message = serde_json::from_value(fields.clone()).unwrap();
        let got = m.reply_to().map(|r| (r.kind(), r.id().to_owned()));
        assert_eq!(got, expected.map(|(k, id)| (k, id.to_owned())), "{fields}");
    }
}

/// The fields each kind of recipient is addressed with, and nothing empty.
#[test]
fn a_recipient_is_addressed_as_graph_expects() {
    use RecipientKind::*;
    let cases = [
        (
            PhoneNumber,
            "16505551234",
            json!({"recipient_type": "individual", "to": "16505551234"}),
        ),
        (
            UserId,
            "US.13491208655302741918",
            json!({"recipient_type": "individual", "recipient": "US.13491208655302741918"}),
        ),
        (
            Group,
            "120363418770915618@g.us",
            json!({"recipient_type": "group", "to": "120363418770915618@g.us"}),
        ),
    ];
    for (kind, id, addressed) in cases {
        let recipient = Recipient::new(kind, id).unwrap();
        let body = recipient.message("text", json!({"body": "hi"}));
        let mut expected =
            json!({"messaging_product": "whatsapp", "type": "text", "text": {"body": "hi"}});
        expected
            .as_object_mut()
            .unwrap()
            .extend(addressed.as_object().unwrap().clone());
        assert_eq!(body, expected, "{kind:?}");
        let image = recipient.message("image", json!({"id": "1003383421387256"}));
        assert_eq!(
            (&image["type"], &image["image"]["id"]),
            (&json!("image"), &json!("1003383421387256"))
        );
    }
    for kind in [PhoneNumber, UserId, Group] {
        for blank in ["", " ", "\t\n"] {
            assert_eq!(Recipient::new(kind, blank), None, "{kind:?} {blank:?}");
        }
    }
}
