//! How Graph paths are shaped: an optional version segment (`/v25.0`),
//! then the node (a phone number id, a WhatsApp Business Account id, …),
//! then its edge (`/messages`). Read from paths the application built, by
//! the request path, the tenant-aware stack and the throughput shaper.

/// `v25.0`, `v9`: a Graph version segment (no slashes).
pub(crate) fn is_version(segment: &str) -> bool {
    let Some(digits) = segment.strip_prefix('v') else {
        return false;
    };
    let (major, minor) = match digits.bytes().position(|b| b == b'.') {
        Some(dot) => (&digits[..dot], &digits[dot + 1..]),
        None => (digits, "0"),
    };
    let number = |s: &str| !s.is_empty() && s.len() <= 4 && s.bytes().all(|b| b.is_ascii_digit());
    number(major) && number(minor)
}

/// The first segment of `s`, and what follows its slash, if one does.
/// Paths are short, and the tenant-aware stack and the shaper read one on
/// every request: a byte scan, where a general string search (`split`,
/// `find`) costs more than the scan.
#[cfg_attr(
    not(any(feature = "throughput", feature = "tenants")),
    allow(dead_code)
)]
#[inline]
fn segment(s: &str) -> (&str, Option<&str>) {
    match s.bytes().position(|b| b == b'/') {
        Some(slash) => (&s[..slash], Some(&s[slash + 1..])),
        None => (s, None),
    }
}

/// The first segment of `path` after its version segment (if it has one),
/// and what follows that segment's slash.
#[cfg_attr(
    not(any(feature = "throughput", feature = "tenants")),
    allow(dead_code)
)]
#[inline]
fn after_version(path: &str) -> Option<(&str, Option<&str>)> {
    let (first, rest) = segment(segment(path).1?);
    if is_version(first) {
        Some(segment(rest?))
    } else {
        Some((first, rest))
    }
}

/// The node a path addresses: `106540352242922` in
/// `/v25.0/106540352242922/messages` or `/106540352242922`. `None` for a
/// path whose node is not a numeric id (`/debug_token`, `/me`, `/oauth/…`).
/// One scan of the digits finds the node and its end: the tenant-aware
/// stack reads it on every request.
#[cfg_attr(not(feature = "tenants"), allow(dead_code))]
pub(crate) fn node(path: &str) -> Option<&str> {
    let mut rest = segment(path).1?;
    if rest.starts_with('v') {
        // A version segment, then the node; any other segment starting
        // with `v` is not a numeric id.
        let (version, after) = segment(rest);
        if !is_version(version) {
            return None;
        }
        rest = after?;
    }
    let end = rest
        .bytes()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(rest.len());
    let ends_segment = matches!(rest.as_bytes().get(end), None | Some(b'/'));
    (end > 0 && end <= 32 && ends_segment).then(|| &rest[..end])
}

/// The phone number id of a message send (`/{phone-number-id}/messages`,
/// with or without a version segment), or `None` for any other call.
#[cfg_attr(
    not(any(feature = "throughput", feature = "tenants")),
    allow(dead_code)
)]
pub(crate) fn message_sender(path: &str) -> Option<&str> {
    let path = path.strip_suffix('/').unwrap_or(path);
    let (number, rest) = after_version(path)?;
    let (edge, rest) = segment(rest?);
    (edge == "messages" && rest.is_none() && !number.is_empty()).then_some(number)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The readings by `str::split`, which the byte scans replace.
    fn by_split(path: &str) -> (Option<&str>, Option<&str>) {
        let after = |path| {
            let mut segments = str::split(path, '/').skip(1).peekable();
            if segments.peek().is_some_and(|s| is_version(s)) {
                segments.next();
            }
            segments
        };
        let node = after(path)
            .next()
            .filter(|n| !n.is_empty() && n.len() <= 32 && n.bytes().all(|b| b.is_ascii_digit()));
        let mut rest = after(path.strip_suffix('/').unwrap_or(path));
        let sender = match (rest.next(), rest.next()) {
            (Some(number), Some("messages")) if rest.next().is_none() && !number.is_empty() => {
                Some(number)
            }
            _ => None,
        };
        (node, sender)
    }

    /// Every path built from these pieces reads the same as by `split`.
    #[test]
    fn byte_scans_read_paths_as_split_does() {
        let pieces = [
            "", "/", "v25.0", "v9", "1065", "messages", "me", "x", "v25.x",
        ];
        let (mut count, mut nodes, mut senders) = (0, 0, 0);
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    for d in ["", "/", "messages", "/messages/"] {
                        let path = format!("{a}/{b}/{c}{d}");
                        for path in [path.clone(), format!("/{path}"), path.replace("//", "/")] {
                            let ours = (node(&path), message_sender(&path));
                            assert_eq!(ours, by_split(&path), "{path:?}");
                            count += 1;
                            nodes += usize::from(ours.0.is_some());
                            senders += usize::from(ours.1.is_some());
                        }
                    }
                }
            }
        }
        assert!(
            count > 2_000 && nodes > 50 && senders > 10,
            "{count} {nodes} {senders}"
        );
    }

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
