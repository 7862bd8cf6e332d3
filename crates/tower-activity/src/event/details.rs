//! An event's details: free-form JSON, kept as compact JSON text once the
//! event policy has scrubbed it.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use serde_json::value::RawValue;

/// The details of an [`ActivityEvent`](crate::ActivityEvent): JSON metadata
/// such as `{"field": "email", "attempts": 3}`.
///
/// Details start as a [`Value`] the application builds. When the event is
/// logged, the [`EventPolicy`](crate::EventPolicy) scrubs them and then keeps
/// them as compact JSON text: a queued event holds one short string instead
/// of a tree of maps, and sinks write that text as it is. Either way they read
/// the same: [`get`](Self::get), [`to_value`](Self::to_value) and
/// [`as_json`](Self::as_json) work on both, and two details are equal when
/// their JSON values are.
///
/// ```
/// use serde_json::json;
/// use tower_activity::Details;
///
/// let details = Details::new(json!({"field": "email", "attempts": 3}));
/// assert_eq!(details.get("attempts"), Some(json!(3)));
/// assert_eq!(details.as_json(), r#"{"attempts":3,"field":"email"}"#);
/// assert_eq!(details, Details::from_json(r#"{"field":"email","attempts":3}"#).unwrap());
/// ```
#[derive(Clone)]
pub struct Details {
    repr: Repr,
}

#[derive(Clone)]
enum Repr {
    /// As the application built it, before the policy ran.
    Value(Value),
    /// Compact JSON text, after the policy ran or as read from a store.
    Json(Box<RawValue>),
}

impl Details {
    /// Details holding `value`.
    pub fn new(value: Value) -> Self {
        Details {
            repr: Repr::Value(value),
        }
    }

    /// Details from JSON text, kept as that text once it is checked to be
    /// JSON.
    pub fn from_json(text: impl Into<String>) -> Result<Self, serde_json::Error> {
        Ok(Details {
            repr: Repr::Json(RawValue::from_string(text.into())?),
        })
    }

    /// Compact JSON text of `value`.
    pub(crate) fn frozen(value: &Value) -> Self {
        // Serializing a `Value` cannot fail: its keys are strings.
        let text = serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned());
        let raw = RawValue::from_string(text).unwrap_or_else(|_| null());
        Details {
            repr: Repr::Json(raw),
        }
    }

    /// The details as a JSON value (parsed again when they are kept as text).
    pub fn to_value(&self) -> Value {
        self.as_value().into_owned()
    }

    /// The details as a JSON value, borrowed when they are not kept as text.
    pub fn as_value(&self) -> Cow<'_, Value> {
        match &self.repr {
            Repr::Value(value) => Cow::Borrowed(value),
            Repr::Json(raw) => Cow::Owned(serde_json::from_str(raw.get()).unwrap_or(Value::Null)),
        }
    }

    /// The value under `key` when the details are an object.
    pub fn get(&self, key: &str) -> Option<Value> {
        match &self.repr {
            Repr::Value(value) => value.get(key).cloned(),
            Repr::Json(_) => match self.as_value() {
                Cow::Owned(Value::Object(mut map)) => map.remove(key),
                _ => None,
            },
        }
    }

    /// The details as JSON text: compact unless they were read from text
    /// that was not.
    pub fn as_json(&self) -> Cow<'_, str> {
        match &self.repr {
            Repr::Value(value) => Cow::Owned(Details::frozen(value).into_json()),
            Repr::Json(raw) => Cow::Borrowed(raw.get()),
        }
    }

    /// The value, to change in place; text becomes a value again.
    pub(crate) fn value_mut(&mut self) -> &mut Value {
        if let Repr::Json(raw) = &self.repr {
            let value = serde_json::from_str(raw.get()).unwrap_or(Value::Null);
            self.repr = Repr::Value(value);
        }
        match &mut self.repr {
            Repr::Value(value) => value,
            Repr::Json(_) => unreachable!("turned into a value above"),
        }
    }

    /// Adds `key` to the details object, turning the details into an object
    /// if they were another JSON value (which is then kept under `"value"`).
    pub(crate) fn insert(&mut self, key: String, value: Value) {
        let details = self.value_mut();
        if !details.is_object() {
            let previous = details.take();
            *details = Value::Object(serde_json::Map::from_iter([("value".to_owned(), previous)]));
        }
        if let Value::Object(map) = details {
            map.insert(key, value);
        }
    }

    /// Keeps the details as compact text from now on, and returns its length.
    pub(crate) fn freeze(&mut self) -> usize {
        if let Repr::Value(value) = &self.repr {
            *self = Details::frozen(value);
        }
        self.as_json().len()
    }

    fn into_json(self) -> String {
        match self.repr {
            Repr::Json(raw) => String::from(Box::<str>::from(raw)),
            Repr::Value(value) => serde_json::to_string(&value).unwrap_or_else(|_| "null".to_owned()),
        }
    }
}

fn null() -> Box<RawValue> {
    RawValue::from_string("null".to_owned()).unwrap_or_else(|_| unreachable!("`null` is JSON"))
}

impl From<Value> for Details {
    fn from(value: Value) -> Self {
        Details::new(value)
    }
}

impl PartialEq for Details {
    fn eq(&self, other: &Self) -> bool {
        match (&self.repr, &other.repr) {
            (Repr::Json(a), Repr::Json(b)) if a.get() == b.get() => true,
            _ => self.as_value() == other.as_value(),
        }
    }
}

impl PartialEq<Value> for Details {
    fn eq(&self, other: &Value) -> bool {
        *self.as_value() == *other
    }
}

impl fmt::Debug for Details {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_json())
    }
}

impl fmt::Display for Details {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_json())
    }
}

impl Serialize for Details {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.repr {
            Repr::Value(value) => value.serialize(serializer),
            Repr::Json(raw) => raw.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for Details {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Value::deserialize(deserializer).map(Details::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn frozen_details_read_like_the_value() {
        let value = json!({"b": [1, {"c": null}], "a": "x\u{2028}"});
        let mut details = Details::new(value.clone());
        let built = details.clone();
        let length = details.freeze();
        assert_eq!(length, details.as_json().len());
        assert_eq!(details, built);
        assert_eq!(details.to_value(), value);
        assert_eq!(details.get("a"), Some(json!("x\u{2028}")));
        assert_eq!(details.get("missing"), None);
        assert_eq!(
            serde_json::to_string(&details).unwrap(),
            serde_json::to_string(&built).unwrap()
        );
    }

    #[test]
    fn a_frozen_value_can_be_changed_again() {
        let mut details = Details::from_json(r#"{"k": 1}"#).unwrap();
        details.value_mut()["k"] = json!(2);
        assert_eq!(details.get("k"), Some(json!(2)));
    }

    #[test]
    fn text_that_is_not_json_is_refused() {
        assert!(Details::from_json("{not json").is_err());
    }
}
