//! How Graph paths are shaped: an optional version segment (`/v25.0`),
//! then the node (a phone number id, a WhatsApp Business Account id, …),
//! then its edge (`/messages`). Read from paths the application built, by
//! the request path, the tenant-aware stack and the throughput shaper.

/// `v25.0`, `v9`: a Graph version segment (no slashes).
pub(crate) fn is_version(segment: &str) -> bool {
    let Some(digits) = segment.strip_prefix('v') else {
        return false;
    };
    let (major, minor) = digits.split_once('.').unwrap_or((digits, "0"));
    let number = |s: &str| !s.is_empty() && s.len() <= 4 && s.bytes().all(|b| b.is_ascii_digit());
    number(major) && number(minor)
}

/// The segments of `path` after its version segment, if it has one.
fn after_version(path: &str) -> impl Iterator<Item = &str> {
    let mut segments = path.split('/').skip(1).peekable();
    if segments.peek().is_some_and(|s| is_version(s)) {
        segments.next();
    }
    segments
}

/// The node a path addresses: `106540352242922` in
/// `/v25.0/106540352242922/messages` or `/106540352242922`. `None` for a
/// path whose node is not a numeric id (`/debug_token`, `/me`, `/oauth/…`).
pub(crate) fn node(path: &str) -> Option<&str> {
    let node = after_version(path).next()?;
    (!node.is_empty() && node.len() <= 32 && node.bytes().all(|b| b.is_ascii_digit()))
        .then_some(node)
}

/// The phone number id of a message send (`/{phone-number-id}/messages`,
/// with or without a version segment), or `None` for any other call.
pub(crate) fn message_sender(path: &str) -> Option<&str> {
    let path = path.strip_suffix('/').unwrap_or(path);
    let mut rest = after_version(path);
    let (number, edge) = (rest.next()?, rest.next()?);
    (edge == "messages" && rest.next().is_none() && !number.is_empty()).then_some(number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_v_and_digits() {
        for (segment, version) in [
            ("v25.0", true),
            ("v9", true),
            ("v2025.12", true),
            ("v25.", false),
            ("v.0", false),
            ("x25.0", false),
            ("v25.x", false),
            ("v12345", false),
            ("video", false),
            ("", false),
        ] {
            assert_eq!(is_version(segment), version, "{segment}");
        }
    }

    #[test]
    fn the_node_is_the_first_numeric_segment_after_the_version() {
        for (path, want) in [
            ("/v25.0/106540352242922/messages", Some("106540352242922")),
            ("/106540352242922/messages", Some("106540352242922")),
            ("/106540352242922", Some("106540352242922")),
            (
                "/v25.0/102290129340398/message_templates",
                Some("102290129340398"),
            ),
            ("/v25.0/debug_token", None),
            ("/v25.0/me/permissions", None),
            ("/oauth/access_token", None),
            ("/v25.0/", None),
            ("/", None),
            ("", None),
        ] {
            assert_eq!(node(path), want, "{path}");
        }
    }

    #[test]
    fn message_sends_name_their_number_in_every_form() {
        for path in [
            "/v25.0/106540352242922/messages",
            "/v9/106540352242922/messages",
            "/106540352242922/messages",
            "/106540352242922/messages/",
        ] {
            assert_eq!(message_sender(path), Some("106540352242922"), "{path}");
        }
        for path in [
            "/v25.0/106540352242922",
            "/v25.0/106540352242922/message_templates",
            "/v25.0/debug_token",
            "/v25.0/oauth/access_token",
            "/v25.0/me/permissions",
            "/messages",
            "//messages",
            "/v25.0//messages",
            "/v25.0/a/b/messages",
            "/x25.0/1/messages",
            "/v25.x/1/messages",
            "",
        ] {
            assert_eq!(message_sender(path), None, "{path}");
        }
    }
}
