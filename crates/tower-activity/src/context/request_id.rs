//! Request ids: accepting a well-formed incoming id, or making a new one.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};

use crate::event::MAX_REQUEST_ID_LEN;

/// The header a request id is read from and echoed on by default.
pub(super) const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Whether `id` may be kept as a request id: 1 to [`MAX_REQUEST_ID_LEN`] bytes of
/// ASCII letters, digits and `-_.:/+=@`. Anything else (spaces, control
/// characters, quotes, non-ASCII) is replaced by a fresh id, never stored.
///
/// ```
/// use tower_activity::is_valid_request_id;
///
/// assert!(is_valid_request_id(b"0192f1d2-7c3b-7a10-9c2e-3f4b5a6c7d8e"));
/// assert!(!is_valid_request_id(b"abc\r\nSet-Cookie: x=1"));
/// assert!(!is_valid_request_id(&[b'a'; 129]));
/// ```
pub fn is_valid_request_id(id: &[u8]) -> bool {
    !id.is_empty()
        && id.len() <= MAX_REQUEST_ID_LEN
        && id.iter().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'/' | b'+' | b'=' | b'@')
        })
}

/// Whose incoming request ids the layer keeps (see
/// [`ActivityLayer::incoming_request_id`](crate::ActivityLayer::incoming_request_id)).
///
/// A request id is chosen by whoever sends the request. Kept from anyone, it
/// lets a client give two requests the same id, so that a search by request id
/// mixes them; behind a proxy or gateway that sets the id, keep only its ids.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IncomingRequestId {
    /// Keep a well-formed incoming id from any client (the default, as
    /// tower-http does).
    #[default]
    Accept,
    /// Keep it only when the peer is one of the
    /// [trusted proxies](crate::ActivityLayer::trusted_proxies); otherwise make a
    /// fresh one.
    FromTrustedProxies,
    /// Always make a fresh id.
    Ignore,
}

/// A request's id, as the header echoes it and as events carry it.
#[derive(Clone, Debug)]
pub(crate) struct RequestId {
    pub(crate) header: HeaderValue,
    pub(crate) text: Arc<str>,
    /// Whether the request carries it already, in the id header.
    pub(crate) in_request: bool,
}

/// Text shared between a request id's header value and its events.
struct SharedBytes(Arc<str>);

impl AsRef<[u8]> for SharedBytes {
    fn as_ref(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

/// A fresh request id: a hyphenated UUID v7, time-ordered to the
/// millisecond. (Event ids are also ordered within a millisecond; request ids
/// need not be, which spares the lock that ordering takes.) Its random bits
/// come from a fast per-thread generator rather than a cryptographic one: a
/// request id ties events together and is no secret (a client may send its
/// own). The header value and the events share one copy of the text.
pub(crate) fn generate() -> RequestId {
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let millis = u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX);
    let [random @ .., _, _, _, _, _, _] = fastrand::u128(..).to_le_bytes();
    let id = uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid();
    let mut buf = uuid::Uuid::encode_buffer();
    let text: Arc<str> = Arc::from(&*id.hyphenated().encode_lower(&mut buf));
    let bytes = Bytes::from_owner(SharedBytes(text.clone()));
    let header = HeaderValue::from_maybe_shared(bytes).expect("a hyphenated UUID is a valid header value");
    RequestId {
        header,
        text,
        in_request: false,
    }
}

/// A valid incoming id, kept as it came.
fn incoming(value: &HeaderValue, in_request: bool) -> RequestId {
    // Valid ids are ASCII, so always text.
    let text = Arc::from(value.to_str().unwrap_or_default());
    RequestId {
        header: value.clone(),
        text,
        in_request,
    }
}

/// When `accept`, the incoming id from `header` if it is valid; with the
/// `tower-http` feature, otherwise the id tower-http's `SetRequestIdLayer` put
/// in the extensions if it is valid. Otherwise a fresh UUID v7.
#[cfg_attr(not(feature = "tower-http"), expect(unused_variables))]
pub(crate) fn resolve(
    accept: bool,
    header: &HeaderName,
    headers: &HeaderMap,
    extensions: &http::Extensions,
) -> RequestId {
    if !accept {
        return generate();
    }
    let mut values = headers.get_all(header).iter();
    if let (Some(value), None) = (values.next(), values.next())
        && is_valid_request_id(value.as_bytes())
    {
        return incoming(value, true);
    }
    #[cfg(feature = "tower-http")]
    if let Some(id) = extensions.get::<tower_http::request_id::RequestId>()
        && is_valid_request_id(id.header_value().as_bytes())
    {
        return incoming(id.header_value(), false);
    }
    generate()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&[u8]]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in values {
            map.append(X_REQUEST_ID, HeaderValue::from_bytes(value).unwrap());
        }
        map
    }

    #[test]
    fn valid_incoming_id_is_kept() {
        let id = resolve(
            true,
            &X_REQUEST_ID,
            &headers(&[b"req-123_abc"]),
            &Default::default(),
        );
        assert_eq!(id.header, "req-123_abc");
        assert_eq!(&*id.text, "req-123_abc");
    }

    #[test]
    fn ten_kilobyte_id_is_replaced_by_a_uuid() {
        let long = vec![b'a'; 10 * 1024];
        let id = resolve(true, &X_REQUEST_ID, &headers(&[&long]), &Default::default());
        assert_eq!(uuid::Uuid::parse_str(&id.text).unwrap().get_version_num(), 7);
    }

    #[test]
    fn fresh_ids_are_distinct_uuid_v7_of_the_current_millisecond() {
        let before = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
        let ids: Vec<_> = (0..1_000).map(|_| generate()).collect();
        let after = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
        let distinct: std::collections::HashSet<_> = ids.iter().map(|id| id.text.clone()).collect();
        assert_eq!(distinct.len(), ids.len());
        for id in &ids {
            assert_eq!(id.header.as_bytes(), id.text.as_bytes());
            let uuid = uuid::Uuid::parse_str(&id.text).unwrap();
            assert_eq!(uuid.get_version_num(), 7);
            assert_eq!(uuid.get_variant(), uuid::Variant::RFC4122);
            let (seconds, nanos) = uuid.get_timestamp().unwrap().to_unix();
            let millis = seconds * 1_000 + u64::from(nanos) / 1_000_000;
            assert!(
                (before..=after).contains(&millis),
                "{millis} not in {before}..={after}"
            );
        }
    }

    #[test]
    fn ids_with_spaces_or_non_ascii_are_replaced() {
        for bad in [
            &b"has space"[..],
            b"tab\there",
            b"quote\"d",
            b"caf\xc3\xa9",
            b"\xff\xfe",
        ] {
            let id = resolve(true, &X_REQUEST_ID, &headers(&[bad]), &Default::default());
            assert_ne!(id.header.as_bytes(), bad);
            assert_eq!(id.header.as_bytes(), id.text.as_bytes());
            assert!(uuid::Uuid::parse_str(&id.text).is_ok());
        }
    }

    #[test]
    fn two_incoming_ids_are_ambiguous_and_replaced() {
        let id = resolve(
            true,
            &X_REQUEST_ID,
            &headers(&[b"one", b"two"]),
            &Default::default(),
        );
        assert!(uuid::Uuid::parse_str(&id.text).is_ok());
    }

    #[test]
    fn ids_are_not_read_when_not_accepted() {
        let id = resolve(
            false,
            &X_REQUEST_ID,
            &headers(&[b"chosen-by-client"]),
            &Default::default(),
        );
        assert!(uuid::Uuid::parse_str(&id.text).is_ok());
    }

    #[test]
    fn boundary_length_is_accepted() {
        assert!(is_valid_request_id(&[b'a'; MAX_REQUEST_ID_LEN]));
        assert!(!is_valid_request_id(&[b'a'; MAX_REQUEST_ID_LEN + 1]));
        assert!(!is_valid_request_id(b""));
    }

    #[cfg(feature = "tower-http")]
    #[test]
    fn tower_http_request_id_extension_is_used_when_no_header() {
        let mut extensions = http::Extensions::new();
        extensions.insert(tower_http::request_id::RequestId::new(HeaderValue::from_static(
            "from-tower-http",
        )));
        let id = resolve(true, &X_REQUEST_ID, &HeaderMap::new(), &extensions);
        assert_eq!(id.header, "from-tower-http");
    }
}
