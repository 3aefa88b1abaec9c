use http::StatusCode;

use super::*;
use crate::graph::GraphError;

#[test]
fn codes_and_subcodes_follow_the_table() {
    let cases = [
        (190, Some(463), ErrorKind::TokenExpired),
        (0, Some(463), ErrorKind::TokenExpired),
        (190, Some(467), ErrorKind::TokenInvalid),
        (102, Some(467), ErrorKind::TokenInvalid),
        (190, None, ErrorKind::TokenInvalid),
        (190, Some(999), ErrorKind::TokenInvalid),
        // 458–467 mean the same under any code, not only the token codes.
        (100, Some(467), ErrorKind::TokenInvalid),
        (100, Some(458), ErrorKind::TokenRevoked),
        (1, Some(463), ErrorKind::TokenExpired),
        (0, None, ErrorKind::TokenInvalid),
        (102, None, ErrorKind::TokenInvalid),
        (2500, None, ErrorKind::TokenInvalid),
        (3, None, ErrorKind::PermissionMissing),
        (10, None, ErrorKind::PermissionMissing),
        (200, None, ErrorKind::PermissionMissing),
        (299, None, ErrorKind::PermissionMissing),
        (131005, None, ErrorKind::PermissionMissing),
        (300, None, ErrorKind::Other),
        (1, None, ErrorKind::Transient),
        (2, None, ErrorKind::Transient),
        (1150, None, ErrorKind::Transient),
        (1200, Some(2018024), ErrorKind::Transient),
        (131000, Some(2494002), ErrorKind::Transient),
        (131016, None, ErrorKind::Transient),
        (100, None, ErrorKind::Other),
        (100, Some(33), ErrorKind::Other),
        (132001, None, ErrorKind::Other),
        (368, None, ErrorKind::Other),
        (131031, None, ErrorKind::Other),
        // Meta's business-scoped user ids page: a BSUID recipient is not
        // supported for this message (authentication templates).
        (131062, None, ErrorKind::Other),
        // The app refused (101): its id is what to fix, whatever the
        // subcode says of the user's token (as `GraphError::kind` says).
        (101, None, ErrorKind::Misconfigured),
        (101, Some(458), ErrorKind::Misconfigured),
        (101, Some(463), ErrorKind::Misconfigured),
    ];
    for (code, sub, kind) in cases {
        assert_eq!(ErrorKind::from_codes(code, sub), kind, "{code}/{sub:?}");
    }
    for sub in [458, 459, 460, 464, 466] {
        for code in [190, 0, 102, 10] {
            assert_eq!(
                ErrorKind::from_codes(code, Some(sub)),
                ErrorKind::TokenRevoked,
                "{code}/{sub}"
            );
        }
    }
    for sub in [492, 493] {
        assert_eq!(
            ErrorKind::from_codes(190, Some(sub)),
            ErrorKind::TokenRevoked
        );
    }
    for code in [4, 17, 32, 341, 613, 80007, 130429, 131056, 131048] {
        assert_eq!(
            ErrorKind::from_codes(code, None),
            ErrorKind::RateLimited,
            "{code}"
        );
        assert!(!ErrorKind::from_codes(code, None).is_auth());
    }
}

#[test]
fn messages_decide_where_codes_leave_it_open() {
    let kind = |code, sub, message: &str, transient| kind_of(code, sub, message, transient);
    let cases = [
        (190, None, "Error validating access token: Session has expired on Friday", false, ErrorKind::TokenExpired),
        (190, None, "Error validating access token: The session has been invalidated because the user changed their password", false, ErrorKind::TokenRevoked),
        (190, None, "Error validating access token: The user has not authorized application 1.", false, ErrorKind::TokenRevoked),
        (190, None, "Error validating access token: Session does not match current stored session. This may be because the user changed the password since the time the session was created or Facebook has changed the session for security reasons.", false, ErrorKind::TokenRevoked),
        // Each revocation phrase decides alone, whatever wording surrounds it.
        (190, None, "The session has been invalidated.", false, ErrorKind::TokenRevoked),
        (190, None, "The user changed their password.", false, ErrorKind::TokenRevoked),
        (190, None, "The user must be an administrator of the page in order to impersonate it.", false, ErrorKind::PermissionMissing),
        (190, None, "Invalid OAuth access token.", false, ErrorKind::TokenInvalid),
        (1, None, "An unknown error occurred", false, ErrorKind::Transient),
        (1, None, "Please reduce the amount of data you're asking for, then retry your request", false, ErrorKind::Other),
        (1, None, "fb_exchange_token parameter not specified", false, ErrorKind::Other),
        (2500, None, "Unknown path components: /oauth/access_token", false, ErrorKind::Other),
        (100, None, "(#100) Invalid parameter", true, ErrorKind::Transient),
        (4, None, "(#4) Application request limit reached", true, ErrorKind::RateLimited),
        (200, None, "Permissions error", true, ErrorKind::PermissionMissing),
    ];
    for (code, sub, message, transient, expected) in cases {
        assert_eq!(
            kind(code, sub, message, transient),
            expected,
            "{code}: {message}"
        );
    }
}

#[test]
fn misconfigurations_are_their_own_kind_and_name_what_to_fix() {
    for body in [
        r#"{"error":{"message":"Error validating client secret.","type":"OAuthException","code":1}}"#,
        r#"{"error":{"message":"Invalid appsecret_proof provided in the API argument","type":"GraphMethodException","code":100}}"#,
        r#"{"error":{"message":"Error validating application. Invalid application ID.","type":"OAuthException","code":101}}"#,
    ] {
        let err = GraphError::parse(StatusCode::BAD_REQUEST, body.as_bytes()).unwrap();
        assert_eq!(err.kind(), ErrorKind::Misconfigured, "{body}");
        assert!(
            !err.hint().contains("generate a new token"),
            "{}",
            err.hint()
        );
    }
    let cases = [
        (
            100,
            "Invalid appsecret_proof provided in the API argument",
            Misconfiguration::AppSecret,
        ),
        (
            100,
            "API calls from the server require an appsecret_proof argument",
            Misconfiguration::AppSecretMissing,
        ),
        (
            1,
            "Error validating client secret.",
            Misconfiguration::AppSecret,
        ),
        (101, "Invalid Client ID", Misconfiguration::AppId),
        (
            190,
            "Error validating application. Cannot get application info due to a system error.",
            Misconfiguration::AppId,
        ),
        (
            100,
            "(#100) The App_id in the input_token did not match the Viewing App",
            Misconfiguration::AppId,
        ),
    ];
    for (code, message, expected) in cases {
        assert_eq!(misconfiguration(code, message), Some(expected), "{message}");
    }
    assert_eq!(
        misconfiguration(190, "Invalid OAuth access token signature."),
        None
    );
    // On /debug_token the first credential checked is the app token.
    assert_eq!(
        app_token_refusal(190, "Invalid OAuth access token signature."),
        Some(Misconfiguration::AppSecret)
    );
    assert_eq!(
        app_token_refusal(100, "(#100) You must provide an app access token, or a user access token that is an owner or developer of the app"),
        Some(Misconfiguration::AppId)
    );
    assert_eq!(
        app_token_refusal(4, "(#4) Application request limit reached"),
        None
    );
}

/// The classification of every real error body in the fixture file, each
/// as its source says it means (`expect`; `why` where it needed reading).
#[test]
fn captured_graph_errors_are_classified_as_their_sources_say() {
    let fixtures: serde_json::Value =
        serde_json::from_str(include_str!("../../../tests/fixtures/graph_errors.json")).unwrap();
    let fixtures = fixtures.as_array().unwrap();
    assert!(fixtures.len() >= 40, "at least 40 captured payloads");
    let mut checked = 0;
    for (i, fixture) in fixtures.iter().enumerate() {
        let source = fixture["source"].as_str().unwrap();
        assert!(!source.is_empty(), "#{i} names its source");
        let expect = fixture["expect"].as_str().unwrap();
        let status = fixture["status"]
            .as_u64()
            .and_then(|s| StatusCode::from_u16(s as u16).ok())
            .unwrap_or(StatusCode::BAD_REQUEST);
        let body = &fixture["body"];
        let err = if body.get("data").is_some() {
            // /debug_token's answer about the inspected token (HTTP 200).
            body["data"].get("error").map(GraphError::inspected_token)
        } else {
            // Logged bodies sometimes keep only the inner error object.
            let wrapped = match body.get("error") {
                Some(_) => body.clone(),
                None => serde_json::json!({ "error": body }),
            };
            let bytes = serde_json::to_vec(&wrapped).unwrap();
            GraphError::parse(status, &bytes).map(|err| {
                if fixture["endpoint"] == "debug_token" {
                    err.refusing_app_token()
                } else {
                    err
                }
            })
        };
        let got = match &err {
            None => "Unparsed".to_owned(),
            Some(err) => match err.misconfiguration() {
                Some(what) => format!("Misconfigured:{what:?}"),
                None => format!("{:?}", err.kind()),
            },
        };
        assert_eq!(got, expect, "#{i} from {source}: {err:?}");
        checked += 1;
    }
    assert_eq!(checked, fixtures.len());
}

include!("../../../tests/fixtures/error_table.rs");

fn table_line(codes: &str, sub: &str, kind: ErrorKind) -> String {
    let (c, s) = expand(codes, sub)[0];
    format!("| {codes} | {sub} | {kind:?} | {} |", hint(c, s))
}

/// The errors guide's table lists every classified code with its kind and
/// hint, and every code of a multi-code row is classified and hinted as the
/// row says.
#[test]
fn the_error_guide_table_matches_the_code() {
    let guide = include_str!("../../guide/errors.md");
    for &(codes, sub, kind) in TABLE {
        let (first, first_sub) = expand(codes, sub)[0];
        for (code, subcode) in expand(codes, sub) {
            assert_eq!(
                ErrorKind::from_codes(code, subcode),
                kind,
                "{code}/{subcode:?}"
            );
            assert_eq!(
                hint(code, subcode),
                hint(first, first_sub),
                "{code}/{subcode:?}"
            );
        }
        let line = table_line(codes, sub, kind);
        assert!(
            guide.contains(&line),
            "src/guide/errors.md lacks the row\n{line}"
        );
    }
}

/// Prints the table for `src/guide/errors.md`: `cargo test --lib -- --ignored --nocapture print_the_error_table`.
#[test]
#[ignore]
fn print_the_error_table() {
    for &(codes, sub, kind) in TABLE {
        println!("{}", table_line(codes, sub, kind));
    }
}

/// Each configuration mistake is named for what it is and says what to set,
/// in the error a caller sees; none of it blames the token.
#[test]
fn misconfigurations_name_the_setting_and_the_fix() {
    let cases = [
        (
            Misconfiguration::AppSecret,
            "app secret",
            "Invalid appsecret_proof provided in the API argument",
            "the app secret is wrong",
            "set the secret of the app that issued the token",
        ),
        (
            Misconfiguration::AppId,
            "app id",
            "Error validating application. Invalid application ID.",
            "the app id is wrong, or the token belongs to another app",
            "set the id and secret of the app that issued the token",
        ),
        (
            Misconfiguration::AppSecretMissing,
            "app secret missing",
            "API calls from the server require an appsecret_proof argument",
            "the app requires an app secret and none is configured",
            "configure its app secret",
        ),
    ];
    for (what, name, message, describe, fix) in cases {
        assert_eq!(what.to_string(), name);
        assert_eq!(what.describe(), describe);
        assert!(what.fix().contains(fix), "{}", what.fix());
        let code = if what == Misconfiguration::AppId {
            101
        } else {
            100
        };
        let body = format!(r#"{{"error":{{"message":"{message}","code":{code}}}}}"#);
        let cause = GraphError::parse(StatusCode::BAD_REQUEST, body.as_bytes()).unwrap();
        assert_eq!(cause.misconfiguration(), Some(what), "{message}");
        assert_eq!(cause.hint(), what.fix());
        assert!(!cause.to_string().contains("new token"), "{cause}");
    }
}
