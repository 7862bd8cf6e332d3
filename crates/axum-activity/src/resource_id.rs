//! Where the wrapper finds the resource id: a field of the JSON response, a
//! path parameter, or only what the handler sets.

use axum::http::HeaderMap;
use axum::http::header::CONTENT_TYPE;
use serde_json::Value;

/// Where an [`Audited`](crate::Audited) handler's resource id comes from when
/// the handler does not set it.
#[derive(Clone, Debug)]
pub(crate) enum IdSource {
    /// The JSON response body.
    Json(JsonLocation),
    /// A named path parameter.
    PathParam(String),
    /// Nowhere: only the handler sets it.
    Handler,
}

/// A place in a JSON document: a top-level field, or a JSON pointer.
#[derive(Clone, Debug)]
pub(crate) enum JsonLocation {
    /// A field of the top-level object, such as `id`.
    Field(String),
    /// An RFC 6901 JSON pointer, such as `/data/id`.
    Pointer(String),
}

impl JsonLocation {
    /// A pointer when `text` starts with `/`, otherwise a field name.
    pub(crate) fn parse(text: String) -> Self {
        if text.starts_with('/') {
            JsonLocation::Pointer(text)
        } else {
            JsonLocation::Field(text)
        }
    }

    /// The id found at this place in `body`: a non-empty string as it is, or a
    /// number in its JSON form. Anything else, or a body that is not JSON, gives
    /// no id.
    pub(crate) fn find_in(&self, body: &[u8]) -> Option<String> {
        let document: Value = serde_json::from_slice(body).ok()?;
        let found = match self {
            JsonLocation::Field(name) => document.get(name),
            JsonLocation::Pointer(pointer) => document.pointer(pointer),
        }?;
        match found {
            Value::String(text) if !text.is_empty() => Some(text.clone()),
            Value::Number(number) => Some(number.to_string()),
            _ => None,
        }
    }
}

/// Whether the response declares a JSON body: `application/json` or a
/// `application/*+json` type such as `application/problem+json`, whatever the
/// parameters.
pub(crate) fn is_json(headers: &HeaderMap) -> bool {
    let Some(content_type) = headers.get(CONTENT_TYPE).and_then(|value| value.to_str().ok()) else {
        return false;
    };
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    kind.eq_ignore_ascii_case("application")
        && (subtype.eq_ignore_ascii_case("json")
            || subtype
                .len()
                .checked_sub(5)
                .and_then(|at| subtype.get(at..))
                .is_some_and(|suffix| suffix.eq_ignore_ascii_case("+json")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

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

    #[test]
    fn ids_are_found_by_field_and_by_pointer() {
        let body = br#"{"id": 42, "data": {"id": "u_7", "tags": [{"id": 1.5}]}, "flag": true}"#;
        let field = |name: &str| JsonLocation::parse(name.to_owned()).find_in(body);
        assert_eq!(field("id").as_deref(), Some("42"));
        assert_eq!(field("/data/id").as_deref(), Some("u_7"));
        assert_eq!(field("/data/tags/0/id").as_deref(), Some("1.5"));
        assert_eq!(field("flag"), None, "booleans are not ids");
        assert_eq!(field("data"), None, "objects are not ids");
        assert_eq!(field("missing"), None);
        assert_eq!(JsonLocation::parse("id".to_owned()).find_in(b"not json"), None);
        assert_eq!(
            JsonLocation::parse("id".to_owned()).find_in(br#"{"id": ""}"#),
            None
        );
    }
}
