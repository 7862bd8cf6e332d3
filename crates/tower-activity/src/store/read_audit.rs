//! The events that record a read of the log itself.

use serde_json::{Map, Value, json};

use super::ActivityFilter;
use crate::event::{Action, ActivityEvent};

/// The action recorded when entries of the log are listed, looked up,
/// counted or described.
pub const VIEWED_ACTION: &str = "activity.viewed";
/// The action recorded when entries of the log are exported.
pub const EXPORTED_ACTION: &str = "activity.exported";
/// The action recorded when a live stream of the log is opened.
pub const STREAMED_ACTION: &str = "activity.streamed";

/// What was done to the log, for [`read_event`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogRead {
    /// Entries listed, looked up, counted or described: [`VIEWED_ACTION`].
    Viewed,
    /// Entries exported: [`EXPORTED_ACTION`].
    Exported,
    /// A live stream opened: [`STREAMED_ACTION`].
    Streamed,
}

impl LogRead {
    fn action(self) -> Action {
        Action::system(match self {
            LogRead::Viewed => VIEWED_ACTION,
            LogRead::Exported => EXPORTED_ACTION,
            LogRead::Streamed => STREAMED_ACTION,
        })
    }
}

/// The event recording that the log was read (PCI DSS 10.2.1.3 asks that
/// every access to audit logs is logged): `read`, on the resource type
/// `activity_log` (with the entry's id for a single entry), with the filter
/// used (its non-empty fields), the number of entries returned and `how`
/// (the endpoint or command) in the details. Who read it comes from the
/// context it is logged in.
///
/// ```
/// use tower_activity::{ActivityFilter, LogRead, VIEWED_ACTION, read_event};
///
/// let event = read_event(LogRead::Viewed, "list", &ActivityFilter::new().tenant("acme"), 12);
/// assert_eq!(event.action.as_str(), VIEWED_ACTION);
/// let details = event.details.unwrap();
/// assert_eq!(details.get("returned"), Some(serde_json::json!(12)));
/// assert_eq!(details.get("filter"), Some(serde_json::json!({"tenant_id": "acme"})));
/// ```
pub fn read_event(read: LogRead, how: &str, filter: &ActivityFilter, returned: u64) -> ActivityEvent {
    let built = ActivityEvent::builder(read.action())
        .resource_type("activity_log")
        .details(json!({"via": how, "filter": given(filter), "returned": returned}))
        .build();
    let Ok(event) = built else {
        unreachable!("an `Action` is a valid action")
    };
    event
}

/// The filter's fields that filter: no nulls, no empty lists.
fn given(filter: &ActivityFilter) -> Value {
    let fields = match serde_json::to_value(filter) {
        Ok(Value::Object(fields)) => fields,
        _ => Map::new(),
    };
    Value::Object(
        fields
            .into_iter()
            .filter(|(_, value)| !value.is_null() && value.as_array().is_none_or(|values| !values.is_empty()))
            .collect(),
    )
}
