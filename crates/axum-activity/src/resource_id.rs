//! Where the wrapper finds the resource id: a field of the JSON response, a
//! path parameter, or only what the handler sets.

use std::fmt;
use std::sync::Arc;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

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
    /// An RFC 6901 JSON pointer such as `/data/0/id`, as its unescaped
    /// tokens.
    Pointer(Vec<String>),
}

impl JsonLocation {
    /// A pointer when `text` starts with `/`, otherwise a field name.
    pub(crate) fn parse(text: String) -> Self {
        match text.strip_prefix('/') {
            // Unescaped in this order, as RFC 6901 says: `~01` is `~1`.
            Some(pointer) => JsonLocation::Pointer(
                pointer
                    .split('/')
                    .map(|token| token.replace("~1", "/").replace("~0", "~"))
                    .collect(),
            ),
            None => JsonLocation::Field(text),
        }
    }

    /// The id found at this place in `body`: a non-empty string as it is, or a
    /// number in its JSON form. Anything else, or a body that is not JSON, gives
    /// no id.
    ///
    /// The body is read once, front to back, and only the value at this place
    /// is built: every other value is checked for its syntax and skipped. So
    /// a value elsewhere that `serde_json` would refuse to build (nested deeper
    /// than 128 levels, a number beyond `f64`, a string with a lone surrogate
    /// escape or invalid UTF-8) does not hide the id.
    pub(crate) fn find_in(&self, body: &[u8]) -> Option<Arc<str>> {
        let walk = match self {
            JsonLocation::Field(name) => Walk {
                path: std::slice::from_ref(name),
                into_arrays: false,
            },
            JsonLocation::Pointer(tokens) => Walk {
                path: tokens,
                into_arrays: true,
            },
        };
        let mut document = serde_json::Deserializer::from_slice(body);
        let found = walk.deserialize(&mut document).ok()?;
        document.end().ok()?;
        found
    }
}

/// Follows `path` into a JSON value and gives the id at its end.
#[derive(Clone, Copy)]
struct Walk<'a> {
    path: &'a [String],
    /// Whether a token may be an array index (JSON pointers), or only an
    /// object key (a top-level field).
    into_arrays: bool,
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = Option<Arc<str>>;

    fn deserialize<D: Deserializer<'de>>(self, value: D) -> Result<Option<Arc<str>>, D::Error> {
        match self.path.split_first() {
            None => value.deserialize_any(Leaf),
            Some((token, rest)) => value.deserialize_any(Step {
                token,
                rest: Walk { path: rest, ..self },
            }),
        }
    }
}

/// The id in the value found at the end of the path: a non-empty string or
/// a number, read straight into the event's text.
struct Leaf;

impl<'de> Visitor<'de> for Leaf {
    type Value = Option<Arc<str>>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Option<Arc<str>>, E> {
        Ok((!text.is_empty()).then(|| Arc::from(text)))
    }

    fn visit_u64<E: de::Error>(self, number: u64) -> Result<Option<Arc<str>>, E> {
        Ok(Some(number_text(number)))
    }

    fn visit_i64<E: de::Error>(self, number: i64) -> Result<Option<Arc<str>>, E> {
        Ok(Some(number_text(number)))
    }

    fn visit_f64<E: de::Error>(self, number: f64) -> Result<Option<Arc<str>>, E> {
        Ok(serde_json::Number::from_f64(number).map(|number| Arc::from(number.to_string())))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Option<Arc<str>>, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Option<Arc<str>>, E> {
        Ok(None)
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Option<Arc<str>>, M::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Option<Arc<str>>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }
}

/// An integer as shared text, written on the stack first.
fn number_text(number: impl itoa::Integer) -> Arc<str> {
    Arc::from(itoa::Buffer::new().format(number))
}

/// One step of a [`Walk`]: into the member `token` of an object, or the
/// element `token` of an array.
struct Step<'a> {
    token: &'a str,
    rest: Walk<'a>,
}

impl<'de> Visitor<'de> for Step<'_> {
    type Value = Option<Arc<str>>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Option<Arc<str>>, M::Error> {
        // A repeated key counts with its last value, as when the document is
        // parsed whole.
        let mut found = None;
        while let Some(wanted) = map.next_key_seed(KeyIs(self.token))? {
            if wanted {
                found = map.next_value_seed(self.rest)?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Option<Arc<str>>, A::Error> {
        let wanted = if self.rest.into_arrays {
            array_index(self.token)
        } else {
            None
        };
        let mut found = None;
        let mut index = 0;
        loop {
            if wanted == Some(index) {
                match seq.next_element_seed(self.rest)? {
                    Some(id) => found = id,
                    None => break,
                }
            } else if seq.next_element::<IgnoredAny>()?.is_none() {
                break;
            }
            index += 1;
        }
        Ok(found)
    }

    // A scalar has nothing inside: no id below it.
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Option<Arc<str>>, E> {
        Ok(None)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Option<Arc<str>>, E> {
        Ok(None)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Option<Arc<str>>, E> {
        Ok(None)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Option<Arc<str>>, E> {
        Ok(None)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Option<Arc<str>>, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Option<Arc<str>>, E> {
        Ok(None)
    }
}

/// An array index in a JSON pointer: decimal digits without a leading zero
/// or sign, as `serde_json`'s own pointers read it.
fn array_index(token: &str) -> Option<usize> {
    if token.starts_with('+') || (token.starts_with('0') && token.len() != 1) {
        return None;
    }
    token.parse().ok()
}

/// Whether an object key is the wanted one, compared without copying it.
struct KeyIs<'a>(&'a str);

impl<'de> DeserializeSeed<'de> for KeyIs<'_> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, key: D) -> Result<bool, D::Error> {
        // As bytes: the key is compared, not kept, so its UTF-8 need not be
        // checked first (escapes are still undone).
        key.deserialize_bytes(self)
    }
}

impl<'de> Visitor<'de> for KeyIs<'_> {
    type Value = bool;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("an object key")
    }

    fn visit_bytes<E: de::Error>(self, key: &[u8]) -> Result<bool, E> {
        Ok(key == self.0.as_bytes())
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<bool, E> {
        Ok(key == self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

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

    /// The id as found by parsing the whole document.
    fn parsed_whole(body: &str, location: &str) -> Option<String> {
        let document: Value = serde_json::from_str(body).ok()?;
        let found = if location.starts_with('/') {
            document.pointer(location)
        } else {
            document.get(location)
        }?;
        match found {
            Value::String(text) if !text.is_empty() => Some(text.clone()),
            Value::Number(number) => Some(number.to_string()),
            _ => None,
        }
    }

    #[test]
    fn walking_finds_what_parsing_the_whole_document_finds() {
        let documents = [
            r#"{"id": 42, "data": {"id": "u_7", "tags": [{"id": 1.5}, {"id": -3}]}}"#,
            r#"{"id": 1, "id": 2}"#,
            r#"{"id": 1, "id": null}"#,
            r#"{"data": {"id": "first"}, "data": {"other": true}}"#,
            r#"{"data": "flat", "data": {"id": "nested"}}"#,
            r#"{"data": [10, [20, 21], {"id": "x"}], "a/b": {"~c": 5}, "": {"": 6}}"#,
            r#"{"id": "caf\u00e9 \"quoted\" \\ \n", "\u0069d2": "escaped key"}"#,
            r#"{"id": 1e3, "n": -0, "f": 1.0, "big": 18446744073709551615, "neg": -9223372036854775808}"#,
            r#"{"id": 12345678901234567890123, "nested": [[[[{"id": true}]]]]}"#,
            r#"{"id": {"id": 1}, "list": [], "obj": {}}"#,
            r#"[{"id": 1}, {"id": 2}]"#,
            r#""id""#,
            "17",
            "null",
            r#"{"id": 1} trailing"#,
            r#"{"id": 1,}"#,
            r#"{"id": 1"#,
            "",
        ];
        let locations = [
            "id",
            "id2",
            "n",
            "f",
            "big",
            "neg",
            "data",
            "missing",
            "",
            "/id",
            "/data/id",
            "/data/tags/0/id",
            "/data/tags/1/id",
            "/data/tags/2/id",
            "/data/0",
            "/data/1/1",
            "/data/2/id",
            "/data/01",
            "/data/+1",
            "/data/-1",
            "/data/99",
            "/0/id",
            "/1/id",
            "/a~1b/~0c",
            "/",
            "//",
            "/nested/0/0/0/0/id",
            "/id/id",
            "/list/0",
            "/obj/id",
        ];
        for body in documents {
            for location in locations {
                assert_eq!(
                    JsonLocation::parse(location.to_owned())
                        .find_in(body.as_bytes())
                        .map(|id| id.to_string()),
                    parsed_whole(body, location),
                    "{location} in {body}"
                );
            }
        }
    }

    #[test]
    fn id_after_a_large_document_is_found() {
        let filler: Vec<Value> = (0..20_000)
            .map(|i| serde_json::json!({"id": i, "name": format!("item {i}"), "tags": ["a", {"id": "no"}]}))
            .collect();
        let body = format!(
            r#"{{"items": {}, "note": "{}", "data": [{{"id": "inner"}}], "id": "last"}}"#,
            Value::Array(filler),
            "x".repeat(100_000)
        );
        assert!(body.len() > 1_000_000, "{}", body.len());
        let find = |location: &str| JsonLocation::parse(location.to_owned()).find_in(body.as_bytes());
        assert_eq!(find("id").as_deref(), Some("last"));
        assert_eq!(find("/data/0/id").as_deref(), Some("inner"));
        assert_eq!(find("/items/19999/id").as_deref(), Some("19999"));
        assert_eq!(find("/items/3/tags/1/id").as_deref(), Some("no"));
    }

    #[test]
    fn values_off_the_path_are_skipped_even_when_too_deep_or_large_to_build() {
        let deep = format!(r#"{{"x": {}{}, "id": 1}}"#, "[".repeat(200), "]".repeat(200));
        for body in [deep.as_str(), r#"{"huge": 1e400, "id": 2}"#] {
            assert!(serde_json::from_str::<Value>(body).is_err(), "{body:.20}");
            assert!(
                JsonLocation::parse("id".to_owned())
                    .find_in(body.as_bytes())
                    .is_some(),
                "{body:.20}"
            );
        }
    }
}
