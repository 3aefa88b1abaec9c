//! The fake's media: nodes (`GET`/`DELETE /{media-id}`, with
//! `?phone_number_id=` checked as Graph does), the upload endpoint
//! (`POST /{phone-number-id}/media`, its multipart form checked), and a
//! media host on a second listener, as `lookaside.fbsbx.com` behaves by
//! Meta's reference: a URL valid for 5 minutes, answered only with the
//! bearer of a live token of the business the media belongs to (401 with
//! an HTML page without it). The media host is a raw TCP server so that
//! it can answer what a real server must not: a body shorter or longer
//! than its `Content-Length`, one that never ends, one that stalls.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Response};
use http_body_util::Full;
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio::time::Instant;

use super::{authenticate, graph_error, json, query_param, Auth, FakeGraph, Next, State};

/// How long a download URL is valid (Meta: "only valid for 5 minutes").
pub const URL_LIFETIME: Duration = Duration::from_secs(300);

/// What the media host does with a media node's file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hostile {
    /// `200` with an HTML page.
    Html,
    /// `Content-Length` of the whole file, half of it sent, then closed.
    Short,
    /// The whole file sent under a `Content-Length` 100 bytes smaller.
    Long,
    /// Other bytes of the same length (the SHA-256 is not `info`'s).
    WrongBytes,
    /// No `Content-Length`; bytes for ever.
    Endless,
    /// The head, a few bytes, then nothing.
    Stall,
    /// 401 to every download of it (as to a token the host does not take).
    Refuse,
    /// 503 to every download of it (the host failing, not the URL).
    Unavailable,
    /// The request read, and no answer ever (not even its head).
    Mute,
}

/// A file: bytes, or a repeated 64 KiB block (so a 100 MB file costs the
/// fake no memory).
#[derive(Clone, Debug)]
pub(super) enum Content {
    Bytes(Bytes),
    Pattern { block: Bytes, len: u64 },
}

impl Content {
    pub(super) fn len(&self) -> u64 {
        match self {
            Content::Bytes(b) => b.len() as u64,
            Content::Pattern { len, .. } => *len,
        }
    }

    /// The chunks of the file, in order.
    pub(super) fn chunks(&self) -> impl Iterator<Item = Bytes> + '_ {
        let (block, len) = match self {
            Content::Bytes(b) => (b.clone(), b.len() as u64),
            Content::Pattern { block, len } => (block.clone(), *len),
        };
        let size = block.len().max(1) as u64;
        (0..len.div_ceil(size)).map(move |i| {
            let left = (len - i * size).min(size) as usize;
            block.slice(..left)
        })
    }

    fn sha256(&self) -> String {
        let mut hasher = Sha256::new();
        for chunk in self.chunks() {
            hasher.update(&chunk);
        }
        hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

#[derive(Clone, Debug)]
pub(super) struct Node {
    pub(super) content: Content,
    pub(super) mime: String,
    pub(super) sha256: String,
    /// The phone number id it was sent to or uploaded by.
    pub(super) owner: String,
    pub(super) hostile: Option<Hostile>,
}

/// An upload the fake took.
#[derive(Clone, Debug)]
pub struct Upload {
    pub phone: String,
    pub mime: String,
    pub file: Bytes,
    pub token: String,
}

#[derive(Default)]
pub(super) struct MediaState {
    pub(super) nodes: HashMap<String, Node>,
    /// Issued URLs: nonce -> (media id, issued at).
    pub(super) urls: HashMap<String, (String, Instant)>,
    host: Option<SocketAddr>,
    next_id: u64,
    /// Each download the media host served: (media id, bearer).
    pub(super) fetches: Vec<(String, String)>,
    /// Each refusal of the media host: (status, why).
    pub(super) refusals: Vec<(u16, String)>,
    uploads: Vec<Upload>,
    info_calls: u64,
    /// The next `GET /{media-id}` answers this much later (URLs are issued
    /// when the call comes in, so they may expire before they are used).
    info_delay: Option<Duration>,
}

impl FakeGraph {
    /// Starts the media host on a second listener on 127.0.0.1 and makes
    /// `GET /{media-id}` point at it; gives its address.
    pub async fn start_media_host(&self) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        self.lock().media.host = Some(addr);
        let state = self.state.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(super::media_host::serve(state.clone(), stream));
            }
        });
        addr
    }

    /// Adds a media node with `file`, owned by `owner` (a phone number id);
    /// gives its id.
    pub fn add_media(&self, file: Bytes, mime: &str, owner: &str) -> String {
        self.insert_node(Content::Bytes(file), mime, owner)
    }

    /// Adds a media node of `len` bytes of a repeated pattern.
    pub fn add_large_media(&self, len: u64, mime: &str, owner: &str) -> String {
        let block: Vec<u8> = (0..64 * 1024u32).map(|i| (i * 31 + 7) as u8).collect();
        let content = Content::Pattern {
            block: Bytes::from(block),
            len,
        };
        self.insert_node(content, mime, owner)
    }

    fn insert_node(&self, content: Content, mime: &str, owner: &str) -> String {
        let sha256 = content.sha256();
        let mut state = self.lock();
        state.media.next_id += 1;
        let id = format!("10375432915436{:02}", state.media.next_id);
        let node = Node {
            content,
            mime: mime.into(),
            sha256,
            owner: owner.into(),
            hostile: None,
        };
        state.media.nodes.insert(id.clone(), node);
        id
    }

    /// The SHA-256 (hex) of a node's file.
    pub fn media_sha256(&self, id: &str) -> String {
        self.lock().media.nodes[id].sha256.clone()
    }

    /// The media host answers `id`'s file with `hostile`.
    pub fn set_hostile(&self, id: &str, hostile: Hostile) {
        if let Some(node) = self.lock().media.nodes.get_mut(id) {
            node.hostile = Some(hostile);
        }
    }

    /// The next `GET /{media-id}` is answered `delay` after it came in.
    pub fn delay_next_info(&self, delay: Duration) {
        self.lock().media.info_delay = Some(delay);
    }

    /// Each download the media host served: (media id, bearer).
    pub fn media_fetches(&self) -> Vec<(String, String)> {
        self.lock().media.fetches.clone()
    }

    /// Each refusal of the media host: (status, why).
    pub fn media_refusals(&self) -> Vec<(u16, String)> {
        self.lock().media.refusals.clone()
    }

    /// `GET /{media-id}` calls answered.
    pub fn media_info_calls(&self) -> u64 {
        self.lock().media.info_calls
    }

    /// The uploads taken.
    pub fn uploads(&self) -> Vec<Upload> {
        self.lock().media.uploads.clone()
    }

    /// Whether a node exists.
    pub fn has_media(&self, id: &str) -> bool {
        self.lock().media.nodes.contains_key(id)
    }
}

/// Graph's answer for an id it does not show this caller (captured in
/// roughike/flutter_facebook_login#44 for a node; the same shape as the
/// fake's other 100/33 answers).
fn no_such_object(method: &Method, id: &str) -> Response<Full<Bytes>> {
    graph_error(
        400,
        100,
        Some(33),
        &format!(
            "Unsupported {} request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation",
            method.as_str().to_ascii_lowercase()
        ),
    )
}

/// The media routes of Graph itself, if `parts` is one.
pub(super) fn route(state: &mut State, parts: &http::request::Parts, body: &Bytes) -> Option<Next> {
    let segments: Vec<&str> = parts.uri.path().trim_matches('/').split('/').collect();
    let query = parts.uri.query().unwrap_or("");
    match (&parts.method, segments.as_slice()) {
        (&Method::GET | &Method::DELETE, [_v, id]) if state.media.nodes.contains_key(*id) => {
            let id = id.to_string();
            let token = match authenticate(state, parts, false) {
                Auth::Refused(res) => return Some(Next::Now(res)),
                Auth::Ok(token) => token,
            };
            let owner = state.media.nodes[&id].owner.clone();
            if query_param(query, "phone_number_id").is_some_and(|p| p != owner) {
                return Some(Next::Now(no_such_object(&parts.method, &id)));
            }
            if super::tenants::refuse_other_business(state, &owner, &token).is_some() {
                return Some(Next::Now(no_such_object(&parts.method, &id)));
            }
            if parts.method == Method::DELETE {
                state.media.nodes.remove(&id);
                return Some(Next::Now(json(200, r#"{"success":true}"#.into())));
            }
            state.media.info_calls += 1;
            let Some(host) = state.media.host else {
                return Some(Next::Now(json(500, r#"{"error":"no media host"}"#.into())));
            };
            let nonce = format!("{:016x}", fastrand::u64(..));
            state
                .media
                .urls
                .insert(nonce.clone(), (id.clone(), Instant::now()));
            let node = &state.media.nodes[&id];
            // In the field order of Meta's example; file_size as a string,
            // as the current reference shows it.
            let answer = json(
                200,
                format!(
                    r#"{{"messaging_product":"whatsapp","url":"http://{host}/whatsapp_business/attachments/?mid={id}&ext={nonce}&hash=ATfake","mime_type":"{}","sha256":"{}","file_size":"{}","id":"{id}"}}"#,
                    node.mime,
                    node.sha256,
                    node.content.len()
                ),
            );
            Some(match state.media.info_delay.take() {
                Some(delay) => Next::Later(delay, Some(answer)),
                None => Next::Now(answer),
            })
        }
        (&Method::POST, [_v, phone, "media"]) => {
            let phone = phone.to_string();
            let token = match authenticate(state, parts, false) {
                Auth::Refused(res) => return Some(Next::Now(res)),
                Auth::Ok(token) => token,
            };
            if let Some(refused) = super::tenants::refuse_other_business(state, &phone, &token) {
                return Some(Next::Now(refused));
            }
            let form = match super::multipart::parse(parts, body) {
                Ok(form) => form,
                Err(why) => {
                    return Some(Next::Now(graph_error(
                        400,
                        100,
                        None,
                        &format!("(#100) {why}"),
                    )))
                }
            };
            if form.get("messaging_product").map(|f| &f.1[..]) != Some(b"whatsapp") {
                return Some(Next::Now(graph_error(
                    400,
                    100,
                    None,
                    "(#100) The parameter messaging_product is required.",
                )));
            }
            let Some(mime) = form
                .get("type")
                .map(|f| String::from_utf8_lossy(&f.1).into_owned())
            else {
                return Some(Next::Now(graph_error(
                    400,
                    100,
                    None,
                    "(#100) Param type is required",
                )));
            };
            let Some((_, file)) = form.get("file").cloned() else {
                return Some(Next::Now(graph_error(
                    400,
                    100,
                    None,
                    "(#100) Param file is required",
                )));
            };
            state.media.uploads.push(Upload {
                phone: phone.clone(),
                mime: mime.clone(),
                file: file.clone(),
                token,
            });
            drop(form);
            let sha256 = Content::Bytes(file.clone()).sha256();
            state.media.next_id += 1;
            let id = format!("11668461814214{:02}", state.media.next_id);
            let node = Node {
                content: Content::Bytes(file),
                mime,
                sha256,
                owner: phone,
                hostile: None,
            };
            state.media.nodes.insert(id.clone(), node);
            Some(Next::Now(json(200, format!(r#"{{"id":"{id}"}}"#))))
        }
        _ => None,
    }
}
