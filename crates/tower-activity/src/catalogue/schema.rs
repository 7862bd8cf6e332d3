//! What an action's details may hold: [`DetailSpec`] per key, each of a
//! [`DetailType`], and the check of an event's details against them.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{CatalogueViolation, ViolationKind};
use crate::event::CHANGES_KEY;

/// The JSON type a detail must have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum DetailType {
    /// A JSON string.
    String,
    /// A JSON number without a fraction.
    Integer,
    /// Any JSON number.
    Number,
    /// `true` or `false`.
    Boolean,
    /// A JSON object.
    Object,
    /// A JSON array.
    Array,
    /// Any JSON value.
    Any,
}

impl DetailType {
    /// The type's name, as in the catalogue's JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            DetailType::String => "string",
            DetailType::Integer => "integer",
            DetailType::Number => "number",
            DetailType::Boolean => "boolean",
            DetailType::Object => "object",
            DetailType::Array => "array",
            DetailType::Any => "any",
        }
    }

    fn admits(self, value: &Value) -> bool {
        match self {
            DetailType::String => value.is_string(),
            DetailType::Integer => value.is_i64() || value.is_u64(),
            DetailType::Number => value.is_number(),
            DetailType::Boolean => value.is_boolean(),
            DetailType::Object => value.is_object(),
            DetailType::Array => value.is_array(),
            DetailType::Any => true,
        }
    }
}

impl fmt::Display for DetailType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The JSON type name of `value`, for a violation's message.
fn type_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(number) if number.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// One key of an action's details: its type, whether every event of the
/// action must carry it, and whether it holds personal data (which
/// anonymizing a data subject removes).
///
/// ```
/// use tower_activity::{DetailSpec, DetailType};
///
/// let email = DetailSpec::optional(DetailType::String).personal();
/// assert!(!email.is_required() && email.is_personal());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DetailSpec {
    #[serde(rename = "type")]
    kind: DetailType,
    #[serde(default)]
    required: bool,
    #[serde(default)]
    personal: bool,
}

impl DetailSpec {
    /// A key every event of the action carries, of type `kind`.
    pub fn required(kind: DetailType) -> Self {
        DetailSpec {
            kind,
            required: true,
            personal: false,
        }
    }

    /// A key events of the action may carry, of type `kind`; `null` counts as
    /// absent.
    pub fn optional(kind: DetailType) -> Self {
        DetailSpec {
            required: false,
            ..DetailSpec::required(kind)
        }
    }

    /// Marks the key as personal data.
    pub fn personal(mut self) -> Self {
        self.personal = true;
        self
    }

    /// The key's type.
    pub fn kind(&self) -> DetailType {
        self.kind
    }

    /// Whether every event of the action must carry the key.
    pub fn is_required(&self) -> bool {
        self.required
    }

    /// Whether the key holds personal data.
    pub fn is_personal(&self) -> bool {
        self.personal
    }
}

/// Checks `details` (the event's, `None` when it has none) against the
/// closed schema `keys`: every key must be listed, of its type (`null` is
/// allowed for optional keys), and every required key present. The
/// toolkit's own [`CHANGES_KEY`] is always allowed.
pub(super) fn check(
    action: &str,
    keys: &BTreeMap<String, DetailSpec>,
    details: Option<&Value>,
) -> Result<(), CatalogueViolation> {
    let violation = |key: &str, problem| CatalogueViolation::new(action, Some(key), problem);
    let empty = serde_json::Map::new();
    let given = match details {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(given)) => given,
        Some(other) => {
            return Err(CatalogueViolation::new(
                action,
                None,
                ViolationKind::NotAnObject {
                    found: type_of(other),
                },
            ));
        }
    };
    for (key, value) in given {
        match keys.get(key) {
            Some(_) if value.is_null() => {}
            Some(spec) if !spec.kind.admits(value) => {
                return Err(violation(
                    key,
                    ViolationKind::WrongType {
                        expected: spec.kind,
                        found: type_of(value),
                    },
                ));
            }
            Some(_) => {}
            None if key == CHANGES_KEY => {}
            None => return Err(violation(key, ViolationKind::UnknownKey)),
        }
    }
    for (key, spec) in keys {
        if spec.required && given.get(key).is_none_or(Value::is_null) {
            return Err(violation(key, ViolationKind::MissingKey));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn keys() -> BTreeMap<String, DetailSpec> {
        BTreeMap::from([
            ("reason".to_owned(), DetailSpec::required(DetailType::String)),
            ("attempts".to_owned(), DetailSpec::optional(DetailType::Integer)),
        ])
    }

    #[test]
    fn details_that_follow_the_schema_pass() {
        let keys = keys();
        assert!(check("a.b", &keys, Some(&json!({"reason": "x"}))).is_ok());
        assert!(
            check(
                "a.b",
                &keys,
                Some(&json!({"reason": "x", "attempts": 3, "changes": {}}))
            )
            .is_ok()
        );
        assert!(check("a.b", &keys, Some(&json!({"reason": "x", "attempts": null}))).is_ok());
        assert!(check("a.b", &BTreeMap::new(), None).is_ok());
    }

    #[test]
    fn each_violation_names_the_action_and_the_key() {
        let keys = keys();
        let cases = [
            (json!({}), "required detail \"reason\" is missing"),
            (json!({"reason": null}), "required detail \"reason\" is missing"),
            (
                json!({"reason": 7}),
                "detail \"reason\" must be a string, not an integer",
            ),
            (
                json!({"reason": "x", "attempts": 1.5}),
                "detail \"attempts\" must be an integer, not a number",
            ),
            (
                json!({"reason": "x", "extra": 1}),
                "detail \"extra\" is not in the action's schema",
            ),
            (json!([1]), "details must be a JSON object, not an array"),
        ];
        for (details, message) in cases {
            let error = check("auth.login.failed", &keys, Some(&details)).unwrap_err();
            let text = error.to_string();
            assert!(text.contains("auth.login.failed"), "{text}");
            assert!(text.contains(message), "{text}");
        }
    }
}
