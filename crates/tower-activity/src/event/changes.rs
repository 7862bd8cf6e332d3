//! What changed between two versions of a record, kept in an event's details.

use serde::Serialize;
use serde_json::{Map, Value};

use super::MAX_DETAILS_DEPTH;

/// The details key under which an event keeps its [`Changes`].
pub const CHANGES_KEY: &str = "changes";

/// The fields that differ between two versions of a record: each as
/// `[old, new]`, nested objects as objects of their own changed fields.
///
/// Made by [`changes`]; put on an event with
/// [`ActivityEventBuilder::changes`](crate::ActivityEventBuilder::changes)
/// (or `AuditedEvent::set_changes` in `axum-activity`), where they live in the
/// details under [`CHANGES_KEY`]. Being details, they are scrubbed of secrets
/// (a `password` field's old and new values are both redacted), capped,
/// exported, and cleared of personal keys by anonymize, like any other detail.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Changes(Map<String, Value>);

impl Changes {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The changes as a JSON object: `{"field": [old, new], "nested": {"field": [old, new]}}`.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }
}

impl From<Changes> for Value {
    fn from(changes: Changes) -> Value {
        Value::Object(changes.0)
    }
}

/// The fields that differ between `before` and `after`, compared as JSON.
///
/// A field present on one side only is `null` on the other. Objects are
/// compared field by field, to any depth up to the details' own limit; arrays
/// and other values are compared whole. When `before` or `after` is not an
/// object, a difference is kept under the key `"value"`. Fails only when one
/// of them cannot be serialized as JSON (a map with non-string keys, say).
///
/// ```
/// use serde::Serialize;
/// use serde_json::json;
/// use tower_activity::{Action, ActivityEvent, changes};
///
/// #[derive(Serialize)]
/// struct Address { city: &'static str, street: &'static str }
/// #[derive(Serialize)]
/// struct Customer { name: &'static str, tier: u8, address: Address }
///
/// let before = Customer { name: "Ada", tier: 1, address: Address { city: "Paris", street: "Rue A" } };
/// let after = Customer { name: "Ada", tier: 2, address: Address { city: "Lyon", street: "Rue A" } };
/// let changes = changes(&before, &after).unwrap();
/// assert_eq!(
///     serde_json::Value::from(changes.clone()),
///     json!({"tier": [1, 2], "address": {"city": ["Paris", "Lyon"]}})
/// );
///
/// let event = ActivityEvent::builder(Action::Update)
///     .resource("customer", 7)
///     .changes(changes)
///     .build()
///     .unwrap();
/// assert_eq!(event.details.unwrap().get("changes").unwrap()["tier"], json!([1, 2]));
/// ```
pub fn changes<B, A>(before: &B, after: &A) -> Result<Changes, serde_json::Error>
where
    B: Serialize + ?Sized,
    A: Serialize + ?Sized,
{
    let before = serde_json::to_value(before)?;
    let after = serde_json::to_value(after)?;
    Ok(Changes(match (before, after) {
        (Value::Object(before), Value::Object(after)) => diff(before, after, 1),
        (before, after) if before == after => Map::new(),
        (before, after) => Map::from_iter([("value".to_owned(), Value::Array(vec![before, after]))]),
    }))
}

/// The changed fields of two objects at `depth` (the changes object itself
/// is one level of the details, each nesting one more, each `[old, new]`
/// pair one more).
fn diff(mut before: Map<String, Value>, after: Map<String, Value>, depth: usize) -> Map<String, Value> {
    let mut changed = Map::new();
    for (key, new) in after {
        match (before.remove(&key), new) {
            (Some(old), new) if old == new => {}
            (Some(Value::Object(old)), Value::Object(new)) if depth + 2 < MAX_DETAILS_DEPTH => {
                changed.insert(key, Value::Object(diff(old, new, depth + 1)));
            }
            (old, new) => {
                changed.insert(key, Value::Array(vec![old.unwrap_or(Value::Null), new]));
            }
        }
    }
    for (key, old) in before {
        changed.insert(key, Value::Array(vec![old, Value::Null]));
    }
    changed
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{Action, ActivityEvent, EventPolicy, REDACTED};

    fn between(before: Value, after: Value) -> Value {
        changes(&before, &after).unwrap().into()
    }

    #[test]
    fn only_the_fields_that_differ_are_kept() {
        let changed = between(
            json!({"name": "Ada", "tier": 1, "tags": ["a"]}),
            json!({"name": "Ada", "tier": 2, "tags": ["a", "b"]}),
        );
        assert_eq!(changed, json!({"tier": [1, 2], "tags": [["a"], ["a", "b"]]}));
    }

    #[test]
    fn nothing_changed_is_empty() {
        let same = json!({"name": "Ada", "address": {"city": "Paris"}});
        assert!(changes(&same, &same).unwrap().is_empty());
    }

    #[test]
    fn added_and_removed_fields_are_null_on_the_other_side() {
        let changed = between(json!({"old": 1}), json!({"new": 2}));
        assert_eq!(changed, json!({"old": [1, null], "new": [null, 2]}));
    }

    #[test]
    fn nested_objects_keep_their_path() {
        let changed = between(
            json!({"address": {"city": "Paris", "street": "Rue A", "geo": {"lat": 1}}}),
            json!({"address": {"city": "Lyon", "street": "Rue A", "geo": {"lat": 2}}}),
        );
        assert_eq!(
            changed,
            json!({"address": {"city": ["Paris", "Lyon"], "geo": {"lat": [1, 2]}}})
        );
    }

    #[test]
    fn values_that_are_not_objects_are_compared_whole() {
        assert_eq!(between(json!(1), json!(2)), json!({"value": [1, 2]}));
        assert_eq!(between(json!(1), json!(1)), json!({}));
        assert_eq!(
            between(json!({"a": 1}), json!([1])),
            json!({"value": [{"a": 1}, [1]]})
        );
    }

    #[test]
    fn very_deep_objects_are_compared_whole_past_the_details_depth() {
        let nest = |leaf: Value| (0..200).fold(leaf, |inner, _| json!({ "n": inner }));
        let changed = between(nest(json!(1)), nest(json!(2)));
        let mut depth = 0;
        let mut value = &changed;
        while let Some(inner) = value.get("n") {
            depth += 1;
            value = inner;
        }
        assert!(depth < MAX_DETAILS_DEPTH, "nested {depth} levels");
        assert!(value.is_array());
    }

    #[test]
    fn a_map_with_keys_json_cannot_hold_is_an_error() {
        let map = std::collections::BTreeMap::from([((1, 2), "x")]);
        assert!(changes(&map, &map).is_err());
    }

    #[test]
    fn secrets_in_changes_are_redacted_by_the_policy() {
        let changed = changes(
            &json!({"password": "old-secret", "name": "Ada"}),
            &json!({"password": "new-secret", "name": "Grace"}),
        )
        .unwrap();
        let mut event = ActivityEvent::builder(Action::Update)
            .changes(changed)
            .build()
            .unwrap();
        EventPolicy::new().apply(&mut event);
        let details = event.details.unwrap().to_value();
        assert_eq!(details[CHANGES_KEY]["password"], json!(REDACTED));
        assert_eq!(details[CHANGES_KEY]["name"], json!(["Ada", "Grace"]));
    }

    #[test]
    fn no_changes_add_no_details() {
        let event = ActivityEvent::builder(Action::Update)
            .changes(Changes::default())
            .build()
            .unwrap();
        assert!(event.details.is_none());
    }
}
