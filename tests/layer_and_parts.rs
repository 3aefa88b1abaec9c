//! `WhatsAppAuthLayer` and the same parts assembled by hand
//! (`BufferBodyLayer`, `RetryLayer(RefreshOn190)`, `ValidateIfNeededLayer`,
//! `ClassifyLayer`, sharing one `TokenCell`), over real sockets, give
//! callers the same outcome and Graph the same exchanges and message
//! requests for every documented answer: an expiry mid-run, revocation,
//! rate limits, 5xx and HTML errors, a missing permission, wrong or missing
//! app credentials, a renewal refused or failing, a renewed token refused,
//! and a streamed body over the replay limit.

#[path = "support/common/mod.rs"]
mod common;

use common::bodies::Streamed;

use bytes::Bytes;
use common::fake_graph::{ExchangeMode, FakeGraph, Fault};
use common::full_stack::config;
use common::sender::{https_client, message, text_message};
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use tower::retry::RetryLayer;
use tower::util::BoxCloneSyncService;
use tower::{BoxError, Layer, ServiceBuilder, ServiceExt};
use tower_whatsapp_auth::{
    body::{BufferBodyLayer, BytesBody},
    classify::{ClassifyLayer, GraphBody},
    graph::GraphError,
    refresh::RefreshOn190,
    validate::ValidateIfNeededLayer,
    Error, RefreshError, TokenCell, WhatsAppAuthLayer, DEFAULT_GRAPH_VERSION,
};

/// How a stack is put together.
#[derive(Debug, Clone, Copy)]
enum Assembly {
    Layer,
    Parts,
}

type Assembled<B> = BoxCloneSyncService<Request<B>, Response<GraphBody<Incoming>>, BoxError>;

fn assemble<B: BytesBody>(
    assembly: Assembly,
    layer: WhatsAppAuthLayer,
) -> (Assembled<B>, TokenCell) {
    let client = https_client();
    match assembly {
        Assembly::Layer => {
            let service = layer.layer(client);
            let cell = service.token_cell().clone();
            (BoxCloneSyncService::new(service), cell)
        }
        Assembly::Parts => {
            let cell = layer.token_cell(client.clone());
            let service = ServiceBuilder::new()
                .layer(BufferBodyLayer::new().limit(1024))
                .layer(RetryLayer::new(RefreshOn190::new(cell.clone())))
                .layer(ValidateIfNeededLayer::new(cell.clone()))
                .layer(ClassifyLayer::new())
                .service(client);
            (BoxCloneSyncService::new(service), cell)
        }
    }
}

/// What a caller got, in a form two assemblies can be compared by.
fn outcome(result: &Result<Response<GraphBody<Incoming>>, BoxError>) -> String {
    match result {
        Ok(res) => match res.extensions().get::<GraphError>() {
            Some(g) => format!("{} with {:?}", res.status().as_u16(), g.kind()),
            None => res.status().as_u16().to_string(),
        },
        Err(err) => match err.downcast_ref::<Error>() {
            Some(Error::Graph(g)) => format!("Graph({:?})", g.kind()),
            Some(Error::TokenDead { cause }) => format!("TokenDead({:?})", cause.kind()),
            Some(Error::NotReplayed { limit, source }) => {
                format!("NotReplayed({limit}, {:?})", source.kind())
            }
            Some(Error::Misconfigured { what, .. }) => format!("Misconfigured({what:?})"),
            Some(Error::Refresh(RefreshError::BackingOff { last, .. })) => {
                format!("BackingOff({:?})", last.kind())
            }
            Some(other) => format!("{other:?}"),
            None => format!("transport: {err}"),
        },
    }
}

/// A streaming body (no declared size) of a `len`-character message, in
/// 256-byte chunks.
fn streamed(len: usize) -> Streamed {
    Streamed::chunked(&text_message("1555", &"s".repeat(len)), 256)
}

/// One scenario through `assembly`: the outcomes callers saw, the
/// exchanges and the message requests Graph saw.
async fn run(assembly: Assembly, scenario: &str) -> (Vec<String>, u64, u64) {
    let mut config = config();
    match scenario {
        "expiry mid-run" => config.token_uses = Some(3),
        "expired without app credentials" => {
            config.app_secret = None;
            config.token_uses = Some(1);
        }
        "renewed token refused"
        | "streamed body refused"
        | "wrong app id"
        | "renewal failed (5xx)" => config.token_uses = Some(0),
        "renewal refused" => {
            config.token_uses = Some(0);
            config.exchange_accepts_expired = false;
        }
        _ => {}
    }
    let fake = FakeGraph::start(config.clone()).await;
    match scenario {
        "revoked" => fake.push_fault(Fault::Revoke { subcode: 460 }),
        "rate limited" => fake.push_fault(Fault::GraphError {
            status: 400,
            code: 130429,
            subcode: None,
        }),
        "transient 5xx" => fake.push_fault(Fault::GraphError {
            status: 503,
            code: 2,
            subcode: None,
        }),
        "HTML 502" => fake.push_fault(Fault::BadGatewayHtml),
        "missing permission" => fake.push_fault(Fault::GraphError {
            status: 403,
            code: 10,
            subcode: None,
        }),
        "renewed token refused" => fake.set_exchanged_rejected(true),
        "renewal failed (5xx)" => fake.set_exchange_mode(ExchangeMode::ServerError),
        _ => {}
    }
    let layer = match scenario {
        "wrong app secret" => fake.layer(&config).app_secret("not-the-app-secret"),
        "wrong app id" => fake
            .layer(&config)
            .app_credentials("1000000000000", config.app_secret.as_deref().unwrap()),
        // The app requires a proof; this stack has no secret to make one.
        "no app secret" => WhatsAppAuthLayer::new(config.token.as_str())
            .phone_number_id(config.phone_number_id.as_str())
            .graph_base(fake.base_url()),
        _ => fake.layer(&config),
    };
    let layer = layer.without_validation().body_limit(1024);
    let mut outcomes = Vec::new();
    let cell = if scenario == "streamed body refused" {
        let (stack, cell) = assemble::<Streamed>(assembly, layer);
        for len in [4096, 10] {
            let req = Request::post(fake.messages_url(DEFAULT_GRAPH_VERSION))
                .body(streamed(len))
                .unwrap();
            outcomes.push(outcome(&stack.clone().oneshot(req).await));
        }
        cell
    } else {
        let (stack, cell) = assemble::<Full<Bytes>>(assembly, layer);
        let sends = if scenario == "expiry mid-run" { 6 } else { 3 };
        for _ in 0..sends {
            outcomes.push(outcome(&stack.clone().oneshot(message(&fake)).await));
        }
        cell
    };
    // A refusal may have started a renewal for the next request: let it end.
    let _ = cell.ready().await;
    let graph = fake.counters();
    (outcomes, graph.exchanges, graph.message_requests)
}

#[tokio::test]
async fn the_layer_and_the_parts_assembled_by_hand_give_the_same_outcomes() {
    let expected: [(&str, &[&str], u64, u64); 14] = [
        ("expiry mid-run", &["200"; 6], 1, 7),
        (
            "revoked",
            &[
                "Graph(TokenRevoked)",
                "TokenDead(TokenRevoked)",
                "TokenDead(TokenRevoked)",
            ],
            0,
            1,
        ),
        (
            "rate limited",
            &["400 with RateLimited", "200", "200"],
            0,
            3,
        ),
        (
            "expired without app credentials",
            &["200", "Graph(TokenExpired)", "TokenDead(TokenExpired)"],
            0,
            2,
        ),
        (
            "renewed token refused",
            &[
                "Graph(TokenExpired)",
                "Graph(TokenExpired)",
                "Graph(TokenExpired)",
            ],
            6,
            6,
        ),
        (
            "streamed body refused",
            &["NotReplayed(1024, TokenExpired)", "200"],
            1,
            2,
        ),
        ("transient 5xx", &["503 with Transient", "200", "200"], 0, 3),
        ("HTML 502", &["502", "200", "200"], 0, 3),
        (
            "missing permission",
            &["Graph(PermissionMissing)", "200", "200"],
            0,
            3,
        ),
        ("wrong app secret", &["Misconfigured(AppSecret)"; 3], 0, 1),
        (
            "no app secret",
            &["Misconfigured(AppSecretMissing)"; 3],
            0,
            1,
        ),
        ("wrong app id", &["Misconfigured(AppId)"; 3], 1, 1),
        ("renewal refused", &["TokenDead(TokenExpired)"; 3], 1, 1),
        ("renewal failed (5xx)", &["BackingOff(Transient)"; 3], 1, 1),
    ];
    for (scenario, outcomes, exchanges, sent) in expected {
        for assembly in [Assembly::Layer, Assembly::Parts] {
            let (got, got_exchanges, got_sent) = run(assembly, scenario).await;
            assert_eq!(got, outcomes, "{scenario} through {assembly:?}");
            assert_eq!(
                (got_exchanges, got_sent),
                (exchanges, sent),
                "{scenario} through {assembly:?}: (exchanges, message requests)"
            );
        }
    }
}
