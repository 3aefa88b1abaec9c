//! [`Stamp`]: a token and what every request carrying it needs, computed
//! once per token: the `Authorization` value and the `appsecret_proof`,
//! with the URIs requests go to kept as they are sent (the configured base
//! and version before a bare path, the proof added).

use std::sync::{Arc, OnceLock};

use arc_swap::ArcSwapOption;
use http::header::AUTHORIZATION;
use http::request::Parts;
use http::uri::Authority;
use http::{HeaderMap, HeaderValue, Request, Uri};

use crate::calls::proof;
use crate::config::Config;
use crate::secret::Secret;

/// A URI as a request gave it, and as it is sent.
type Target = (Uri, Uri);

/// A token and everything derived from it, computed once per token.
pub(crate) struct Stamp {
    pub(crate) token: Secret,
    bearer: HeaderValue,
    /// `appsecret_proof=<hex>`, with an app secret configured.
    proof: Option<Box<str>>,
    /// URIs stamped before, as they came and as they were sent: clients
    /// send to a handful of URIs (nearly always the messages endpoint), so
    /// a hit saves building and parsing a new one, and moving its parts.
    /// URIs without a query fill these slots once, in order; reading a slot
    /// is an acquire load, with no lock and nothing written. (The hit
    /// itself is a clone of the kept URI: reference counts.)
    fixed: [OnceLock<Box<Target>>; FIXED_URIS],
    /// The last URI that missed `fixed` (one with a query, or any once they
    /// are full), replaced at each miss: a client whose busy URI came after
    /// the slots filled up still gets hits.
    last: ArcSwapOption<Target>,
}

/// How many query-less URIs a token keeps, for good, as they are sent.
const FIXED_URIS: usize = 4;

impl Stamp {
    /// `None` when the token cannot be sent in a header.
    pub(crate) fn new(token: Secret, config: &Config) -> Option<Stamp> {
        let bearer = proof::bearer(&token)?;
        let proof = proof::proof_pair(config.app_secret.as_ref(), &token);
        let stamp = Stamp {
            token,
            bearer,
            proof,
            fixed: Default::default(),
            last: ArcSwapOption::empty(),
        };
        // Seeded with the configured phone number's messages endpoint.
        if let (Some(_), Some(url)) = (&stamp.proof, config.messages_url()) {
            if let Ok(from) = url.parse::<Uri>() {
                if let Some(to) = stamp.build(&from, config) {
                    let _ = stamp.fixed[0].set(Box::new((from, to)));
                }
            }
        }
        Some(stamp)
    }

    /// The `appsecret_proof` value, with an app secret configured.
    pub(crate) fn proof(&self) -> Option<&str> {
        self.proof.as_deref()?.split_once('=').map(|(_, v)| v)
    }

    /// Sets `Authorization: Bearer …` (replacing any the caller set) and
    /// sends `req` where it goes: a bare path to the configured Graph base
    /// and version, with the `appsecret_proof` query parameter. Gives back
    /// the request's own URI when it was replaced, for a copy to keep
    /// without cloning it.
    #[inline]
    pub(crate) fn apply<B>(&self, req: &mut Request<B>, config: &Config) -> Option<Uri> {
        set_bearer(req.headers_mut(), &self.bearer);
        self.retarget(req.uri_mut(), config)
    }

    /// [`apply`](Stamp::apply) to a request's head, before its body joins
    /// it: the request is then built once, where it is sent.
    #[inline]
    pub(crate) fn apply_to_head(&self, head: &mut Parts, config: &Config) -> Option<Uri> {
        set_bearer(&mut head.headers, &self.bearer);
        self.retarget(&mut head.uri, config)
    }

    /// Points `uri` where it is sent; gives back the URI it replaced.
    #[inline]
    fn retarget(&self, uri: &mut Uri, config: &Config) -> Option<Uri> {
        if self.proof.is_none() && uri.authority().is_some() {
            return None;
        }
        let to = self.target(uri, config)?;
        Some(std::mem::replace(uri, to))
    }

    /// Where a request to `from` is sent: kept from an earlier request to
    /// the same URI, or built (and kept).
    #[inline]
    fn target(&self, from: &Uri, config: &Config) -> Option<Uri> {
        let mut free = None;
        for slot in &self.fixed {
            match slot.get() {
                Some(kept) if same(&kept.0, from) => return Some(kept.1.clone()),
                Some(_) => {}
                None => {
                    free = Some(slot);
                    break;
                }
            }
        }
        if let Some(last) = &*self.last.load() {
            if same(&last.0, from) {
                return Some(last.1.clone());
            }
        }
        self.miss(from, free, config)
    }

    /// A URI not kept: built, and kept in `free` (a slot left) or as the
    /// last. Out of line: rare, and kept off the hot path's code.
    #[inline(never)]
    fn miss(
        &self,
        from: &Uri,
        free: Option<&OnceLock<Box<Target>>>,
        config: &Config,
    ) -> Option<Uri> {
        let to = self.build(from, config)?;
        let kept = (from.clone(), to.clone());
        match free {
            // Two requests may race for the slot: either value is right.
            Some(slot) if from.query().is_none() => {
                let _ = slot.set(Box::new(kept));
            }
            _ => self.last.store(Some(Arc::new(kept))),
        }
        Some(to)
    }

    /// `from` as it is sent: absolute, with the proof.
    fn build(&self, from: &Uri, config: &Config) -> Option<Uri> {
        let absolute = match from.authority() {
            None => config.absolute(from),
            Some(_) => None,
        };
        let Some(pair) = &self.proof else {
            return absolute.map(graph_host_static);
        };
        // The proof is a Graph parameter: a media host (whose download URLs
        // Meta signs, and documents fetching with the bearer alone) gets
        // the request as it came.
        if absolute.is_none() && !config.hosts.is_graph(from) {
            return None;
        }
        let mut to = absolute.unwrap_or_else(|| from.clone());
        let path = proof::authorized_path(to.path_and_query(), pair);
        proof::set_path(&mut to, path);
        Some(graph_host_static(to))
    }
}

/// Graph's own host, as the default base names it (a `static`: one
/// address, which the tests check hits share).
static GRAPH_HOST: &str = "graph.facebook.com";

/// `uri`, whose host, when it is Graph's own, is held as a static string:
/// a kept URI is cloned into every request sent to it, and a static host
/// is copied, not counted (one atomic reference count fewer per request,
/// and one fewer when the request is dropped).
fn graph_host_static(uri: Uri) -> Uri {
    if uri.authority().map(|a| a.as_str()) != Some(GRAPH_HOST) {
        return uri;
    }
    let kept = uri.clone();
    let mut parts = uri.into_parts();
    parts.authority = Some(Authority::from_static(GRAPH_HOST));
    Uri::from_parts(parts).unwrap_or(kept)
}

/// Sets `Authorization` to `bearer`, replacing any. Out of line: the map's
/// insertion inlined at each call site made the hot path's code about
/// 1.5 KiB longer, spread over more instruction-cache lines than it runs.
#[inline(never)]
fn set_bearer(headers: &mut HeaderMap, bearer: &HeaderValue) {
    headers.insert(AUTHORIZATION, bearer.clone());
}

/// The same URI, byte for byte (a case that differs only misses the cache).
#[inline]
fn same(a: &Uri, b: &Uri) -> bool {
    fn pq(u: &Uri) -> Option<&str> {
        u.path_and_query().map(|pq| pq.as_str())
    }
    fn host(u: &Uri) -> Option<&str> {
        u.authority().map(|a| a.as_str())
    }
    pq(a) == pq(b) && host(a) == host(b) && a.scheme() == b.scheme()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proof_config() -> Config {
        let mut config = Config::new(Some(Secret::new("EAAG-token")));
        config.app_secret = Some(Secret::new("app-secret"));
        config.phone_number_id = Some("106540352242922".into());
        config
    }

    /// Stamps a request to `uri`; gives back where it is sent.
    fn stamp_uri(stamp: &Stamp, config: &Config, uri: &str) -> Uri {
        let mut req = Request::post(uri).body(()).unwrap();
        // The request's own URI comes back whenever it is replaced (a copy
        // for a replay keeps it), and only then.
        match stamp.apply(&mut req, config) {
            Some(own) => assert_eq!(own, uri),
            None => assert_eq!(req.uri(), uri),
        }
        assert_eq!(req.headers()[AUTHORIZATION], "Bearer EAAG-token");
        req.uri().clone()
    }

    /// The URI cache never sends one request to another's URI: each request
    /// goes to its own (a bare path under the configured base and version,
    /// a version it names kept, its own host), with the proof added,
    /// whether its URI is a kept one or not.
    #[test]
    fn every_request_goes_to_its_own_uri_with_the_proof() {
        let config = proof_config();
        let stamp = Stamp::new(Secret::new("EAAG-token"), &config).unwrap();
        let proof =
            crate::secret::appsecret_proof(&Secret::new("app-secret"), &Secret::new("EAAG-token"));
        let base = format!("{}/{}", config.graph_base, config.graph_version);
        let messages = format!("{base}/106540352242922/messages");
        let media = format!("{base}/106540352242922/media");
        let fields = format!("{base}/106540352242922?fields=id");
        // Graph's host spelled otherwise: still Graph, so still the proof.
        let other_host = "https://GRAPH.facebook.com:443/v25.0/106540352242922/messages".to_owned();
        let bare = "/106540352242922/messages".to_owned();
        let bare_versioned = "/v24.0/106540352242922/messages".to_owned();
        // More distinct URIs than there are slots, each seen twice.
        let more: Vec<String> = (0..FIXED_URIS + 2)
            .map(|n| format!("{base}/{n}/messages"))
            .collect();
        let first = [
            &messages,
            &media,
            &bare,
            &messages,
            &other_host,
            &fields,
            &bare_versioned,
            &fields,
            &media,
            &bare,
            &other_host,
            &bare_versioned,
        ];
        for uri in first.into_iter().chain(&more).chain(&more) {
            let sent = if uri == &bare {
                format!("{base}{bare}")
            } else if uri == &bare_versioned {
                format!("{}{bare_versioned}", config.graph_base)
            } else {
                uri.clone()
            };
            let sep = if uri.contains('?') { '&' } else { '?' };
            let stamped = stamp_uri(&stamp, &config, uri).to_string();
            assert_eq!(stamped, format!("{sent}{sep}appsecret_proof={proof}"));
        }
    }

    /// A media host's URL is sent as it came: the bearer, never the proof
    /// (a Graph parameter), each time.
    #[test]
    fn a_media_host_gets_the_bearer_and_no_proof() {
        let config = proof_config();
        let stamp = Stamp::new(Secret::new("EAAG-token"), &config).unwrap();
        let url = "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1&ext=2&hash=3";
        for _ in 0..3 {
            assert_eq!(stamp_uri(&stamp, &config, url).to_string(), url);
        }
    }

    /// Without an app secret: an absolute URI is sent as it is; a bare path
    /// under the configured base and version.
    #[test]
    fn without_a_proof_only_bare_paths_change() {
        let mut config = proof_config();
        config.app_secret = None;
        let stamp = Stamp::new(Secret::new("EAAG-token"), &config).unwrap();
        let absolute = "http://127.0.0.1:9/v25.0/1/messages?x=1";
        for _ in 0..2 {
            assert_eq!(stamp_uri(&stamp, &config, absolute).to_string(), absolute);
            assert_eq!(
                stamp_uri(&stamp, &config, "/1/media").to_string(),
                format!("{}/{}/1/media", config.graph_base, config.graph_version)
            );
        }
        assert!(stamp.fixed[0].get().is_some_and(|k| k.0 == "/1/media"));
    }

    /// What is kept: the configured messages endpoint first, then
    /// query-less URIs in the order they came, for good; the last other URI
    /// in its own slot. A hit hands out the kept URI itself (the same
    /// bytes).
    #[test]
    fn kept_uris_fill_in_order_and_the_last_miss_is_kept_apart() {
        let config = proof_config();
        let stamp = Stamp::new(Secret::new("EAAG-token"), &config).unwrap();
        let uri = |path: &str| format!("{}/{}/{path}", config.graph_base, config.graph_version);
        let kept = |i: usize| stamp.fixed[i].get().map(|k| k.0.to_string());
        let last = || stamp.last.load().as_ref().map(|k| k.0.to_string());
        // Seeded before any request.
        assert_eq!(kept(0).unwrap(), uri("106540352242922/messages"));
        assert_eq!(kept(1), None);
        // A query goes to the last slot, not to a fixed one.
        stamp_uri(&stamp, &config, &uri("106540352242922?fields=id"));
        assert_eq!(kept(1), None);
        assert_eq!(last().unwrap(), uri("106540352242922?fields=id"));
        for n in 1..=FIXED_URIS {
            stamp_uri(&stamp, &config, &uri(&format!("{n}/media")));
        }
        let fixed: Vec<_> = (0..FIXED_URIS).map(|i| kept(i).unwrap()).collect();
        assert_eq!(fixed[1..], [1, 2, 3].map(|n| uri(&format!("{n}/media"))));
        // Slots full: the fourth media URI missed them and went last.
        assert_eq!(last().unwrap(), uri("4/media"));
        // Graph's own host is held as a static string (its address is the
        // constant's), so a hit counts no reference for it.
        let host = |u: &Uri| u.authority().unwrap().as_str().as_ptr();
        let sent = &stamp.fixed[0].get().unwrap().1;
        assert_eq!(host(sent), GRAPH_HOST.as_ptr());
        assert_eq!(
            crate::config::DEFAULT_GRAPH_BASE,
            format!("https://{GRAPH_HOST}")
        );
        // Hits share the kept bytes, from a fixed slot and from the last one.
        let pq = |u: &Uri| u.path_and_query().unwrap().as_str().as_ptr();
        let hit = stamp_uri(&stamp, &config, &uri("106540352242922/messages"));
        assert_eq!(pq(&hit), pq(&stamp.fixed[0].get().unwrap().1));
        let hit = stamp_uri(&stamp, &config, &uri("4/media"));
        assert_eq!(pq(&hit), pq(&stamp.last.load().as_ref().unwrap().1));
        // A new URI replaces the last one; the fixed ones stay.
        stamp_uri(&stamp, &config, &uri("5/media"));
        assert_eq!(last().unwrap(), uri("5/media"));
        let after: Vec<_> = (0..FIXED_URIS).map(|i| kept(i).unwrap()).collect();
        assert_eq!(after, fixed);
    }
}
