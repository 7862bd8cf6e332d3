//! Reading a response body whole, for the resource id in it, and giving it
//! back to the client unchanged.

use std::future::ready;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use axum::body::{Body, Bytes, HttpBody};
use axum::http::HeaderMap;
use http_body_util::{BodyExt, Full};

/// A response body being read to its end.
///
/// Most bodies whose id is read are one frame (`Json`, `Bytes`, `String`):
/// that frame is kept as it came, not copied. Frames after the first are
/// joined into one buffer.
pub(crate) struct ResponseBody {
    body: Body,
    first: Option<Bytes>,
    rest: Vec<u8>,
    trailers: Option<HeaderMap>,
}

impl ResponseBody {
    pub(crate) fn new(body: Body) -> Self {
        ResponseBody {
            body,
            first: None,
            rest: Vec::new(),
            trailers: None,
        }
    }

    /// Reads frames until the body ends. The bytes stay here, for
    /// [`into_body`](Self::into_body) and [`bytes`](Self::bytes).
    pub(crate) fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), axum::Error>> {
        loop {
            let frame = match ready!(Pin::new(&mut self.body).poll_frame(cx)) {
                None => return Poll::Ready(Ok(())),
                Some(Err(error)) => return Poll::Ready(Err(error)),
                Some(Ok(frame)) => frame,
            };
            match frame.into_data() {
                Ok(data) => match &self.first {
                    None => self.first = Some(data),
                    Some(first) => {
                        if self.rest.is_empty() {
                            self.rest.extend_from_slice(first);
                        }
                        self.rest.extend_from_slice(&data);
                    }
                },
                Err(frame) => {
                    if let Ok(trailers) = frame.into_trailers() {
                        self.trailers.get_or_insert_with(HeaderMap::new).extend(trailers);
                    }
                }
            }
        }
    }

    /// The bytes read.
    pub(crate) fn bytes(&self) -> &[u8] {
        match &self.first {
            Some(first) if self.rest.is_empty() => first,
            _ => &self.rest,
        }
    }

    /// The body to send on: the bytes read, then the trailers, if any.
    pub(crate) fn into_body(self) -> Body {
        let bytes = match self.first {
            Some(first) if self.rest.is_empty() => first,
            _ => Bytes::from(self.rest),
        };
        match self.trailers {
            None => Body::from(bytes),
            Some(trailers) => Body::new(Full::new(bytes).with_trailers(ready(Some(Ok(trailers))))),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::future::poll_fn;

    use futures_util::stream;
    use http_body::Frame;
    use http_body_util::StreamBody;

    use super::*;

    async fn read(body: Body) -> ResponseBody {
        let mut read = ResponseBody::new(body);
        poll_fn(|cx| read.poll_read(cx)).await.unwrap();
        read
    }

    #[tokio::test]
    async fn one_frame_is_kept_as_it_came() {
        let bytes = Bytes::from_static(b"{\"id\":7}");
        let read = read(Body::from(bytes.clone())).await;
        assert_eq!(read.bytes(), &bytes[..]);
        let body = read.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, bytes);
    }

    #[tokio::test]
    async fn frames_are_joined_and_trailers_kept() {
        let mut trailers = HeaderMap::new();
        trailers.insert("x-checksum", "abc".parse().unwrap());
        let frames = stream::iter([
            Ok::<_, axum::Error>(Frame::data(Bytes::from_static(b"{\"id\":"))),
            Ok(Frame::data(Bytes::from_static(b"4"))),
            Ok(Frame::data(Bytes::from_static(b"2}"))),
            Ok(Frame::trailers(trailers.clone())),
        ]);
        let read = read(Body::new(StreamBody::new(frames))).await;
        assert_eq!(read.bytes(), b"{\"id\":42}");
        let collected = read.into_body().collect().await.unwrap();
        assert_eq!(collected.trailers(), Some(&trailers));
        assert_eq!(collected.to_bytes(), &b"{\"id\":42}"[..]);
    }

    #[tokio::test]
    async fn an_empty_body_reads_as_empty() {
        let read = read(Body::empty()).await;
        assert!(read.bytes().is_empty());
        let body = read.into_body().collect().await.unwrap().to_bytes();
        assert!(body.is_empty());
    }
}
