//! Property tests of what untrusted input reaches: the Graph error parser,
//! the request body buffer, and an answer's way through the classifier and
//! the retry decision. Any input: no panic (these run with overflow checks
//! on), and no wait longer than the policy allows; a body that fits the
//! limit replays byte-identical; one that does not is passed on whole.
//!
//! The soak runs the same properties for `SOAK_CASES` cases (default
//! 1,000,000):
//!
//! ```text
//! SOAK_CASES=1000000 cargo test --release --test properties -- --ignored --nocapture
//! ```
#![cfg(feature = "retry")]

#[path = "support/common/bodies.rs"]
mod bodies;

use bodies::Streamed;
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use std::time::Duration;

use http::HeaderValue;
use http_body_util::Full;
use tower::retry::Policy;
use tower::{service_fn, BoxError, Layer, ServiceExt};
use tower_whatsapp_auth::retry::GraphRetry;
use tower_whatsapp_auth::{
    body::BufferBodyLayer,
    classify::ClassifyLayer,
    graph::{ErrorKind, GraphError},
    ReplayBody,
};

fn parse_never_panics(bytes: &[u8]) {
    if let Some(err) = GraphError::parse(StatusCode::BAD_REQUEST, bytes) {
        // Whatever parsed is printable and classified.
        let _ = (err.to_string(), format!("{err:?}"), err.hint());
    }
}

fn parse_reads_graph_errors(
    code: i64,
    subcode: Option<i64>,
    message: &str,
    trace: &str,
) -> Result<(), TestCaseError> {
    let mut error = serde_json::json!({"message": message, "type": "OAuthException", "code": code, "fbtrace_id": trace});
    if let Some(sub) = subcode {
        error["error_subcode"] = sub.into();
    }
    let body = serde_json::json!({ "error": error }).to_string();
    let parsed = GraphError::parse(StatusCode::UNAUTHORIZED, body.as_bytes());
    let parsed = parsed.ok_or_else(|| TestCaseError::fail(format!("not parsed: {body}")))?;
    prop_assert_eq!(parsed.code(), code);
    prop_assert_eq!(parsed.subcode(), subcode);
    prop_assert_eq!(parsed.kind(), ErrorKind::from_codes(code, subcode));
    prop_assert_eq!(parsed.fbtrace_id(), Some(trace));
    prop_assert!(parsed.message().len() <= 1024 + '…'.len_utf8() + 1024);
    Ok(())
}

thread_local! {
    static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
}

/// Buffers `chunks` with `limit` and checks what the inner service gets.
fn buffer_replays_identically(chunks: Vec<Vec<u8>>, limit: usize) -> Result<(), TestCaseError> {
    let expected: Vec<u8> = chunks.concat();
    let body = Streamed(chunks.into_iter().map(Bytes::from).collect());
    let svc = BufferBodyLayer::new().limit(limit).layer(service_fn(
        |req: Request<ReplayBody>| async move {
            let copy = req.body().try_clone();
            let first = req.into_body().collect().await?.to_bytes();
            let second = match copy {
                Some(copy) => Some(copy.collect().await?.to_bytes()),
                None => None,
            };
            Ok::<_, BoxError>(Response::new((first, second)))
        },
    ));
    let (first, second) = RUNTIME
        .with(|rt| rt.block_on(svc.oneshot(Request::new(body))))
        .map_err(|e| TestCaseError::fail(e.to_string()))?
        .into_body();
    prop_assert_eq!(&first[..], &expected[..], "every byte is sent");
    if expected.len() <= limit {
        let second = second
            .ok_or_else(|| TestCaseError::fail("a body within the limit must be replayable"))?;
        prop_assert_eq!(&second[..], &expected[..], "the replay is byte-identical");
    } else {
        prop_assert!(second.is_none(), "a body over the limit is not replayable");
    }
    Ok(())
}

/// An answer with `status`, `body` and whatever wait headers are valid
/// header values, through `Classify` and then `GraphRetry`'s decision.
fn answer_is_classified_and_decided(
    status: u16,
    body: Vec<u8>,
    retry_after: String,
    usage: String,
) -> Result<(), TestCaseError> {
    let headers = [
        ("retry-after", retry_after),
        ("x-business-use-case-usage", usage.clone()),
        ("x-app-usage", usage),
    ];
    let graph = service_fn(move |_: Request<ReplayBody>| {
        let mut res = Response::new(Full::new(Bytes::from(body.clone())));
        *res.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
        for (name, value) in &headers {
            if let Ok(value) = HeaderValue::from_str(value) {
                res.headers_mut().insert(*name, value);
            }
        }
        async move { Ok::<_, BoxError>(res) }
    });
    let max_total = Duration::from_secs(60);
    let mut policy = GraphRetry::new().max_total_delay(max_total);
    let mut req = Request::new(ReplayBody::from("{}"));
    RUNTIME.with(|rt| {
        rt.block_on(async {
            let res = ClassifyLayer::new()
                .layer(graph)
                .oneshot(Request::new(ReplayBody::from("{}")))
                .await;
            let mut result = res.map(|res| res.map(|_| ()));
            if let Ok(res) = &result {
                // Whatever was parsed is printable and classified.
                if let Some(err) = res.extensions().get::<GraphError>() {
                    let _ = (err.to_string(), format!("{err:?}"), err.kind(), err.hint());
                }
            }
            let now = tokio::time::Instant::now();
            if let Some(wait) = policy.retry(&mut req, &mut result) {
                let waits = wait.deadline().saturating_duration_since(now);
                prop_assert!(waits <= max_total, "waits {waits:?}");
            }
            Ok(())
        })
    })
}

fn wait_header_strategy() -> impl Strategy<Value = String> {
    let weekday = prop::sample::select(vec!["Mon", "Tue", "Sun", "Xyz"]);
    let month = prop::sample::select(vec!["Jan", "Feb", "Nov", "Dec", "Foo"]);
    prop_oneof![
        any::<u64>().prop_map(|n| n.to_string()),
        "-?[0-9]{1,40}",
        (
            weekday,
            0u32..40,
            month,
            any::<u64>(),
            0u32..30,
            0u32..70,
            0u32..70
        )
            .prop_map(|(w, d, m, y, h, min, s)| format!(
                "{w}, {d:02} {m} {y} {h:02}:{min:02}:{s:02} GMT"
            )),
        ".{0,40}",
    ]
}

fn usage_header_strategy() -> impl Strategy<Value = String> {
    let number = prop_oneof![
        any::<f64>().prop_map(|n| n.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        Just("1e308".to_owned()),
        Just("\"NaN\"".to_owned()),
        Just("-1".to_owned()),
    ];
    (number.clone(), number).prop_map(|(count, regain)| {
        format!(
            r#"{{"1":[{{"type":"whatsapp","call_count":{count},"estimated_time_to_regain_access":{regain}}}],"call_count":{count}}}"#
        )
    })
}

fn chunks_strategy() -> impl Strategy<Value = (Vec<Vec<u8>>, usize)> {
    (
        prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 0..12),
        0usize..2048,
    )
}

fn graph_error_strategy() -> impl Strategy<Value = (i64, Option<i64>, String, String)> {
    (
        prop_oneof![any::<i64>(), 0i64..300, Just(190), Just(130429)],
        prop::option::of(prop_oneof![any::<i64>(), 458i64..494]),
        ".{0,200}",
        "[A-Za-z0-9_-]{0,24}",
    )
}

fn bytes_strategy() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..2048),
        // Near-JSON: fragments of Graph error bodies, shuffled and cut.
        prop::collection::vec(
            prop::sample::select(vec![
                "{",
                "}",
                "\"error\"",
                ":",
                ",",
                "\"code\"",
                "190",
                "\"error_subcode\"",
                "463",
                "\"message\"",
                "\"x\"",
                "[",
                "]",
                "null",
                "1e400",
                "-1",
                "\"\\u0000\"",
                "<html>",
                " ",
            ]),
            0..64,
        )
        .prop_map(|parts| parts.concat().into_bytes()),
    ]
}

proptest! {
    #![proptest_config(Config { cases: 256, ..Config::default() })]

    #[test]
    fn the_error_parser_never_panics(bytes in bytes_strategy()) {
        parse_never_panics(&bytes);
    }

    #[test]
    fn the_error_parser_reads_every_graph_error((code, subcode, message, trace) in graph_error_strategy()) {
        parse_reads_graph_errors(code, subcode, &message, &trace)?;
    }

    #[test]
    fn buffered_bodies_replay_byte_identical((chunks, limit) in chunks_strategy()) {
        buffer_replays_identically(chunks, limit)?;
    }

    #[test]
    fn no_answer_panics_the_classifier_or_the_retry_decision(
        status in prop_oneof![100u16..600, Just(429u16), Just(400u16)],
        body in bytes_strategy(),
        retry_after in wait_header_strategy(),
        usage in usage_header_strategy(),
    ) {
        answer_is_classified_and_decided(status, body, retry_after, usage)?;
    }
}

/// The same properties for `SOAK_CASES` cases each (default 1,000,000).
#[test]
#[ignore = "long: run explicitly, see the module docs"]
fn soak() {
    let cases: u32 = std::env::var("SOAK_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    let started = std::time::Instant::now();
    TestRunner::new(config.clone())
        .run(&bytes_strategy(), |bytes| {
            parse_never_panics(&bytes);
            Ok(())
        })
        .unwrap();
    TestRunner::new(config.clone())
        .run(
            &graph_error_strategy(),
            |(code, subcode, message, trace)| {
                parse_reads_graph_errors(code, subcode, &message, &trace)
            },
        )
        .unwrap();
    TestRunner::new(config)
        .run(&chunks_strategy(), |(chunks, limit)| {
            buffer_replays_identically(chunks, limit)
        })
        .unwrap();
    println!(
        "soak: 3 properties × {cases} cases passed in {:.1?}",
        started.elapsed()
    );
}
