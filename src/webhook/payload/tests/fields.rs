//! Statuses and the deliveries of other fields, read from captured
//! deliveries: named, kept, and the common ones typed.

use super::super::*;
use super::{all_fixtures, delivery};

/// A status in words, through the typed API.
fn describe(s: &Status) -> String {
    let opt = |v: Option<&str>| v.unwrap_or("-").to_owned();
    let billed = s.billing().map_or("-".to_owned(), |p| {
        let billable = p.billable.map_or("-".into(), |b| b.to_string());
        let parts = [
            p.pricing_model.as_deref(),
            p.kind.as_deref(),
            p.category.as_deref(),
        ];
        format!("{}/{billable}", parts.map(opt).join("/"))
    });
    let conversation = s.conversation.as_ref();
    let codes: Vec<String> = s.errors.iter().map(|e| e.code.to_string()).collect();
    format!(
        "{} to {:?} user={} type={} billed={billed} origin={} expires={} tracking={} errors={}",
        s.status,
        s.recipient_id,
        opt(s.recipient_user_id.as_deref()),
        opt(s.recipient_type.as_deref()),
        opt(conversation.and_then(Conversation::origin_type)),
        opt(conversation.and_then(|c| c.expiration_timestamp.as_deref())),
        opt(s.biz_opaque_callback_data.as_deref()),
        codes.join(","),
    )
}

#[rustfmt::skip]
const STATUSES: &[(&str, &str)] = &[
    ("STATUS sent (marketing, PMP", r#"sent to "16505551234" user=- type=- billed=PMP/regular/marketing/true origin=marketing expires=1750116480 tracking=- errors="#),
    ("key 'delivered'", r#"delivered to "972987654321" user=- type=- billed=CBP/-/service/true origin=service expires=- tracking=- errors="#),
    ("key 'with_tracker'", r#"sent to "972987654321" user=- type=- billed=CBP/-/service/true origin=service expires=1698339900 tracking=some data errors="#),
    ("STATUS failed with errors[] (code 131049", r#"failed to "16505551234" user=- type=- billed=- origin=- expires=- tracking=- errors=131049"#),
    ("key 'played'", r#"played to "972987654321" user=- type=- billed=CBP/-/service/true origin=service expires=- tracking=- errors="#),
    ("webhook-incoming-message-status-bsuid", r#"delivered to "" user=US.13491208655302741918 type=- billed=PMP/regular/marketing/true origin=- expires=- tracking=- errors="#),
    ("STATUS delivered of a message sent to the BSUID", r#"delivered to "" user=user.9373795779eb6441c8adb2eaee5b848e7dd174ddd302d7db62142f4722d574b6 type=- billed=PMP/regular/marketing/true origin=- expires=- tracking=- errors="#),
    ("webhook-incoming-message-status-group-bsuid", r#"read to "120363418770915618@g.us" user=- type=group billed=- origin=- expires=- tracking=- errors="#),
];

#[test]
fn statuses_say_where_a_message_went_and_what_it_was_billed() {
    for (key, expected) in STATUSES {
        let delivery = delivery(key);
        let statuses: Vec<&Status> = delivery.statuses().map(|(_, s)| s).collect();
        assert_eq!(statuses.len(), 1, "{key}");
        assert_eq!(describe(statuses[0]), *expected, "{key}");
    }
    let to_user = delivery("webhook-incoming-message-status-bsuid");
    let (_, status) = to_user.statuses().next().unwrap();
    assert_eq!(status.recipient_user(), Some("US.13491208655302741918"));
    let to_group = delivery("webhook-incoming-message-status-group-bsuid");
    let (_, status) = to_group.statuses().next().unwrap();
    assert!(status.is_group() && status.recipient_user().is_none());
}

/// A field delivery in words: its name and what the typed API reads.
fn describe_change(change: &Change) -> String {
    let name = change.kind().name().unwrap_or("?");
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    if let Some(u) = change.account_update() {
        let waba = u.waba_info.as_ref().map(|w| opt(&w.waba_id));
        let ends = if u.ends_access() {
            "ends access"
        } else {
            "keeps access"
        };
        return format!(
            "{name} {} waba={} phone={} {ends}",
            u.event,
            opt(&waba),
            opt(&u.phone_number)
        );
    }
    if let Some(t) = change.template_status() {
        let fields = [
            &t.message_template_id,
            &t.message_template_name,
            &t.message_template_language,
            &t.message_template_category,
            &t.reason,
        ];
        return format!("{name} {} {}", t.event, fields.map(opt).join(" "));
    }
    if let Some(q) = change.phone_quality() {
        return format!(
            "{name} {} {} {}",
            opt(&q.display_phone_number),
            q.event,
            opt(&q.current_limit)
        );
    }
    let groups: Vec<String> = change
        .group_updates()
        .iter()
        .map(|g| {
            let people: Vec<String> = g
                .added_participants
                .iter()
                .chain(&g.removed_participants)
                .map(|p| opt(&p.user_id.clone().or(p.wa_id.clone()).or(p.input.clone())))
                .collect();
            format!("{} {} [{}]", g.kind, opt(&g.group_id), people.join(","))
        })
        .collect();
    if !groups.is_empty() {
        return format!("{name} {}", groups.join("; "));
    }
    let mut kept: Vec<&str> = change.value.other.keys().map(String::as_str).collect();
    kept.sort();
    format!("{name} kept {}", kept.join(","))
}

#[rustfmt::skip]
const FIELDS: &[(&str, &str)] = &[
    ("key 'partner_removed'", "account_update PARTNER_REMOVED waba=980198427658004 phone=- ends access"),
    ("key 'partner_removed_wa_app_disconnection'", "account_update PARTNER_REMOVED waba=980198427658004 phone=- ends access"),
    ("key 'partner_app_uninstalled'", "account_update PARTNER_APP_UNINSTALLED waba=184943124712545 phone=- ends access"),
    ("key 'account_deleted'", "account_update ACCOUNT_DELETED waba=- phone=- ends access"),
    ("key 'partner_app_installed'", "account_update PARTNER_APP_INSTALLED waba=1191624265890717 phone=- keeps access"),
    ("key 'account_offboarded'", "account_update ACCOUNT_OFFBOARDED waba=- phone=- keeps access"),
    ("onboarding-business-app-users.mdx", "account_update PARTNER_REMOVED waba=- phone=15550783881 ends access"),
    ("template_status_update.json key 'approved'", "message_template_status_update APPROVED 1689556908129832 order_confirmation en_US UTILITY NONE"),
    ("template_status_update.json key 'rejected'", "message_template_status_update REJECTED 1689556908129835 abandoned_cart en MARKETING INVALID_FORMAT"),
    ("webhook-phoneNumberQualityUpdate", "phone_number_quality_update 16505551111 FLAGGED TIER_10K"),
    ("phone_number_quality_update.mdx", "phone_number_quality_update 15550783881 THROUGHPUT_UPGRADE TIER_UNLIMITED"),
    ("group_lifecycle_update group_create", "group_lifecycle_update group_create Y2FwaV9ncm91cDo5MTg5Mjk4NzQyNzg6MTIwMzYzNDIzMTQ4MDxxxxx []"),
    ("group_participants_add by invite link", "group_participants_update group_participants_add Y2FwaV9ncm91cDo5MTg5Mjk4NzQyNzg6MTIwMzYzNDIzMTQ4MDkxxxxx [917385180297]"),
    ("webhook-group-participants-update", "group_participants_update group_participants_remove 120363418770915618@g.us [US.13491208655302741918]; group_participants_remove 120363418770915618@g.us [US.13491208655302741918]; group_participants_add 120363418770915618@g.us [US.99887766554433221100]; group_join_request_created 120363418770915618@g.us []; group_join_request_revoked 120363418770915618@g.us []"),
    ("group_status_update group_suspend", "group_status_update group_suspend GROUP_ID []"),
    ("group_settings_update succeeded", "group_settings_update group_settings_update GROUP_ID []"),
    ("business_capability_update.mdx", "business_capability_update kept max_daily_conversations_per_business,max_phone_numbers_per_waba"),
    ("outgoing_message.json key 'text'", "smb_message_echoes kept message_echoes"),
    ("history (chat history shared at onboarding)", "history kept history"),
    ("user_marketing_preferences.json key 'resume'", "user_preferences kept user_preferences"),
    ("call_connect.json key 'user_initiated'", "calls kept calls"),
    ("call_terminate.json", "calls kept calls"),
    ("webhook-userIdUpdate", "user_id_update kept user_id_update"),
    ("template_quality_update.json", "message_template_quality_update kept message_template_id,message_template_language,message_template_name,new_quality_score,previous_quality_score"),
    ("template_category_update.json", "template_category_update kept message_template_id,message_template_language,message_template_name,new_category"),
];

#[test]
fn other_fields_are_named_kept_and_the_common_ones_typed() {
    for (key, expected) in FIELDS {
        let delivery = delivery(key);
        let described: Vec<String> = delivery
            .changes()
            .map(|(_, c)| describe_change(c))
            .collect();
        assert_eq!(described.join(" | "), *expected, "{key}");
        assert_eq!(delivery.messages().count(), 0, "{key}: nothing to answer");
    }
    // Every captured delivery names its field.
    for (source, _, body) in all_fixtures() {
        let parsed = Notification::parse(&serde_json::to_vec(&body).unwrap()).unwrap();
        for (_, change) in parsed.changes() {
            assert!(
                change.field.is_empty() || change.kind() != Field::Unknown,
                "{source}: {}",
                change.field
            );
        }
    }
}

/// Past messages (`history`) and the business's own (`smb_message_echoes`)
/// are kept, but are not incoming messages.
#[test]
fn only_the_messages_field_brings_messages_to_answer() {
    let history = delivery("history delivery of a past media message");
    let (_, change) = history.changes().next().unwrap();
    assert_eq!(change.kind(), Field::History);
    assert_eq!(change.value.messages.len(), 1, "kept");
    assert_eq!(history.messages().count(), 0, "not to answer");
    let updates: Vec<bool> = delivery("key 'partner_removed'")
        .account_updates()
        .map(|(e, u)| {
            assert_eq!(e.id, "2949482758682047");
            u.ends_access()
        })
        .collect();
    assert_eq!(updates, [true]);
}
