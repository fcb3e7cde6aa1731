//! The body timeout: a request body that stops arriving for the server's body timeout fails
//! with [`BodyTimedOut`] (answered 408).
//!
//! Like tower-http's `TimeoutBody`, but the timer starts only when the body is not there yet:
//! almost every body arrives with its head, and arming a timer for it cost the request path
//! a timer-wheel registration and a wake of the runtime's driver per request.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Bytes, HttpBody};
use http_body::Frame;

/// A request body that waits at most `timeout` for each of its frames.
pub(crate) struct ArrivalTimeout<B> {
    timeout: Duration,
    body: B,
    /// Started when a frame is awaited and not there; dropped when it comes.
    waiting: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<B> ArrivalTimeout<B> {
    pub(crate) fn new(timeout: Duration, body: B) -> Self {
        ArrivalTimeout {
            timeout,
            body,
            waiting: None,
        }
    }
}

/// The body stopped arriving for longer than the body timeout.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive in time")]
pub struct BodyTimedOut;

impl<B> HttpBody for ArrivalTimeout<B>
where
    B: HttpBody<Data = Bytes> + Unpin,
    B::Error: Into<axum::BoxError>,
{
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.body).poll_frame(cx) {
            this.waiting = None;
            return Poll::Ready(frame.map(|frame| frame.map_err(Into::into)));
        }
        let timeout = this.timeout;
        let waiting = this
            .waiting
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        match std::future::Future::poll(waiting.as_mut(), cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(BodyTimedOut.into()))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    /// A body whose frames come on a channel, as a slow client's would.
    struct ChannelBody(tokio::sync::mpsc::Receiver<Bytes>);

    impl HttpBody for ChannelBody {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            self.0
                .poll_recv(cx)
                .map(|bytes| bytes.map(|bytes| Ok(Frame::data(bytes))))
        }
    }

    fn channel_body() -> (tokio::sync::mpsc::Sender<Bytes>, ChannelBody) {
        let (send, receive) = tokio::sync::mpsc::channel(4);
        (send, ChannelBody(receive))
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_stops_arriving_times_out_and_one_that_keeps_coming_does_not() {
        let (send, body) = channel_body();
        let mut body = ArrivalTimeout::new(Duration::from_secs(10), body);
        let writer = tokio::spawn(async move {
            for _ in 0..3 {
                // Each frame within the timeout, all of them together beyond it.
                tokio::time::sleep(Duration::from_secs(6)).await;
                send.send(Bytes::from_static(b"x")).await.unwrap();
            }
            tokio::time::sleep(Duration::from_secs(11)).await;
            drop(send);
        });
        for _ in 0..3 {
            let frame = body.frame().await.unwrap().unwrap();
            assert_eq!(frame.into_data().unwrap(), "x");
        }
        let error = body.frame().await.unwrap().unwrap_err();
        assert!(error.is::<BodyTimedOut>(), "{error}");
        writer.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_is_there_needs_no_timer() {
        let body = http_body_util::Full::new(Bytes::from_static(b"{}"));
        let mut body = ArrivalTimeout::new(Duration::from_secs(10), body);
        assert_eq!(
            body.frame().await.unwrap().unwrap().into_data().unwrap(),
            "{}"
        );
        assert!(body.waiting.is_none());
    }
}
