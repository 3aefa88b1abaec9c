//! What went wrong, for a person: a short reason that groups alike
//! failures, and what to do about it.

use tower::BoxError;
use tower_whatsapp_auth::{graph::GraphError, Error, RefreshError};

/// Whether `err` will fail every later request too, until an operator acts.
pub fn is_permanent(err: &Error) -> bool {
    matches!(
        err,
        Error::Misconfigured { .. }
            | Error::TokenDead { .. }
            | Error::PermissionMissing { .. }
            | Error::Config(_)
    )
}

/// Graph's refusal: its kind and codes, and Graph's own remedy.
pub fn graph_reason(err: &GraphError) -> (String, String) {
    let code = match err.subcode() {
        Some(sub) => format!("{}/{sub}", err.code()),
        None => err.code().to_string(),
    };
    (
        format!(
            "{} (Graph code {code}, HTTP {})",
            err.kind(),
            err.status().as_u16()
        ),
        err.hint().to_owned(),
    )
}

/// A short, groupable reason and a remediation hint for a failed request.
pub fn describe(err: &BoxError) -> (String, String) {
    if err.is::<tower::timeout::error::Elapsed>() {
        return (
            "timed out".into(),
            "Graph did not answer in time; retry later".into(),
        );
    }
    if let Some(Error::Throttled(throttled)) = err.downcast_ref::<Error>() {
        return (
            "not sent, its turn would come past the maximum wait (throughput)".into(),
            format!(
                "nothing reached Graph: send it again later (in {:.0?} or more), or lower --concurrency or --mps",
                throttled.retry_after()
            ),
        );
    }
    let Some(err) = err.downcast_ref::<Error>() else {
        return (
            format!("transport error: {err}"),
            "check network access to the Graph API base URL".into(),
        );
    };
    match err {
        Error::Graph(g) => graph_reason(g),
        Error::TokenDead { cause } => {
            let (reason, hint) = graph_reason(cause);
            (format!("not sent, token dead: {reason}"), hint)
        }
        Error::NotReplayed { source, .. } => {
            let (reason, hint) = graph_reason(source);
            (format!("not replayed (body too large): {reason}"), hint)
        }
        Error::Misconfigured { what, cause } => {
            let (reason, hint) = graph_reason(cause);
            (format!("not sent, {}: {reason}", what.describe()), hint)
        }
        Error::Refresh(RefreshError::BackingOff { last, .. }) => (
            format!("not sent, refresh backing off after: {last}"),
            last.graph_error()
                .map_or_else(String::new, |g| g.hint().to_owned()),
        ),
        Error::Refresh(r) => (format!("not sent, refresh failed: {r}"), String::new()),
        other => (other.to_string(), String::new()),
    }
}
