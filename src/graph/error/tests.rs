use super::*;
use crate::graph::parse::MAX_TEXT;

fn parse(body: &str) -> Option<GraphError> {
    GraphError::parse(StatusCode::BAD_REQUEST, body.as_bytes())
}

#[test]
fn parses_the_documented_shape() {
    let e = parse(
        r#"{"error":{"message":"Error validating access token","type":"OAuthException",
        "code":190,"error_subcode":460,"error_user_title":"t","error_user_msg":"m",
        "error_data":{"messaging_product":"whatsapp","details":"d"},"fbtrace_id":"AbCd"}}"#,
    )
    .unwrap();
    assert_eq!(e.code(), 190);
    assert_eq!(e.subcode(), Some(460));
    assert_eq!(e.kind(), ErrorKind::TokenRevoked);
    assert_eq!(e.fbtrace_id(), Some("AbCd"));
    assert_eq!(e.user_title(), Some("t"));
    assert_eq!(e.user_message(), Some("m"));
    assert_eq!(e.details(), Some("d"));
    assert_eq!(e.error_type(), "OAuthException");
    assert_eq!(e.status(), StatusCode::BAD_REQUEST);
    assert!(!e.is_transient());
    let unauthorized = GraphError::parse(
        StatusCode::UNAUTHORIZED,
        br#"{"error":{"message":"m","code":190,"is_transient":true}}"#,
    )
    .unwrap();
    assert_eq!(unauthorized.status(), StatusCode::UNAUTHORIZED);
    assert!(unauthorized.is_transient());
}

/// Debug shows every field a developer needs to read the error (and the
/// message redacted, as everywhere).
#[test]
fn debug_shows_the_fields_with_the_message_redacted() {
    let e = parse(
        r#"{"error":{"message":"Malformed access token EAAGm0PX4ZCpsBAFakeFakeFake","type":"OAuthException",
        "code":190,"error_subcode":467,"error_data":{"details":"d"},"is_transient":false,"fbtrace_id":"AbCd"}}"#,
    )
    .unwrap();
    assert_eq!(
        format!("{e:?}"),
        r#"GraphError { status: 400, code: 190, subcode: Some(467), kind: TokenInvalid, type: "OAuthException", message: "Malformed access token [redacted]", details: Some("d"), is_transient: false, fbtrace_id: Some("AbCd") }"#
    );
}

#[test]
fn optional_fields_may_be_missing_and_codes_may_be_strings() {
    let e = parse(r#"{"error":{"code":"10"}}"#).unwrap();
    assert_eq!(e.kind(), ErrorKind::PermissionMissing);
    assert_eq!(e.fbtrace_id(), None);
    assert_eq!(e.message(), "");
}

#[test]
fn non_errors_are_none() {
    for body in [
        "",
        "   ",
        "<html><body>502 Bad Gateway</body></html>",
        r#"{"error":{"message":"no code"}}"#,
        r#"{"error":"string"}"#,
        r#"{"data":[]}"#,
        r#"{"error":{"code":190"#,
        "[1,2,3]",
        r#"{"error":{"code":1.5}}"#,
    ] {
        assert!(parse(body).is_none(), "{body:?}");
    }
}

#[test]
fn token_like_words_are_redacted_from_messages() {
    let token = "EAAGm0PX4ZCpsBAKZCsomethingLONGandSECRET123";
    let e = parse(&format!(
        r#"{{"error":{{"message":"Malformed access token {token}.","code":190}}}}"#
    ))
    .unwrap();
    assert!(!e.message().contains(token), "{}", e.message());
    assert!(e.message().starts_with("Malformed access token [redacted]"));
    assert!(!format!("{e} {e:?}").contains(token));
    // Ordinary prose is untouched.
    let e = parse(r#"{"error":{"message":"(#10) Permission denied","code":10}}"#).unwrap();
    assert_eq!(e.message(), "(#10) Permission denied");
}

#[test]
fn trace_ids_are_kept_even_when_they_look_like_tokens() {
    // Found by the soak: a trace id starting with EAA was redacted.
    let e = parse(r#"{"error":{"code":0,"message":"","fbtrace_id":"EAAA_A-0AA000_00"}}"#).unwrap();
    assert_eq!(e.fbtrace_id(), Some("EAAA_A-0AA000_00"));
}

#[test]
fn huge_messages_are_capped_on_a_char_boundary() {
    let msg = "é".repeat(10_000);
    let e = parse(&format!(r#"{{"error":{{"message":"{msg}","code":1}}}}"#)).unwrap();
    assert!(e.message().len() <= MAX_TEXT + '…'.len_utf8());
}

#[test]
fn display_names_kind_code_and_hint() {
    let e = GraphError::new(StatusCode::UNAUTHORIZED, 190, Some(463), "expired");
    let shown = e.to_string();
    assert!(shown.contains("token expired (code 190, subcode 463, HTTP 401)"));
    assert!(shown.contains("ahead of expiry"));
}

#[test]
fn whatsapp_fields_are_kept_and_shown() {
    let e = parse(
        r#"{"error":{"message":"(#132001) Template name does not exist in the translation","type":"OAuthException","code":132001,
        "error_user_title":"Template missing","error_user_msg":"Check the name",
        "error_data":{"messaging_product":"whatsapp","details":"template name (hello) does not exist in en_US"},
        "is_transient":false,"fbtrace_id":"A1"}}"#,
    )
    .unwrap();
    assert_eq!(
        e.details(),
        Some("template name (hello) does not exist in en_US")
    );
    assert!(!e.is_transient());
    let shown = e.to_string();
    assert!(
        shown.contains("[Template missing: Check the name]"),
        "{shown}"
    );
    assert!(
        shown.contains("(template name (hello) does not exist in en_US)"),
        "{shown}"
    );
    assert!(shown.contains("template error"), "{shown}");
}

#[test]
fn codes_are_read_from_the_message_head_when_missing() {
    let e =
        parse(r#"{"error":{"message":"(#1) An unknown error occurred","type":"OAuthException"}}"#)
            .unwrap();
    assert_eq!(e.code(), 1);
    assert!(
        parse(r#"{"error":{"message":"Unsupported post request","error_subcode":33}}"#).is_none()
    );
}

#[test]
fn advice_replaces_the_generic_hint_and_survives_clones() {
    let e = GraphError::new(StatusCode::BAD_REQUEST, 190, Some(463), "expired").advised("do this");
    assert_eq!(e.clone().hint(), "do this");
    assert!(e.to_string().ends_with("; do this"));
}
