//! [`Stamp`]: a token and what every request carrying it needs, computed
//! once per token: the `Authorization` value and the `appsecret_proof`,
//! with the paths requests go to kept with the proof already added.

use std::sync::{Arc, OnceLock};

use arc_swap::ArcSwapOption;
use http::header::AUTHORIZATION;
use http::uri::PathAndQuery;
use http::{HeaderValue, Request, Uri};

use crate::calls::proof;
use crate::config::Config;
use crate::secret::Secret;

/// A token and everything derived from it, computed once per token.
pub(crate) struct Stamp {
    pub(crate) token: Secret,
    bearer: HeaderValue,
    /// `appsecret_proof=<hex>`, with an app secret configured.
    proof: Option<Box<str>>,
    /// Paths stamped before, as they were and with the proof added: clients
    /// send to a handful of paths (nearly always the messages path), so a
    /// hit saves building and parsing a new one. Paths without a query fill
    /// these slots once, in order; reading a slot is an acquire load, with
    /// no lock and nothing written. (The hit itself is a clone of the kept
    /// path: a reference count.)
    fixed: [OnceLock<(PathAndQuery, PathAndQuery)>; FIXED_PATHS],
    /// The last path that missed `fixed` (one with a query, or any once
    /// they are full), replaced at each miss: a client whose busy path came
    /// after the slots filled up still gets hits.
    last: ArcSwapOption<(PathAndQuery, PathAndQuery)>,
}

/// How many query-less paths a token keeps, for good, with the proof added.
const FIXED_PATHS: usize = 4;

impl Stamp {
    /// `None` when the token cannot be sent in a header.
    pub(crate) fn new(token: Secret, config: &Config) -> Option<Stamp> {
        let bearer = proof::bearer(&token)?;
        let proof = proof::proof_pair(config.app_secret.as_ref(), &token);
        let fixed: [OnceLock<_>; FIXED_PATHS] = Default::default();
        // Seeded with the configured phone number's messages path.
        let seed = proof.as_deref().and_then(|pair| {
            let phone = config.phone_number_id.as_deref()?;
            let uri: Uri = config.url(&format!("{phone}/messages")).parse().ok()?;
            let from = uri.path_and_query()?.clone();
            let to = proof::authorized_path(Some(&from), pair)?;
            Some((from, to))
        });
        if let Some(seed) = seed {
            let _ = fixed[0].set(seed);
        }
        Some(Stamp {
            token,
            bearer,
            proof,
            fixed,
            last: ArcSwapOption::empty(),
        })
    }

    /// The `appsecret_proof` value, with an app secret configured.
    pub(crate) fn proof(&self) -> Option<&str> {
        self.proof.as_deref()?.split_once('=').map(|(_, v)| v)
    }

    /// Sets `Authorization: Bearer …` (replacing any the caller set) and the
    /// `appsecret_proof` query parameter.
    pub(crate) fn apply<B>(&self, req: &mut Request<B>) {
        req.headers_mut().insert(AUTHORIZATION, self.bearer.clone());
        let Some(pair) = &self.proof else { return };
        let Some(from) = req.uri().path_and_query() else {
            proof::set_path(req.uri_mut(), proof::authorized_path(None, pair));
            return;
        };
        let path = self.known_path(from, pair);
        proof::set_path(req.uri_mut(), path);
    }

    /// `from` with the proof `pair` added: kept from an earlier request to
    /// the same path and query, or built (and kept).
    #[inline]
    fn known_path(&self, from: &PathAndQuery, pair: &str) -> Option<PathAndQuery> {
        let mut free = None;
        for slot in &self.fixed {
            match slot.get() {
                Some((known, with_proof)) if known == from => return Some(with_proof.clone()),
                Some(_) => {}
                None => {
                    free = Some(slot);
                    break;
                }
            }
        }
        if let Some(last) = &*self.last.load() {
            if last.0 == *from {
                return Some(last.1.clone());
            }
        }
        let to = proof::authorized_path(Some(from), pair)?;
        let kept = (from.clone(), to.clone());
        match free {
            // Two requests may race for the slot: either value is right.
            Some(slot) if from.query().is_none() => {
                let _ = slot.set(kept);
            }
            _ => self.last.store(Some(Arc::new(kept))),
        }
        Some(to)
    }
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

    /// Stamps a request to `uri`; gives back its path and query.
    fn stamp_path(stamp: &Stamp, uri: &str) -> PathAndQuery {
        let mut req = Request::post(uri).body(()).unwrap();
        stamp.apply(&mut req);
        assert_eq!(req.headers()[AUTHORIZATION], "Bearer EAAG-token");
        req.uri().path_and_query().unwrap().clone()
    }

    /// The path cache never sends one request to another's path: each
    /// request keeps its own path and query, with the proof added, whether
    /// its path is a kept one or not.
    #[test]
    fn every_request_keeps_its_own_path_with_the_proof() {
        let config = proof_config();
        let stamp = Stamp::new(Secret::new("EAAG-token"), &config).unwrap();
        let proof =
            crate::secret::appsecret_proof(&Secret::new("app-secret"), &Secret::new("EAAG-token"));
        let base = format!("{}/{}", config.graph_base, config.graph_version);
        let messages = format!("{base}/106540352242922/messages");
        let media = format!("{base}/106540352242922/media");
        let fields = format!("{base}/106540352242922?fields=id");
        // More distinct paths than there are slots, each seen twice.
        let more: Vec<String> = (0..FIXED_PATHS + 2)
            .map(|n| format!("{base}/{n}/messages"))
            .collect();
        let first = [&messages, &media, &messages, &fields, &fields, &media];
        for uri in first.into_iter().chain(&more).chain(&more) {
            let sep = if uri.contains('?') { '&' } else { '?' };
            let stamped = format!("{}{}", config.graph_base, stamp_path(&stamp, uri));
            assert_eq!(stamped, format!("{uri}{sep}appsecret_proof={proof}"));
        }
    }

    /// What is kept: the configured messages path first, then query-less
    /// paths in the order they came, for good; the last other path in its
    /// own slot. A hit hands out the kept path itself (the same bytes).
    #[test]
    fn kept_paths_fill_in_order_and_the_last_miss_is_kept_apart() {
        let config = proof_config();
        let stamp = Stamp::new(Secret::new("EAAG-token"), &config).unwrap();
        let base = format!("/{}", config.graph_version);
        let uri = |path: &str| format!("{}{base}/{path}", config.graph_base);
        let kept = |i: usize| {
            stamp.fixed[i]
                .get()
                .map(|(from, _)| from.as_str().to_owned())
        };
        let last = || {
            stamp
                .last
                .load()
                .as_ref()
                .map(|kept| kept.0.as_str().to_owned())
        };
        // Seeded before any request.
        assert_eq!(kept(0).unwrap(), format!("{base}/106540352242922/messages"));
        assert_eq!(kept(1), None);
        // A query goes to the last slot, not to a fixed one.
        stamp_path(&stamp, &uri("106540352242922?fields=id"));
        assert_eq!(kept(1), None);
        assert_eq!(last().unwrap(), format!("{base}/106540352242922?fields=id"));
        for n in 1..=FIXED_PATHS {
            stamp_path(&stamp, &uri(&format!("{n}/media")));
        }
        let fixed: Vec<_> = (0..FIXED_PATHS).map(|i| kept(i).unwrap()).collect();
        assert_eq!(fixed[1..], [1, 2, 3].map(|n| format!("{base}/{n}/media")));
        // Slots full: the fourth media path missed them and went last.
        assert_eq!(last().unwrap(), format!("{base}/4/media"));
        // Hits share the kept bytes, from a fixed slot and from the last one.
        let hit = stamp_path(&stamp, &uri("106540352242922/messages"));
        let fixed_0 = stamp.fixed[0].get().unwrap().1.as_str().as_ptr();
        assert_eq!(hit.as_str().as_ptr(), fixed_0);
        let hit = stamp_path(&stamp, &uri("4/media"));
        let last_kept = stamp.last.load().as_ref().unwrap().1.as_str().as_ptr();
        assert_eq!(hit.as_str().as_ptr(), last_kept);
        // A new path replaces the last one; the fixed ones stay.
        stamp_path(&stamp, &uri("5/media"));
        assert_eq!(last().unwrap(), format!("{base}/5/media"));
        let after: Vec<_> = (0..FIXED_PATHS).map(|i| kept(i).unwrap()).collect();
        assert_eq!(after, fixed);
    }
}
