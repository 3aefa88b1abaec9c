use std::time::{Duration, SystemTime};

use http::{HeaderMap, Method, Response, StatusCode};
use tower::BoxError;

use super::*;

type Answer = Result<Response<()>, BoxError>;

fn graph(
    status: u16,
    code: i64,
    subcode: Option<i64>,
    transient: bool,
) -> Result<Response<()>, BoxError> {
    let body = format!(
        r#"{{"error":{{"message":"m","type":"OAuthException","code":{code}{}{}}}}}"#,
        subcode.map_or(String::new(), |s| format!(",\"error_subcode\":{s}")),
        if transient {
            ",\"is_transient\":true"
        } else {
            ""
        }
    );
    let status = StatusCode::from_u16(status).unwrap();
    let err = GraphError::parse(status, body.as_bytes()).unwrap();
    let mut res = Response::new(());
    *res.status_mut() = status;
    res.extensions_mut().insert(err);
    Ok(res)
}

fn plain(status: u16) -> Result<Response<()>, BoxError> {
    let mut res = Response::new(());
    *res.status_mut() = StatusCode::from_u16(status).unwrap();
    Ok(res)
}

#[test]
fn outcomes_say_what_may_be_sent_again() {
    let refused = Outcome::Refused { pair_limit: false };
    let cases: Vec<(&str, Answer, Outcome)> = vec![
        (
            "throughput 130429 as 429",
            graph(429, 130429, None, false),
            refused,
        ),
        (
            "throughput 130429 as 400",
            graph(400, 130429, None, false),
            refused,
        ),
        ("app limit 4", graph(400, 4, None, true), refused),
        ("341", graph(400, 341, None, false), refused),
        ("80007", graph(400, 80007, None, false), refused),
        (
            "pair limit",
            graph(400, 131056, None, false),
            Outcome::Refused { pair_limit: true },
        ),
        (
            "spam limit",
            graph(400, 131048, None, false),
            Outcome::Final,
        ),
        // Meta's error codes page: a limit for template classification
        // violations, lifted after an enforcement period; registrations
        // blocked for 72 hours; a number in maintenance (a throughput
        // upgrade, up to a minute); the Groups API's 429.
        (
            "classification limit",
            graph(400, 131064, None, false),
            Outcome::Final,
        ),
        (
            "registration limit",
            graph(400, 133016, None, false),
            Outcome::Final,
        ),
        ("maintenance mode", graph(500, 131057, None, false), refused),
        ("group operations", graph(429, 131208, None, false), refused),
        (
            "marketing limit per user",
            graph(400, 131049, None, false),
            Outcome::Final,
        ),
        ("transient 2", graph(503, 2, None, false), refused),
        ("131000", graph(500, 131000, None, false), refused),
        ("is_transient", graph(400, 999, None, true), refused),
        (
            "expired token",
            graph(401, 190, Some(463), false),
            Outcome::Final,
        ),
        ("permission", graph(403, 10, None, false), Outcome::Final),
        (
            "invalid parameter",
            graph(400, 100, None, false),
            Outcome::Final,
        ),
        (
            "wrong app secret",
            Ok({
                let mut r = Response::new(());
                r.extensions_mut().insert(GraphError::new(
                    StatusCode::BAD_REQUEST,
                    100,
                    None,
                    "Invalid appsecret_proof provided in the API argument",
                ));
                r
            }),
            Outcome::Final,
        ),
        ("502 HTML", plain(502), Outcome::Unknown),
        ("500", plain(500), Outcome::Unknown),
        ("429 from a proxy", plain(429), refused),
        ("200", plain(200), Outcome::Final),
        ("400 not Graph", plain(400), Outcome::Final),
        (
            "timeout",
            Err(Box::new(tower::timeout::error::Elapsed::new())),
            Outcome::Unknown,
        ),
        (
            "the stack's own error",
            Err(Box::new(crate::error::Error::Unavailable("x".into()))),
            Outcome::Final,
        ),
        (
            "reset",
            Err(Box::new(std::io::Error::from(
                std::io::ErrorKind::ConnectionReset,
            ))),
            Outcome::Unknown,
        ),
        (
            "refused connection",
            Err(Box::new(std::io::Error::from(
                std::io::ErrorKind::ConnectionRefused,
            ))),
            Outcome::NotSent,
        ),
        (
            "refused connection, as the stack reports it",
            Err(transport(std::io::ErrorKind::ConnectionRefused)),
            Outcome::NotSent,
        ),
        (
            "throttled by the shaper: never sent",
            Err(Box::new(crate::error::Error::Throttled(
                crate::error::Throttled::new(
                    "1",
                    crate::error::ThrottleReason::Pace,
                    Duration::from_secs(40),
                    Duration::from_secs(30),
                ),
            ))),
            Outcome::NotSent,
        ),
        (
            "reset, as the stack reports it",
            Err(transport(std::io::ErrorKind::ConnectionReset)),
            Outcome::Unknown,
        ),
    ];
    for (name, result, expected) in cases {
        assert_eq!(outcome(&result), expected, "{name}");
    }
    assert!(idempotent(&Method::GET) && !idempotent(&Method::POST));
}

#[test]
fn backoff_is_exponential_with_full_jitter_and_capped() {
    let backoff = Backoff {
        base: Duration::from_millis(500),
        max_wait: Duration::from_secs(30),
        pair_base: Duration::from_secs(1),
    };
    let ms = Duration::from_millis;
    // (retry, draw) -> wait: draw scales the whole bound (full jitter).
    let cases = [
        (1, 0.999, ms(499)),
        (2, 0.999, ms(999)),
        (3, 0.5, ms(1000)),
        (4, 0.999, ms(3996)),
        (10, 0.999, ms(29_970)), // capped at 30 s
        (1, 0.0, ms(0)),
        (3, f64::NAN, ms(0)),
    ];
    for (retry, draw, expected) in cases {
        let got = wait(&backoff, retry, false, draw);
        assert!(got.abs_diff(expected) < ms(2), "{retry} {draw}: {got:?}");
    }
    // The bound holds for every draw.
    for retry in 1..8 {
        let bound = ms(500)
            .saturating_mul(1 << (retry - 1))
            .min(Duration::from_secs(30));
        for draw in [0.0, 0.25, 0.5, 0.75, 0.999_999] {
            assert!(wait(&backoff, retry, false, draw) <= bound);
        }
    }
    // The pair limit: 4^n seconds (1, 4, 16, 64), up to a quarter more.
    for (retry, at_least) in [(1, 1), (2, 4), (3, 16), (4, 64)] {
        let low = wait(&backoff, retry, true, 0.0);
        let high = wait(&backoff, retry, true, 0.999);
        assert_eq!(low, Duration::from_secs(at_least));
        assert!(
            high < Duration::from_secs(at_least).mul_f64(1.25) + ms(1),
            "{high:?}"
        );
    }
}

#[test]
fn graph_and_proxies_can_ask_for_a_longer_wait() {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
    let mut headers = HeaderMap::new();
    assert_eq!(asked_wait(&headers, now), None);
    headers.insert("retry-after", "120".parse().unwrap());
    assert_eq!(asked_wait(&headers, now), Some(Duration::from_secs(120)));
    headers.insert(
        "retry-after",
        "Sun, 06 Nov 1994 08:50:07 GMT".parse().unwrap(),
    );
    assert_eq!(asked_wait(&headers, now), Some(Duration::from_secs(30)));
    headers.insert("retry-after", "soon".parse().unwrap());
    assert_eq!(asked_wait(&headers, now), None);
    headers.insert(
        "x-business-use-case-usage",
        r#"{"1":[{"type":"whatsapp","call_count":100,"estimated_time_to_regain_access":2}]}"#
            .parse()
            .unwrap(),
    );
    assert_eq!(asked_wait(&headers, now), Some(Duration::from_secs(120)));
}

/// Dates in January and February count from the year before in the civil
/// calendar arithmetic: checked on a leap day and in January.
#[test]
fn retry_after_dates_early_in_the_year_are_read_right() {
    let cases = [
        ("Thu, 29 Feb 2024 12:00:00 GMT", 1_709_208_000),
        ("Mon, 15 Jan 2024 08:00:00 GMT", 1_705_305_600),
    ];
    for (date, epoch) in cases {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(epoch - 45);
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", date.parse().unwrap());
        assert_eq!(
            asked_wait(&headers, now),
            Some(Duration::from_secs(45)),
            "{date}"
        );
    }
}

/// `kind` as the stack reports a client's failure.
fn transport(kind: std::io::ErrorKind) -> tower::BoxError {
    let io = std::io::Error::from(kind);
    Box::new(crate::error::Error::Transport(
        crate::error::TransportError::new(&io, &[]),
    ))
}
