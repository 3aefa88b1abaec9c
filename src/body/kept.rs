//! [`KeptRequest`]: what a replay needs of a request, kept while it is out.
//! Nearly every request is refused never, so the copy is made on every
//! request and used almost never: it is made as cheaply as it can be. The
//! body shares its bytes; a head with a few headers (Cloud API calls carry
//! one or two) keeps them side by side in the copy itself, with no header
//! map built (a map is two allocations, and two frees when the answer
//! comes); the map is built only for the replay.

use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::request::Parts;
use http::{Extensions, Method, Request, Uri, Version};

use super::ReplayBody;

/// How many headers a copy keeps without a map.
const FEW: usize = 2;

/// A copy of a request whose body can be sent again.
pub(crate) struct KeptRequest {
    method: Method,
    /// Set with the copy, or by the stamp of the request's head (the URI it
    /// replaced, or a clone when it replaced none or the token was not
    /// ready): see [`KeptRequest::of_replayable_head`].
    uri: Option<Uri>,
    version: Version,
    headers: KeptHeaders,
    extensions: Extensions,
    body: ReplayBody,
}

/// The request's headers: a few side by side, or its map.
enum KeptHeaders {
    Few([Option<(HeaderName, HeaderValue)>; FEW]),
    Map(HeaderMap),
}

impl KeptHeaders {
    #[inline(always)]
    fn of(headers: &HeaderMap) -> KeptHeaders {
        if headers.len() > FEW {
            return KeptHeaders::map(headers);
        }
        // `iter` yields every value, each with its name, names in the order
        // the map holds them: appended in that order, the map is the same.
        // Taken one by one into the array as it is built, not written
        // into a blank one: the copy is made in place, not moved.
        let mut each = headers
            .iter()
            .map(|(name, value)| (name.clone(), value.clone()));
        KeptHeaders::Few([each.next(), each.next()])
    }

    /// More headers than a few: the whole map, cloned (out of line: rare
    /// for Cloud API calls, and kept off the hot path's code).
    #[inline(never)]
    fn map(headers: &HeaderMap) -> KeptHeaders {
        KeptHeaders::Map(headers.clone())
    }

    fn into_map(self) -> HeaderMap {
        match self {
            KeptHeaders::Map(map) => map,
            KeptHeaders::Few(few) => {
                let mut map = HeaderMap::with_capacity(FEW);
                for (name, value) in few.into_iter().flatten() {
                    map.append(name, value);
                }
                map
            }
        }
    }
}

impl KeptRequest {
    /// A copy of `req`, whose body [`is_replayable`](ReplayBody::is_replayable)
    /// (a streaming body cannot be sent twice), sharing its bytes.
    /// Infallible, so that it can be built where it is kept.
    pub(crate) fn of_replayable(req: &Request<ReplayBody>) -> KeptRequest {
        KeptRequest {
            uri: Some(req.uri().clone()),
            ..KeptRequest::of(
                req.method(),
                req.version(),
                req.headers(),
                req.extensions(),
                req.body(),
            )
        }
    }

    /// [`of_replayable`](KeptRequest::of_replayable) of a request's `head`
    /// and `body`, but for the URI, which the caller sets with
    /// [`set_uri`](KeptRequest::set_uri) before the copy is used: the stamp
    /// replaces the request's URI when it sends it, and hands back the one
    /// it replaced, which the copy then takes without cloning it.
    #[inline(always)]
    pub(crate) fn of_replayable_head(head: &Parts, body: &ReplayBody) -> KeptRequest {
        KeptRequest::of(
            &head.method,
            head.version,
            &head.headers,
            &head.extensions,
            body,
        )
    }

    /// A copy of the parts of a request, without its URI.
    #[inline(always)]
    fn of(
        method: &Method,
        version: Version,
        headers: &HeaderMap,
        extensions: &Extensions,
        body: &ReplayBody,
    ) -> KeptRequest {
        KeptRequest {
            method: method.clone(),
            uri: None,
            version,
            headers: KeptHeaders::of(headers),
            extensions: extensions.clone(),
            body: body.try_clone().unwrap_or_default(),
        }
    }

    /// The request's URI, as it came. Set once, on a copy made without it
    /// (a second value would be ignored: the debug assertion catches a
    /// caller that tries): written into the empty slot, with no old value
    /// to drop.
    #[inline]
    pub(crate) fn set_uri(&mut self, uri: Uri) {
        debug_assert!(self.uri.is_none(), "a kept request's URI is set once");
        self.uri.get_or_insert(uri);
    }

    /// The request again, as it was.
    pub(crate) fn into_request(self) -> Request<ReplayBody> {
        let mut req = Request::new(self.body);
        *req.method_mut() = self.method;
        *req.uri_mut() = self
            .uri
            .expect("a kept request's URI is set before it is used");
        *req.version_mut() = self.version;
        *req.headers_mut() = self.headers.into_map();
        *req.extensions_mut() = self.extensions;
        req
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use http::header::{ACCEPT, CONTENT_TYPE};

    use super::*;

    fn request(headers: &[(&'static str, &'static str)]) -> Request<ReplayBody> {
        let mut req = Request::put("https://graph.facebook.com/v25.0/1/messages?a=b")
            .version(Version::HTTP_2)
            .body(ReplayBody::from(Bytes::from_static(b"{\"x\":1}")))
            .unwrap();
        for (name, value) in headers {
            req.headers_mut().append(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        req.extensions_mut().insert(7u32);
        req
    }

    /// The replayed request is the request: every header value in order
    /// (repeated names included), below, at and past the few kept side by
    /// side; the body shares the same bytes.
    #[test]
    fn a_kept_request_comes_back_as_it_was() {
        let headers = [
            ("content-type", "application/json"),
            ("accept", "a"),
            ("accept", "b"),
            ("x-one", "1"),
            ("x-two", "2"),
            ("accept", "c"),
        ];
        for count in 0..=headers.len() {
            // Copied whole, and copied from its head then given its URI (as
            // the stack's path does, with the URI the stamp replaced).
            let req = request(&headers[..count]);
            let whole = KeptRequest::of_replayable(&req);
            let (head, body) = req.into_parts();
            let mut split = KeptRequest::of_replayable_head(&head, &body);
            split.set_uri(head.uri.clone());
            let req = Request::from_parts(head, body);
            for copy in [whole, split] {
                let back = copy.into_request();
                assert_eq!(back.method(), req.method());
                assert_eq!(back.uri(), req.uri());
                assert_eq!(back.version(), req.version());
                assert_eq!(back.headers(), req.headers(), "{count} headers");
                let order = |r: &Request<ReplayBody>| {
                    r.headers()
                        .get_all(ACCEPT)
                        .iter()
                        .cloned()
                        .collect::<Vec<_>>()
                };
                assert_eq!(order(&back), order(&req));
                assert_eq!(
                    back.headers().get(CONTENT_TYPE),
                    req.headers().get(CONTENT_TYPE)
                );
                assert_eq!(back.extensions().get::<u32>(), Some(&7));
                let bytes = |r: &Request<ReplayBody>| r.body().as_bytes().unwrap().as_ptr();
                assert_eq!(bytes(&back), bytes(&req), "shared, not copied");
            }
        }
    }
}
