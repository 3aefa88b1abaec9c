//! Who an outgoing message is addressed to, read as Graph reads it: `to` (a
//! phone number, or a group id with `recipient_type: "group"`) wins over
//! `recipient` (a business-scoped user id); an empty one is refused.

use bytes::Bytes;
use http::Response;
use http_body_util::Full;
use serde_json::{json, Value};

use super::answers::{graph_error, json};

/// The `contacts[]` entry Graph answers a send with (Meta's
/// business-scoped user ids page: `wa_id` empty and `user_id` set for a
/// send to a BSUID; the group id as `input` for a group), or Graph's
/// refusal: an empty `to` (or an empty `recipient` without `to`) is an
/// invalid parameter (code 100, `error_data.details` saying which, the
/// shape of captured 100s, e.g. fixture #39), and neither is "The
/// parameter to is required".
pub(super) fn addressee(body: &Value) -> Result<Value, Box<Response<Full<Bytes>>>> {
    let field = |name: &str| body.get(name).and_then(Value::as_str);
    match (field("to"), field("recipient")) {
        (Some(to), _) if to.trim().is_empty() => Err(invalid("to").into()),
        (Some(to), _) if field("recipient_type") == Some("group") => Ok(json!({ "input": to })),
        (Some(to), _) => Ok(json!({ "input": to, "wa_id": to })),
        (None, Some(user)) if user.trim().is_empty() => Err(invalid("recipient").into()),
        (None, Some(user)) => Ok(json!({ "input": user, "wa_id": "", "user_id": user })),
        (None, None) => {
            Err(graph_error(400, 100, None, "(#100) The parameter to is required.").into())
        }
    }
}

fn invalid(parameter: &str) -> Response<Full<Bytes>> {
    let body = json!({ "error": {
        "message": "(#100) Invalid parameter",
        "type": "OAuthException",
        "code": 100,
        "error_data": {
            "messaging_product": "whatsapp",
            "details": format!("Invalid parameter '{parameter}': the recipient is empty"),
        },
        "fbtrace_id": "AFakeTrace100",
    }});
    json(400, body.to_string())
}
