//! [`Credential`]: one immutable snapshot of the token state, swapped whole
//! whenever anything changes, so a request reads it without a lock.

use std::sync::{Arc, OnceLock};

use arc_swap::ArcSwapOption;
use http::header::AUTHORIZATION;
use http::uri::PathAndQuery;
use http::{HeaderValue, Request, Uri};
use tokio::time::Instant;

use crate::calls::proof;
use crate::config::Config;
use crate::error::{Error, RefreshError};
use crate::graph::GraphError;
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

/// Where the token stands, and so what a request does.
#[derive(Clone)]
pub(crate) enum State {
    /// Usable: requests send.
    Ready,
    /// Not validated yet: requests wait for the validation.
    Unvalidated,
    /// Graph refused this token and a renewal is due: requests wait for it.
    Refused(GraphError),
    /// No token yet: requests wait for the fetch, or fail fast until
    /// `retry_at` when the last fetch failed.
    Pending {
        error: Option<RefreshError>,
        retry_at: Instant,
    },
    /// A renewal after a refusal failed in a way that may pass: requests
    /// fail fast until `until`, when the renewal is tried again.
    BackingOff {
        until: Instant,
        error: RefreshError,
        cause: GraphError,
    },
    /// The token cannot be used and cannot be renewed: requests fail fast.
    /// The source is asked for a different one at `recheck_at`.
    Dead {
        cause: GraphError,
        recheck_at: Instant,
    },
    /// Something only the operator can fix (the configuration, the app
    /// secret, a missing permission): requests fail fast with `error`,
    /// checked again at `recheck_at`.
    Blocked {
        error: Error,
        recheck_at: Instant,
        revalidate: bool,
    },
}

/// When the token expires, when to renew it ahead of that, and when to
/// validate it next. `None`: not known, or never.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub(crate) struct Schedule {
    pub(crate) expires_at: Option<Instant>,
    pub(crate) renew_at: Option<Instant>,
    pub(crate) validate_at: Option<Instant>,
}

/// What a request does with a snapshot.
pub(crate) enum Admission {
    Send,
    Wait,
    Fail(Error),
}

/// One snapshot of the token state.
#[derive(Clone)]
pub(crate) struct Credential {
    pub(crate) generation: u64,
    pub(crate) stamp: Option<Arc<Stamp>>,
    pub(crate) state: State,
    pub(crate) schedule: Schedule,
    /// The token's `type` from `/debug_token`, when known.
    pub(crate) token_type: Option<Arc<str>>,
    /// Whether a task looks after this cell (schedules renewals, runs the
    /// work requests wait for). Without one, requests wait and start one.
    pub(crate) attached: bool,
}

impl Credential {
    /// Generation `generation` of `token`: `state` when the token can be
    /// sent, else blocked with a configuration error.
    pub(crate) fn new(
        generation: u64,
        token: Secret,
        state: State,
        config: &Config,
        now: Instant,
    ) -> Credential {
        let empty = token.expose().is_empty();
        let stamp = Stamp::new(token, config).map(Arc::new);
        let state = match &stamp {
            Some(_) => state,
            None => State::Blocked {
                error: Error::Config(if empty {
                    "the access token is empty".into()
                } else {
                    "the access token has characters that are not allowed in an HTTP header".into()
                }),
                recheck_at: crate::clock::later(now, config.dead_recheck),
                revalidate: false,
            },
        };
        Credential {
            generation,
            stamp,
            state,
            schedule: Schedule::default(),
            token_type: None,
            attached: false,
        }
    }

    /// No token yet.
    pub(crate) fn pending(error: Option<RefreshError>, retry_at: Instant) -> Credential {
        Credential {
            generation: 0,
            stamp: None,
            state: State::Pending { error, retry_at },
            schedule: Schedule::default(),
            token_type: None,
            attached: false,
        }
    }

    /// The same token in another state.
    pub(crate) fn with_state(&self, state: State) -> Credential {
        Credential {
            state,
            ..self.clone()
        }
    }

    /// The hot-path check: a token that may be sent as it is.
    #[inline]
    pub(crate) fn sendable(&self) -> Option<&Stamp> {
        match (&self.state, self.attached) {
            (State::Ready, true) => self.stamp.as_deref(),
            _ => None,
        }
    }

    /// What a request does now: send, wait for token work, or fail unsent.
    /// A deadline that has passed means the cell's task is about to act on
    /// it (retry a renewal, recheck a dead token): requests wait for that.
    pub(crate) fn admission(&self, now: Instant) -> Admission {
        if self.deadline().is_some_and(|at| now >= at) {
            return Admission::Wait;
        }
        if let Some(error) = self.failure(now) {
            return Admission::Fail(error);
        }
        match (&self.state, self.attached, &self.stamp) {
            (State::Ready, true, Some(_)) => Admission::Send,
            _ => Admission::Wait,
        }
    }

    /// The error requests fail with in this state, deadlines aside.
    pub(crate) fn failure(&self, now: Instant) -> Option<Error> {
        match &self.state {
            State::Pending {
                error: Some(error),
                retry_at,
            } => Some(backing_off(error, *retry_at, now)),
            State::BackingOff { until, error, .. } => Some(backing_off(error, *until, now)),
            State::Dead { cause, .. } => Some(Error::TokenDead {
                cause: cause.clone(),
            }),
            State::Blocked { error, .. } => Some(error.clone()),
            State::Ready | State::Unvalidated | State::Refused(_) | State::Pending { .. } => None,
        }
    }

    /// When the cell's task next acts on a failed state by itself.
    fn deadline(&self) -> Option<Instant> {
        match &self.state {
            State::Pending {
                error: Some(_),
                retry_at: at,
            }
            | State::BackingOff { until: at, .. }
            | State::Dead { recheck_at: at, .. }
            | State::Blocked { recheck_at: at, .. } => Some(*at),
            _ => None,
        }
    }

    /// Whether the token is in use (as opposed to refused, dead, blocked).
    pub(crate) fn is_live(&self) -> bool {
        matches!(self.state, State::Ready | State::Unvalidated)
    }
}

fn backing_off(error: &RefreshError, until: Instant, now: Instant) -> Error {
    Error::Refresh(RefreshError::BackingOff {
        remaining: until.saturating_duration_since(now),
        last: Box::new(error.clone()),
    })
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
