//! Putting a token on a request: the `Authorization` header and the
//! `appsecret_proof` query parameter.

use http::header::AUTHORIZATION;
use http::uri::PathAndQuery;
use http::{HeaderValue, Request, Uri};

use crate::secret::{appsecret_proof, Secret};

/// `Bearer <token>` as a sensitive header value, or `None` when the token
/// cannot be sent in a header (empty, or control characters).
pub(crate) fn bearer(token: &Secret) -> Option<HeaderValue> {
    if token.expose().is_empty() {
        return None;
    }
    let mut value = HeaderValue::from_str(&format!("Bearer {}", token.expose())).ok()?;
    value.set_sensitive(true);
    Some(value)
}

/// `appsecret_proof=<hex>` for `token`, when an app secret is configured.
pub(crate) fn proof_pair(app_secret: Option<&Secret>, token: &Secret) -> Option<Box<str>> {
    app_secret.map(|secret| format!("appsecret_proof={}", appsecret_proof(secret, token)).into())
}

/// Stamps `req` with `token` (replacing any `Authorization` the caller set)
/// and its `appsecret_proof`; for the stack's own calls.
pub(crate) fn authorize<B>(req: &mut Request<B>, token: &Secret, app_secret: Option<&Secret>) {
    if let Some(value) = bearer(token) {
        req.headers_mut().insert(AUTHORIZATION, value);
    }
    if let Some(pair) = proof_pair(app_secret, token) {
        let path = authorized_path(req.uri().path_and_query(), &pair);
        set_path(req.uri_mut(), path);
    }
}

/// Replaces the path and query of `uri`, keeping scheme and authority.
pub(crate) fn set_path(uri: &mut Uri, path: Option<PathAndQuery>) {
    let Some(path) = path else { return };
    let mut parts = std::mem::take(uri).into_parts();
    let previous = parts.path_and_query.replace(path);
    *uri = Uri::from_parts(parts).unwrap_or_else(|_| {
        // Only a URI that was already invalid gets here; keep it sendable.
        let mut fallback = http::uri::Parts::default();
        fallback.path_and_query = previous;
        Uri::from_parts(fallback).unwrap_or_default()
    });
}

/// The path and query of `pq` with `pair` (`name=value`) set in the query,
/// replacing any earlier value of `name`.
pub(crate) fn authorized_path(pq: Option<&PathAndQuery>, pair: &str) -> Option<PathAndQuery> {
    let name = &pair[..=pair.find('=')?];
    let path = pq.map_or("/", |pq| pq.path());
    let query = pq.and_then(|pq| pq.query()).unwrap_or("");
    let mut out = String::with_capacity(path.len() + query.len() + pair.len() + 2);
    out.push_str(path);
    out.push('?');
    for kv in query.split('&') {
        if !kv.is_empty() && !kv.starts_with(name) && kv != &name[..name.len() - 1] {
            out.push_str(kv);
            out.push('&');
        }
    }
    out.push_str(pair);
    PathAndQuery::try_from(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_pair(uri: &str, pair: &str) -> String {
        let mut uri: Uri = uri.parse().unwrap();
        let path = authorized_path(uri.path_and_query(), pair);
        set_path(&mut uri, path);
        uri.to_string()
    }

    #[test]
    fn proof_pair_replaces_an_existing_one_and_keeps_other_params() {
        assert_eq!(
            with_pair(
                "https://graph.facebook.com/v24.0/123/messages?a=1&appsecret_proof=old&b=2",
                "appsecret_proof=abc"
            ),
            "https://graph.facebook.com/v24.0/123/messages?a=1&b=2&appsecret_proof=abc"
        );
        assert_eq!(
            with_pair("/v24.0/me", "appsecret_proof=x"),
            "/v24.0/me?appsecret_proof=x"
        );
        // A parameter whose name merely starts the same is kept.
        assert_eq!(
            with_pair("/me?appsecret_proofs=1", "appsecret_proof=x"),
            "/me?appsecret_proofs=1&appsecret_proof=x"
        );
    }

    #[test]
    fn tokens_that_cannot_be_headers_give_no_bearer() {
        assert!(bearer(&Secret::new("")).is_none());
        assert!(bearer(&Secret::new("a\r\nb")).is_none());
        let ok = bearer(&Secret::new("EAAG")).unwrap();
        assert!(ok.is_sensitive());
        assert_eq!(ok, "Bearer EAAG");
    }
}
