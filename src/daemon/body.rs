//! Request bodies at the HTTP layer, for every route (issue 9, finding 3 and its 413 items):
//!
//! - [`DeadlineBody`]: the body must be complete within the body read timeout, counted from the
//!   end of the request head; when it is not, reading it fails and [`finish_response`] answers
//!   408 with `Connection: close`.
//! - [`refuse_oversized_body`]: a request whose `Content-Length` is already over the route's
//!   limit gets 413 before the body is touched, so before hyper sends `100 Continue`.
//! - [`finish_response`]: axum's plain-text 413 (a body that turned out too long while being
//!   read, e.g. chunked) becomes the JSON error every other error is.
//!
//! Route limits themselves (`DefaultBodyLimit`) belong to the routers; this module does not
//! know them and takes the limit as the pre-check's state.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper::body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use crate::error::ApiError;

/// Why a request body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// The connection failed while the body was coming in.
    #[error("reading the request body: {0}")]
    Read(#[from] hyper::Error),
    /// The body was not complete when its deadline passed.
    #[error("the request body did not arrive in time")]
    DeadlinePassed,
}

/// The deadline of one request's body, shared by the body and the code that answers.
#[derive(Clone, Debug)]
pub struct BodyDeadline {
    /// When the body must be complete.
    at: Instant,
    /// Set when reading the body failed because `at` passed.
    passed: Arc<AtomicBool>,
}

impl BodyDeadline {
    /// A deadline `timeout` from now: call it when the request head has been read.
    pub fn starting_now(timeout: Duration) -> BodyDeadline {
        BodyDeadline {
            at: Instant::now() + timeout,
            passed: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Whether reading the body failed because the deadline passed.
    pub fn has_passed(&self) -> bool {
        self.passed.load(Ordering::Relaxed)
    }
}

/// A request body that fails with [`BodyError::DeadlinePassed`] when it is polled after its
/// deadline without being complete.
///
/// The deadline is only checked while someone reads the body: a handler that never reads it
/// does not wait for it either, and hyper closes the connection after the response instead of
/// reading the rest.
pub struct DeadlineBody<B> {
    inner: B,
    deadline: BodyDeadline,
    /// The timer, made at the first poll that has to wait.
    sleep: Option<Pin<Box<Sleep>>>,
}

impl<B> DeadlineBody<B> {
    /// `inner`, bounded by `deadline`.
    pub fn new(inner: B, deadline: BodyDeadline) -> DeadlineBody<B> {
        DeadlineBody {
            inner,
            deadline,
            sleep: None,
        }
    }
}

impl<B> Body for DeadlineBody<B>
where
    B: Body<Data = Bytes, Error = hyper::Error> + Unpin,
{
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = self.get_mut();
        if this.deadline.has_passed() {
            return Poll::Ready(Some(Err(BodyError::DeadlinePassed)));
        }
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(BodyError::Read)));
        }
        let at = this.deadline.at;
        let sleep = this
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(at)));
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => {
                this.deadline.passed.store(true, Ordering::Relaxed);
                Poll::Ready(Some(Err(BodyError::DeadlinePassed)))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Middleware (`axum::middleware::from_fn_with_state`) that answers 413 at once when the
/// request's `Content-Length` is over `max_body_bytes`, without reading the body.
///
/// hyper sends `100 Continue` only when the body is first polled, so a client that asked for
/// it gets the 413 instead and need not send the body. Bodies without a length (chunked) are
/// left to the route's `DefaultBodyLimit`, whose 413 [`finish_response`] makes JSON.
pub async fn refuse_oversized_body(
    State(max_body_bytes): State<usize>,
    request: Request,
    next: Next,
) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|length| length > max_body_bytes as u64) {
        return ApiError::BodyTooLarge.into_response();
    }
    next.run(request).await
}

/// The last look at every response: 408 when the request's body missed its deadline (whatever
/// the handler made of the failed read), and the JSON 413 in place of a plain-text one.
pub fn finish_response(response: Response, deadline: &BodyDeadline) -> Response {
    if deadline.has_passed() {
        return ApiError::BodyTimeout.into_response();
    }
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE && !is_json(&response) {
        return ApiError::BodyTooLarge.into_response();
    }
    response
}

fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    fn deadline_in(ms: u64) -> BodyDeadline {
        BodyDeadline::starting_now(Duration::from_millis(ms))
    }

    #[tokio::test]
    async fn a_body_still_open_at_its_deadline_fails_and_marks_the_deadline() {
        let deadline = deadline_in(50);
        let mut body = DeadlineBody::new(PendingBody, deadline.clone());
        let read = body.frame().await;
        assert!(matches!(read, Some(Err(BodyError::DeadlinePassed))));
        assert!(deadline.has_passed());
    }

    #[tokio::test]
    async fn a_body_complete_before_its_deadline_reads_whole() {
        let deadline = deadline_in(60_000);
        let inner = http_body_util::Full::new(Bytes::from_static(b"hello"))
            .map_err(|never: std::convert::Infallible| -> hyper::Error { match never {} });
        let body = DeadlineBody::new(inner, deadline.clone());
        let bytes = body.collect().await.unwrap().to_bytes();
        assert_eq!(&bytes[..], b"hello");
        assert!(!deadline.has_passed());
    }

    /// A body that never yields, with hyper's error type.
    struct PendingBody;

    impl Body for PendingBody {
        type Data = Bytes;
        type Error = hyper::Error;
        fn poll_frame(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
            Poll::Pending
        }
    }

    #[test]
    fn a_plain_413_becomes_json_and_a_json_one_is_kept() {
        let plain = (StatusCode::PAYLOAD_TOO_LARGE, "length limit exceeded").into_response();
        let mapped = finish_response(plain, &deadline_in(1000));
        assert_eq!(mapped.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert!(is_json(&mapped));
        assert_eq!(mapped.headers()[header::CONNECTION], "close");
        let json = ApiError::BodyTooLarge.into_response();
        let kept = finish_response(json, &deadline_in(1000));
        assert!(is_json(&kept));
    }

    #[tokio::test]
    async fn a_passed_deadline_turns_any_answer_into_408() {
        let deadline = deadline_in(0);
        deadline.passed.store(true, Ordering::Relaxed);
        let answer = finish_response(StatusCode::BAD_REQUEST.into_response(), &deadline);
        assert_eq!(answer.status(), StatusCode::REQUEST_TIMEOUT);
        let body = answer.into_body().collect().await.unwrap().to_bytes();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["error"], "request_timeout");
    }
}
