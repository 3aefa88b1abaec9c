//! The host rule: a token goes only to Meta's hosts.
//!
//! A request carries the token (and, to Graph, the `appsecret_proof`) only
//! when it goes to the configured Graph base's host or to a media host
//! (`lookaside.fbsbx.com`, where `GET /{media-id}` points downloads, and any
//! the user adds). A request to any other host fails unsent, so a bot that
//! fetches a link a customer sent through the stack it holds never hands
//! that host its token. Plain `http://` goes only to loopback addresses
//! unless the user opts in: a token in clear text over a network is a token
//! given away.

use http::uri::{Authority, Scheme};
use http::Uri;

use crate::error::Error;

/// The media host `GET /{media-id}` answers download URLs on (Meta's
/// "Retrieve media URL" reference: `https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=…`).
pub const DEFAULT_MEDIA_HOST: &str = "lookaside.fbsbx.com";

/// Where a token may go, decided once per configuration.
#[derive(Clone, Debug)]
pub(crate) struct HostRule {
    /// The Graph base's authority as written (`graph.facebook.com`,
    /// `127.0.0.1:4000`): compared byte for byte on the hot path.
    graph: Box<str>,
    /// The Graph base's scheme is `https`.
    graph_https: bool,
    /// Graph's host and port, lower case, the port made explicit.
    graph_host: Endpoint,
    /// The media hosts, lower case, with the port when one was given.
    media: Vec<Endpoint>,
    /// `http://` allowed to hosts other than loopback ones.
    plain_http: bool,
    /// The Graph base itself may get the token: https, loopback, or plain
    /// http opted in.
    graph_ok: bool,
}

/// A host, lower case, and its port (none: the scheme's default).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Endpoint {
    host: Box<str>,
    port: Option<u16>,
}

impl Endpoint {
    /// `host[:port]`, as a user writes it; `None` when it is not one.
    fn parse(text: &str) -> Option<Endpoint> {
        let authority: Authority = text.trim().parse().ok()?;
        if authority.as_str().contains('@') || authority.host().is_empty() {
            return None;
        }
        Some(Endpoint {
            host: authority.host().to_ascii_lowercase().into(),
            port: authority.port_u16(),
        })
    }

    /// Whether `host` on `port` (the request's, its scheme's default when
    /// it names none) is this endpoint.
    fn is(&self, host: &str, port: u16, default_port: u16) -> bool {
        self.host.eq_ignore_ascii_case(host) && self.port.unwrap_or(default_port) == port
    }
}

impl HostRule {
    /// The rule for a Graph base URL, extra media hosts (`host[:port]`) and
    /// the plain-http opt-in. A base that does not parse admits only bare
    /// paths (the configuration check reports the base itself).
    pub(crate) fn new(graph_base: &str, media_hosts: &[String], plain_http: bool) -> HostRule {
        let base: Option<Uri> = graph_base.parse().ok();
        let authority = base.as_ref().and_then(Uri::authority);
        let graph_https = base.as_ref().and_then(Uri::scheme) == Some(&Scheme::HTTPS);
        let graph_host = authority.map_or(
            Endpoint {
                host: "".into(),
                port: None,
            },
            |a| Endpoint {
                host: a.host().to_ascii_lowercase().into(),
                port: Some(a.port_u16().unwrap_or(if graph_https { 443 } else { 80 })),
            },
        );
        let graph_ok = graph_https || plain_http || is_loopback(&graph_host.host);
        HostRule {
            graph_ok,
            // A base the token may not go to is matched by no request on
            // the fast path: each goes through `check`, which refuses it.
            graph: match graph_ok {
                true => authority.map_or("", Authority::as_str).into(),
                false => "".into(),
            },
            graph_https,
            graph_host,
            media: std::iter::once(DEFAULT_MEDIA_HOST)
                .chain(media_hosts.iter().map(String::as_str))
                .filter_map(Endpoint::parse)
                .collect(),
            plain_http,
        }
    }

    /// Whether `host[:port]` can be a media host.
    pub(crate) fn valid_host(text: &str) -> bool {
        Endpoint::parse(text).is_some()
    }

    /// Whether a request to `uri` may carry the token. A bare path goes to
    /// the Graph base; the Graph base itself, as configured, is compared
    /// first and byte for byte (nearly every request).
    #[inline]
    pub(crate) fn admits(&self, uri: &Uri) -> bool {
        match uri.authority() {
            None => self.graph_ok,
            Some(a) if a.as_str() == &*self.graph && self.same_scheme_as_graph(uri) => true,
            Some(_) => self.check(uri).is_ok(),
        }
    }

    #[inline]
    fn same_scheme_as_graph(&self, uri: &Uri) -> bool {
        (uri.scheme() == Some(&Scheme::HTTPS)) == self.graph_https
    }

    /// Whether `uri` goes to Graph's own host (where the proof belongs).
    #[inline]
    pub(crate) fn is_graph(&self, uri: &Uri) -> bool {
        match uri.authority() {
            None => true,
            Some(a) if a.as_str() == &*self.graph => self.same_scheme_as_graph(uri),
            Some(_) => self.place(uri) == Some(Place::Graph),
        }
    }

    /// Why a request to `uri` may not carry the token, naming its host.
    #[inline(never)]
    pub(crate) fn check(&self, uri: &Uri) -> Result<(), Error> {
        let Some(authority) = uri.authority() else {
            return match self.graph_ok {
                true => Ok(()),
                false => Err(Error::PlainHttp {
                    host: self.graph_host.host.to_string(),
                }),
            };
        };
        let host = authority.host();
        let named = || {
            authority
                .as_str()
                .rsplit('@')
                .next()
                .unwrap_or("")
                .to_owned()
        };
        let https = match uri.scheme_str() {
            Some(s) if s.eq_ignore_ascii_case("https") => true,
            Some(s) if s.eq_ignore_ascii_case("http") => false,
            _ => return Err(Error::HostNotAllowed { host: named() }),
        };
        if self.place(uri).is_none() {
            return Err(Error::HostNotAllowed { host: named() });
        }
        if !https && !self.plain_http && !is_loopback(host) {
            return Err(Error::PlainHttp { host: named() });
        }
        Ok(())
    }

    /// Which of the allowed hosts `uri` goes to (host and port, whatever
    /// their case), if any.
    fn place(&self, uri: &Uri) -> Option<Place> {
        let authority = uri.authority()?;
        if authority.as_str().contains('@') {
            // `user@host`: a form no client of Graph needs, and one that
            // hides the real host from a quick read.
            return None;
        }
        let default_port = match uri.scheme() {
            Some(s) if *s == Scheme::HTTPS => 443,
            _ => 80,
        };
        let port = authority.port_u16().unwrap_or(default_port);
        let host = authority.host();
        if self.graph_host.is(host, port, default_port) {
            return Some(Place::Graph);
        }
        self.media
            .iter()
            .any(|m| m.is(host, port, default_port))
            .then_some(Place::Media)
    }
}

/// An allowed host, by what it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    Graph,
    Media,
}

/// `localhost`, `127.0.0.0/8` or `[::1]`: traffic that never leaves the
/// machine.
pub(crate) fn is_loopback(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(base: &str, media: &[&str], plain_http: bool) -> HostRule {
        let media: Vec<String> = media.iter().map(|m| m.to_string()).collect();
        HostRule::new(base, &media, plain_http)
    }

    fn verdict(rule: &HostRule, uri: &str) -> &'static str {
        let uri: Uri = uri.parse().unwrap();
        let checked = rule.check(&uri);
        assert_eq!(rule.admits(&uri), checked.is_ok(), "{uri}");
        match checked {
            Ok(()) if rule.is_graph(&uri) => "graph",
            Ok(()) => "media",
            Err(Error::HostNotAllowed { .. }) => "foreign",
            Err(Error::PlainHttp { .. }) => "plain http",
            Err(other) => panic!("{other}"),
        }
    }

    /// Each host a request may name, against the default rule.
    #[test]
    fn only_graph_and_the_media_hosts_get_the_token() {
        let default = rule("https://graph.facebook.com", &[], false);
        let table = [
            ("/v25.0/1/messages", "graph"),
            ("https://graph.facebook.com/v25.0/1/messages", "graph"),
            ("https://GRAPH.facebook.com:443/v25.0/1", "graph"),
            (
                "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1",
                "media",
            ),
            ("https://Lookaside.FBSBX.com:443/x", "media"),
            ("https://lookaside.fbsbx.com:8443/x", "foreign"),
            // Port 80 is not the configured base (443).
            ("http://graph.facebook.com/v25.0/1", "foreign"),
            ("http://lookaside.fbsbx.com/x", "plain http"),
            ("https://example.com/cat.jpg", "foreign"),
            ("https://graph.facebook.com.evil.example/v25.0/1", "foreign"),
            ("https://evil.example@graph.facebook.com/v25.0/1", "foreign"),
            ("https://fbsbx.com/x", "foreign"),
            ("ftp://graph.facebook.com/x", "foreign"),
            ("https://127.0.0.1:9/x", "foreign"),
        ];
        for (uri, expected) in table {
            assert_eq!(verdict(&default, uri), expected, "{uri}");
        }
    }

    /// A fake Graph on loopback, with its media host on a second port.
    #[test]
    fn a_local_fake_and_its_media_listener() {
        let local = rule("http://127.0.0.1:4000", &["127.0.0.1:4001"], false);
        let table = [
            ("/v25.0/1/messages", "graph"),
            ("http://127.0.0.1:4000/v25.0/1/messages", "graph"),
            ("http://127.0.0.1:4001/media/1", "media"),
            ("http://127.0.0.1:4002/media/1", "foreign"),
            ("http://localhost:4001/media/1", "foreign"),
            ("https://lookaside.fbsbx.com/x", "media"),
            ("https://graph.facebook.com/v25.0/1", "foreign"),
        ];
        for (uri, expected) in table {
            assert_eq!(verdict(&local, uri), expected, "{uri}");
        }
        let lan = rule("http://127.0.0.1:4000", &["10.1.2.3:80", "[::1]:9"], false);
        assert_eq!(verdict(&lan, "http://10.1.2.3/m"), "plain http");
        assert_eq!(verdict(&lan, "http://[::1]:9/m"), "media");
        let opted_in = rule("http://127.0.0.1:4000", &["10.1.2.3:80"], true);
        assert_eq!(verdict(&opted_in, "http://10.1.2.3/m"), "media");
        // A plain-http Graph base off loopback gets the token only when
        // opted in: bare paths and its own URLs alike.
        let lan_graph = rule("http://10.0.0.5:8080", &[], false);
        for uri in ["/v25.0/1/messages", "http://10.0.0.5:8080/v25.0/1/messages"] {
            let uri: Uri = uri.parse().unwrap();
            assert!(!lan_graph.admits(&uri), "{uri}");
            assert!(
                matches!(lan_graph.check(&uri), Err(Error::PlainHttp { .. })),
                "{uri}"
            );
        }
        let lan_graph = rule("http://10.0.0.5:8080", &[], true);
        assert!(lan_graph.admits(&"/v25.0/1/messages".parse().unwrap()));
    }

    /// The refusal names the host (not the path, not a query) and reads as
    /// what to do.
    #[test]
    fn a_refusal_names_the_host_only() {
        let default = rule("https://graph.facebook.com", &[], false);
        let uri: Uri = "https://u:p@cdn.example.com:8443/a?access_token=x"
            .parse()
            .unwrap();
        let err = default.check(&uri).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("cdn.example.com:8443"), "{text}");
        assert!(
            !text.contains("access_token") && !text.contains("u:p"),
            "{text}"
        );
        assert!(HostRule::valid_host("127.0.0.1:4001"));
        assert!(HostRule::valid_host("media.example.com"));
        assert!(!HostRule::valid_host("http://x/"));
        assert!(!HostRule::valid_host("a@b"));
        assert!(!HostRule::valid_host(""));
    }
}
