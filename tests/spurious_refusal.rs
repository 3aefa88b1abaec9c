//! A refusal that was not true: Graph answers one request of a static
//! token (or one whose exchange hands the same token back) with a 190, as
//! it can during an incident at Meta, and then accepts the token again.
//! The token is marked dead, requests fail fast, and at the next recheck
//! (the slow interval) the stack puts the token to Graph again: accepted,
//! sending resumes without a restart. A 190 from a media host never marks
//! the token dead. In memory, on a paused clock (counts depend on virtual
//! time here, so no sockets).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use tower::{service_fn, Layer, ServiceExt};
use tower_whatsapp_auth::{source::token_fn, Error, ReplayBody, Token, WhatsAppAuthLayer};

const PHONE: &str = "106540352242922";
const TOKEN: &str = "EAAG-static-system-user";

/// Graph, in memory: the phone number node and the messages edge. While
/// `incident` is on, every call is refused with a 190 (code 190 with no
/// subcode: "Invalid OAuth access token"); `refuse_next` refuses one
/// message send. `media_190` answers a media host's request with a 190.
#[derive(Clone, Default)]
struct Graph {
    incident: Arc<AtomicBool>,
    refuse_next: Arc<AtomicBool>,
    node_calls: Arc<AtomicUsize>,
    sends: Arc<AtomicUsize>,
}

fn refusal() -> Response<Full<Bytes>> {
    // Graph's answer to a token it will not take (Meta's "Access token"
    // error reference: code 190, type OAuthException).
    let body = r#"{"error":{"message":"Invalid OAuth access token - Cannot parse access token","type":"OAuthException","code":190,"fbtrace_id":"AbCdEf0123456789"}}"#;
    Response::builder()
        .status(StatusCode::UNAUTHORIZED)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .unwrap()
}

fn ok(body: &'static str) -> Response<Full<Bytes>> {
    Response::builder()
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .unwrap()
}

impl Graph {
    fn answer(&self, req: &Request<ReplayBody>) -> Response<Full<Bytes>> {
        let authorized = req
            .headers()
            .get("authorization")
            .is_some_and(|v| v == &*format!("Bearer {TOKEN}"));
        if req.uri().host() == Some("lookaside.fbsbx.com") {
            return refusal();
        }
        if req.uri().path().ends_with("/messages") {
            self.sends.fetch_add(1, Ordering::SeqCst);
            if self.incident.load(Ordering::SeqCst)
                || self.refuse_next.swap(false, Ordering::SeqCst)
                || !authorized
            {
                return refusal();
            }
            return ok(
                r#"{"messaging_product":"whatsapp","contacts":[{"input":"15551234567","wa_id":"15551234567"}],"messages":[{"id":"wamid.HBgLMTU1NTEyMzQ1NjcVAgARGBI1"}]}"#,
            );
        }
        self.node_calls.fetch_add(1, Ordering::SeqCst);
        if self.incident.load(Ordering::SeqCst) || !authorized {
            return refusal();
        }
        ok(
            r#"{"verified_name":"Acme","display_phone_number":"+1 555-0100","id":"106540352242922"}"#,
        )
    }
}

fn message() -> Request<ReplayBody> {
    Request::post(format!("/v23.0/{PHONE}/messages"))
        .header("content-type", "application/json")
        .body(ReplayBody::from(
            r#"{"messaging_product":"whatsapp","to":"15551234567","type":"text","text":{"body":"hi"}}"#,
        ))
        .unwrap()
}

type BoxService = tower::util::BoxCloneService<
    Request<ReplayBody>,
    Response<tower_whatsapp_auth::classify::GraphBody<Full<Bytes>>>,
    tower::BoxError,
>;

fn stack(graph: &Graph, layer: WhatsAppAuthLayer) -> BoxService {
    let graph = graph.clone();
    let client = service_fn(move |req: Request<ReplayBody>| {
        let res = graph.answer(&req);
        async move { Ok::<_, tower::BoxError>(res) }
    });
    tower::util::BoxCloneService::new(layer.layer(client))
}

async fn send(stack: &BoxService) -> Result<StatusCode, Error> {
    match stack.clone().oneshot(message()).await {
        Ok(res) => Ok(res.status()),
        Err(e) => Err(*e.downcast::<Error>().expect("the crate's error")),
    }
}

fn layer() -> WhatsAppAuthLayer {
    WhatsAppAuthLayer::new(TOKEN)
        .phone_number_id(PHONE)
        .dead_recheck(Duration::from_secs(30))
}

#[tokio::test(start_paused = true)]
async fn a_spurious_190_on_a_static_token_ends_at_the_next_recheck() {
    spurious_190_ends_at_the_next_recheck(layer()).await;
}

/// A source that can renew, and hands the same token back (as an
/// exchange of a token Graph says is invalid cannot give another).
#[tokio::test(start_paused = true)]
async fn a_spurious_190_on_a_token_its_source_gives_back_ends_at_the_next_recheck() {
    let source = token_fn(|_| std::future::ready(Ok(Token::new(TOKEN))));
    let layer = WhatsAppAuthLayer::from_source(source)
        .phone_number_id(PHONE)
        .dead_recheck(Duration::from_secs(30));
    spurious_190_ends_at_the_next_recheck(layer).await;
}

async fn spurious_190_ends_at_the_next_recheck(layer: WhatsAppAuthLayer) {
    let graph = Graph::default();
    let stack = stack(&graph, layer);
    assert_eq!(send(&stack).await.unwrap(), StatusCode::OK);

    // One send refused: the caller gets Graph's answer, the token is dead,
    // and the next request fails fast without reaching Graph.
    graph.refuse_next.store(true, Ordering::SeqCst);
    let first = send(&stack).await;
    assert!(
        matches!(&first, Err(Error::Graph(g)) if g.code() == 190),
        "{first:?}"
    );
    let sends = graph.sends.load(Ordering::SeqCst);
    assert!(matches!(send(&stack).await, Err(Error::TokenDead { .. })));
    assert_eq!(graph.sends.load(Ordering::SeqCst), sends, "failed fast");

    // At the recheck Graph accepts the token: sending resumes.
    let node_calls = graph.node_calls.load(Ordering::SeqCst);
    tokio::time::advance(Duration::from_secs(31)).await;
    let mut resumed = send(&stack).await;
    for _ in 0..10 {
        if resumed.is_ok() {
            break;
        }
        tokio::task::yield_now().await;
        resumed = send(&stack).await;
    }
    assert_eq!(resumed.unwrap(), StatusCode::OK);
    assert_eq!(
        graph.node_calls.load(Ordering::SeqCst),
        node_calls + 1,
        "one real Graph call put the token to Graph again"
    );
}

#[tokio::test(start_paused = true)]
async fn a_token_still_refused_at_the_recheck_stays_dead_until_graph_takes_it() {
    let graph = Graph::default();
    let stack = stack(&graph, layer());
    assert_eq!(send(&stack).await.unwrap(), StatusCode::OK);
    graph.incident.store(true, Ordering::SeqCst);
    assert!(send(&stack).await.is_err());
    let node_calls = graph.node_calls.load(Ordering::SeqCst);
    // Two rechecks during the incident: both refused, still dead.
    for n in 1..=2 {
        tokio::time::advance(Duration::from_secs(31)).await;
        settle().await;
        assert_eq!(graph.node_calls.load(Ordering::SeqCst), node_calls + n);
        assert!(matches!(send(&stack).await, Err(Error::TokenDead { .. })));
    }
    // The incident over: the next recheck revives it.
    graph.incident.store(false, Ordering::SeqCst);
    tokio::time::advance(Duration::from_secs(31)).await;
    settle().await;
    assert_eq!(send(&stack).await.unwrap(), StatusCode::OK);
}

#[tokio::test(start_paused = true)]
async fn a_190_from_a_media_host_never_marks_the_token_dead() {
    let graph = Graph::default();
    let stack = stack(&graph, layer());
    assert_eq!(send(&stack).await.unwrap(), StatusCode::OK);
    let media = Request::get("https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1")
        .body(ReplayBody::empty())
        .unwrap();
    let res = stack.clone().oneshot(media).await;
    // The answer reaches the caller (as a response or Graph's error)...
    drop(res);
    // ...and the token is still in use.
    assert_eq!(send(&stack).await.unwrap(), StatusCode::OK);
}

/// Lets the cell's task run what the clock made due.
async fn settle() {
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
}
