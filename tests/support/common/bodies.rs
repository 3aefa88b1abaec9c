//! Request bodies for the tests: a stream of chunks with no declared size,
//! as a client sees a body it cannot buffer up front.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::Frame;

/// Data frames with no declared size, yielded one per poll.
pub struct Streamed(pub VecDeque<Bytes>);

impl Streamed {
    /// `body` cut into `chunk`-byte frames (the last may be shorter).
    pub fn chunked(body: &Bytes, chunk: usize) -> Streamed {
        Streamed(
            (0..body.len())
                .step_by(chunk)
                .map(|i| body.slice(i..(i + chunk).min(body.len())))
                .collect(),
        )
    }
}

impl http_body::Body for Streamed {
    type Data = Bytes;
    type Error = Infallible;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.0.pop_front().map(|c| Ok(Frame::data(c))))
    }
}
