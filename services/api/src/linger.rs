//! Lingering close for refused uploads: when a handler answers without reading the request
//! body (an unknown API key, a missing scope, a rate limit, a step out of order), the rest of
//! the upload is read and discarded in the background, within a byte and time budget.
//!
//! Without it the server closes a connection whose receive buffer still holds the client's
//! image, the kernel answers with a TCP reset, and the client sees "connection reset" instead
//! of the 401 or 409 that explains what to fix (nginx's `lingering_close` exists for the same
//! reason). The body limit still applies: draining stops at [`DRAIN_MAX_BYTES`] or after
//! [`DRAIN_MAX_TIME`], whichever comes first, and the connection is closed then.
//!
//! Layout: [`linger_on_unread_body`] is the middleware; [`DrainOnDrop`] is the body wrapper
//! whose `Drop` hands an unfinished body to a drain task.

use std::{
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use axum::{body::Body, extract::Request, middleware::Next, response::Response};
use bytes::Bytes;
use http_body::{Frame, SizeHint};

/// At most this much of a refused upload is read and discarded (above the largest body the
/// API accepts, so any upload the API would have taken is drained in full).
pub const DRAIN_MAX_BYTES: usize = 64 * 1024 * 1024;

/// Draining a refused upload stops after this long.
pub const DRAIN_MAX_TIME: Duration = Duration::from_secs(10);

/// Wraps every request body so that a body left unread by the handler is drained, not reset.
pub async fn linger_on_unread_body(request: Request, next: Next) -> Response {
    let request = request.map(|body| Body::new(DrainOnDrop { inner: Some(body) }));
    next.run(request).await
}

/// A request body that, when dropped before its end, drains the remainder in a task.
pub struct DrainOnDrop {
    inner: Option<Body>,
}

impl http_body::Body for DrainOnDrop {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let Some(inner) = self.inner.as_mut() else {
            return Poll::Ready(None);
        };
        let polled = Pin::new(inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None) | Poll::Ready(Some(Err(_)))) {
            // Finished (or broken): nothing is left to drain.
            self.inner = None;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner
            .as_ref()
            .is_none_or(http_body::Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), http_body::Body::size_hint)
    }
}

impl Drop for DrainOnDrop {
    fn drop(&mut self) {
        let Some(body) = self.inner.take() else {
            return;
        };
        if http_body::Body::is_end_stream(&body) {
            return;
        }
        // Outside a runtime (a test dropping a body by hand) there is no connection to keep.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        runtime.spawn(async move {
            let _ = tokio::time::timeout(DRAIN_MAX_TIME, drain(body)).await;
        });
    }
}

/// Reads and discards `body` up to [`DRAIN_MAX_BYTES`].
async fn drain(body: Body) {
    use futures::StreamExt as _;
    let mut stream = body.into_data_stream();
    let mut drained = 0usize;
    while let Some(Ok(chunk)) = stream.next().await {
        drained = drained.saturating_add(chunk.len());
        if drained > DRAIN_MAX_BYTES {
            break;
        }
    }
}
