//! The cell's state transitions on refusals, driven directly.

use http::StatusCode;

use crate::error::Error;
use crate::graph::{ErrorKind, GraphError};
use crate::layer::WhatsAppAuthLayer;

fn refusal(code: i64, subcode: Option<i64>, message: &str) -> GraphError {
    GraphError::new(StatusCode::BAD_REQUEST, code, subcode, message)
}

/// A refusal only changes a token that is in use: once the cell is blocked
/// (a configuration Graph refused) or the token is dead, a late answer to a
/// request sent before (an expired token, say) neither lifts the block nor
/// starts a renewal.
#[tokio::test]
async fn late_refusals_do_not_move_a_blocked_or_dead_token() {
    let client = tower::service_fn(|_: http::Request<crate::body::ReplayBody>| async {
        Ok::<_, tower::BoxError>(http::Response::new(
            http_body_util::Empty::<bytes::Bytes>::new(),
        ))
    });
    let layer = WhatsAppAuthLayer::new("EAAG-token")
        .app_credentials("1", "secret")
        .without_validation();
    let expired = refusal(
        190,
        Some(463),
        "Error validating access token: Session has expired",
    );
    for (first, kind) in [
        (
            refusal(
                101,
                None,
                "Error validating application. Invalid application ID.",
            ),
            ErrorKind::Misconfigured,
        ),
        (
            refusal(
                190,
                Some(460),
                "Error validating access token: The session has been invalidated",
            ),
            ErrorKind::TokenRevoked,
        ),
    ] {
        let cell = layer.token_cell(client);
        cell.ready().await.unwrap();
        let generation = cell.stats().generation;
        cell.observe(generation, &first, true);
        let blocked = cell.blocked().expect("blocked by the first refusal");
        cell.observe(generation, &expired, true);
        let still = cell.blocked().expect("still blocked");
        assert_eq!(still.kind(), kind);
        assert_eq!(still.to_string(), blocked.to_string());
        assert!(matches!(
            still,
            Error::Misconfigured { .. } | Error::TokenDead { .. }
        ));
        assert_eq!(cell.stats().refreshes, 0, "no renewal started");
    }
}
