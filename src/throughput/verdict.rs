//! What an answer says to the shaper: accepted, refused for the number's
//! throughput, refused for one recipient's pair rate, or something else.

use http::{Response, StatusCode};

use crate::graph::GraphError;

/// What an answer says to the shaper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Accepted,
    /// 130429, or a 429 without a Graph error (a proxy's).
    Throughput,
    /// 131056: too many messages to this recipient.
    PairRate,
    Other,
}

/// What `res` says about the pace.
pub(crate) fn verdict<B>(res: &Response<B>) -> Verdict {
    if res.status().is_success() {
        return Verdict::Accepted;
    }
    match res.extensions().get::<GraphError>().map(GraphError::code) {
        Some(130_429) => Verdict::Throughput,
        Some(131_056) => Verdict::PairRate,
        None if res.status() == StatusCode::TOO_MANY_REQUESTS => Verdict::Throughput,
        _ => Verdict::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_from_the_graph_error_else_the_status() {
        let answer = |status: u16, code: Option<i64>| {
            let mut res = Response::new(());
            *res.status_mut() = StatusCode::from_u16(status).unwrap();
            if let Some(code) = code {
                let err = GraphError::new(res.status(), code, None, "m");
                res.extensions_mut().insert(err);
            }
            verdict(&res)
        };
        assert_eq!(answer(200, None), Verdict::Accepted);
        assert_eq!(answer(400, Some(130_429)), Verdict::Throughput);
        assert_eq!(answer(429, Some(130_429)), Verdict::Throughput);
        assert_eq!(answer(429, None), Verdict::Throughput);
        assert_eq!(answer(400, Some(131_056)), Verdict::PairRate);
        assert_eq!(
            answer(429, Some(4)),
            Verdict::Other,
            "app-level, not the number's"
        );
        assert_eq!(answer(400, Some(131_048)), Verdict::Other);
        assert_eq!(answer(400, None), Verdict::Other);
        assert_eq!(answer(502, None), Verdict::Other);
    }
}
