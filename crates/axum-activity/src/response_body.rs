//! Reading a JSON response body whole, for the resource id in it, and giving
//! it back to the client unchanged.

use std::future::ready;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use axum::body::{Body, Bytes, HttpBody};
use axum::http::HeaderMap;
use axum::http::header::CONTENT_TYPE;
use http_body_util::{BodyExt, Full};

/// A response body being read to its end.
pub(crate) struct ResponseBody {
    body: Body,
    data: Data,
    trailers: Option<HeaderMap>,
}

/// The bytes read so far. Most bodies whose id is read are one frame
/// (`Json`, `Bytes`, `String`): that frame is kept as it came, not copied;
/// frames after the first are joined into one buffer.
#[derive(Default)]
enum Data {
    #[default]
    Empty,
    One(Bytes),
    Joined(Vec<u8>),
}

impl Data {
    fn push(&mut self, data: Bytes) {
        *self = match std::mem::take(self) {
            Data::Empty => Data::One(data),
            Data::One(first) => Data::Joined([&first[..], &data[..]].concat()),
            Data::Joined(mut joined) => {
                joined.extend_from_slice(&data);
                Data::Joined(joined)
            }
        };
    }
}

impl ResponseBody {
    pub(crate) fn new(body: Body) -> Self {
        ResponseBody {
            body,
            data: Data::Empty,
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
                Ok(data) => self.data.push(data),
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
        match &self.data {
            Data::Empty => &[],
            Data::One(bytes) => bytes,
            Data::Joined(joined) => joined,
        }
    }

    /// The body to send on: the bytes read, then the trailers, if any.
    pub(crate) fn into_body(self) -> Body {
        let bytes = match self.data {
            Data::Empty => Bytes::new(),
            Data::One(bytes) => bytes,
            Data::Joined(joined) => Bytes::from(joined),
        };
        match self.trailers {
            None => Body::from(bytes),
            Some(trailers) => Body::new(Full::new(bytes).with_trailers(ready(Some(Ok(trailers))))),
        }
    }
}

/// Whether the response declares a JSON body: `application/json` or a
/// `application/*+json` type such as `application/problem+json`, whatever the
/// parameters.
pub(crate) fn is_json(headers: &HeaderMap) -> bool {
    let Some(content_type) = headers.get(CONTENT_TYPE) else {
        return false;
    };
    // Compared as bytes: a media type is ASCII, and this runs on every
    // response whose id is read from its body. The common value first.
    let content_type = content_type.as_bytes();
    if content_type.eq_ignore_ascii_case(b"application/json") {
        return true;
    }
    let essence = content_type
        .split(|&byte| byte == b';')
        .next()
        .unwrap_or_default()
        .trim_ascii();
    let Some(slash) = essence.iter().position(|&byte| byte == b'/') else {
        return false;
    };
    let (kind, subtype) = (&essence[..slash], &essence[slash + 1..]);
    kind.eq_ignore_ascii_case(b"application")
        && (subtype.eq_ignore_ascii_case(b"json")
            || subtype
                .len()
                .checked_sub(5)
                .is_some_and(|at| subtype[at..].eq_ignore_ascii_case(b"+json")))
}

#[cfg(test)]
mod tests {
    use std::future::poll_fn;

    use axum::http::HeaderValue;
    use futures_util::stream;
    use http_body::Frame;
    use http_body_util::StreamBody;

    use super::*;

    fn headers(content_type: &'static str) -> HeaderMap {
        HeaderMap::from_iter([(CONTENT_TYPE, HeaderValue::from_static(content_type))])
    }

    #[test]
    fn json_content_types_are_recognised() {
        for json in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON",
            "application/problem+json",
            "application/vnd.api+JSON;x=1",
        ] {
            assert!(is_json(&headers(json)), "{json}");
        }
        for other in [
            "text/json",
            "application/jsonp",
            "text/event-stream",
            "application/x-ndjson",
            "json",
            "application/+jso",
        ] {
            assert!(!is_json(&headers(other)), "{other}");
        }
        assert!(!is_json(&HeaderMap::new()));
    }

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
