//! The `activity_log` table as a sea-orm entity, and the conversions between
//! its rows and [`ActivityEvent`]s.
//!
//! Use it to read the log with your own sea-orm queries; write through
//! [`SeaOrmStore`](crate::SeaOrmStore) or [`log_activity_in`](crate::log_activity_in)
//! so that every row passes the event policy.

use std::fmt::Write as _;

use chrono::{SecondsFormat, SubsecRound};
use sea_orm::ActiveValue::Set;
use sea_orm::DbBackend;
use sea_orm::entity::prelude::*;
use serde_json::Value;
use tower_activity::{Action, ActivityEvent, Actor, ActorKind, Outcome};

/// One row of the `activity_log` table: an [`ActivityEvent`] flattened into
/// columns.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "activity_log")]
pub struct Model {
    /// The event id, a UUID v7: the primary key and the pagination key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// When it happened, UTC, microsecond precision.
    pub occurred_at: DateTimeUtc,
    /// The action's name (`create`, `auth.login.failed`).
    pub action: String,
    /// The kind of resource acted on.
    pub resource_type: Option<String>,
    /// The resource's id.
    pub resource_id: Option<String>,
    /// The actor's kind (`user`, `admin`, `service`, `system`, `anonymous`).
    pub actor_kind: Option<String>,
    /// The actor's id.
    pub actor_id: Option<String>,
    /// The actor's display label.
    pub actor_label: Option<String>,
    /// The tenant.
    pub tenant_id: Option<String>,
    /// The outcome's name (`success`, `warning`, `error`, `critical`).
    pub outcome: String,
    /// The HTTP status.
    pub http_status: Option<i32>,
    /// The request id.
    pub request_id: Option<String>,
    /// The client IP, or its hash or prefix.
    pub ip: Option<String>,
    /// The user agent.
    pub user_agent: Option<String>,
    /// The HTTP method.
    pub method: Option<String>,
    /// The matched route.
    pub route: Option<String>,
    /// The details: `jsonb` on PostgreSQL, JSON elsewhere.
    pub details: Option<Json>,
}

/// The table has no relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// The replacement for NUL characters, which PostgreSQL cannot store in text.
const NUL_REPLACEMENT: &str = "\u{FFFD}";

impl From<&ActivityEvent> for ActiveModel {
    /// The row for `event`. NUL characters, which PostgreSQL text and `jsonb`
    /// cannot hold, become U+FFFD on every backend, so an event reads back the
    /// same wherever it is stored; the time is cut to microseconds, the
    /// precision every backend keeps.
    fn from(event: &ActivityEvent) -> Self {
        let actor = event.actor.as_ref();
        ActiveModel {
            id: Set(event.id),
            occurred_at: Set(event.occurred_at.trunc_subsecs(6)),
            action: Set(event.action.as_str().to_owned()),
            resource_type: Set(text(event.resource_type.as_deref())),
            resource_id: Set(text(event.resource_id.as_deref())),
            actor_kind: Set(actor.map(|actor| actor.kind.as_str().to_owned())),
            actor_id: Set(text(actor.and_then(|actor| actor.id.as_deref()))),
            actor_label: Set(text(actor.and_then(|actor| actor.label.as_deref()))),
            tenant_id: Set(text(event.tenant_id.as_deref())),
            outcome: Set(event.outcome.as_str().to_owned()),
            http_status: Set(event.http_status.map(i32::from)),
            request_id: Set(text(event.request_id.as_deref())),
            ip: Set(text(event.ip.as_deref())),
            user_agent: Set(text(event.user_agent.as_deref())),
            method: Set(text(event.method.as_deref())),
            route: Set(text(event.route.as_deref())),
            details: Set(event.details.as_ref().map(json_without_nul)),
        }
    }
}

/// The columns in the order [`row_values`] gives their values.
pub(crate) const COLUMNS: [Column; 17] = [
    Column::Id,
    Column::OccurredAt,
    Column::Action,
    Column::ResourceType,
    Column::ResourceId,
    Column::ActorKind,
    Column::ActorId,
    Column::ActorLabel,
    Column::TenantId,
    Column::Outcome,
    Column::HttpStatus,
    Column::RequestId,
    Column::Ip,
    Column::UserAgent,
    Column::Method,
    Column::Route,
    Column::Details,
];

/// Appends the values of `event`'s row, in [`COLUMNS`] order, as the
/// [`ActiveModel`] conversion makes them. On MySQL the time is sent as a
/// `DATETIME` (the column's type): sent as a `TIMESTAMP`, a time outside
/// 1970 to 2038 would be refused.
pub(crate) fn row_values(event: &ActivityEvent, backend: DbBackend, values: &mut Vec<sea_orm::Value>) {
    let actor = event.actor.as_ref();
    let occurred_at = event.occurred_at.trunc_subsecs(6);
    values.extend([
        event.id.into(),
        match backend {
            DbBackend::MySql => occurred_at.naive_utc().into(),
            _ => occurred_at.into(),
        },
        event.action.as_str().to_owned().into(),
        text(event.resource_type.as_deref()).into(),
        text(event.resource_id.as_deref()).into(),
        actor.map(|actor| actor.kind.as_str().to_owned()).into(),
        text(actor.and_then(|actor| actor.id.as_deref())).into(),
        text(actor.and_then(|actor| actor.label.as_deref())).into(),
        text(event.tenant_id.as_deref()).into(),
        event.outcome.as_str().to_owned().into(),
        event.http_status.map(i32::from).into(),
        text(event.request_id.as_deref()).into(),
        text(event.ip.as_deref()).into(),
        text(event.user_agent.as_deref()).into(),
        text(event.method.as_deref()).into(),
        text(event.route.as_deref()).into(),
        event.details.as_ref().map(json_without_nul).into(),
    ]);
}

/// The rows of `events` as PostgreSQL array literals, one per column in
/// [`COLUMNS`] order (`{"a",NULL,"b"}`), with the values [`row_values`]
/// gives: every element quoted and escaped, so no value can end its element
/// or its array, and a missing one is `NULL`.
pub(crate) fn column_arrays(events: &[ActivityEvent]) -> [String; 17] {
    let mut arrays: [String; 17] = std::array::from_fn(|_| String::from("{"));
    let mut buffer = String::new();
    for event in events {
        let actor = event.actor.as_ref();
        buffer.clear();
        let _ = write!(buffer, "{}", event.id.hyphenated());
        element(&mut arrays[0], Some(&buffer));
        let occurred_at = event.occurred_at.trunc_subsecs(6);
        element(
            &mut arrays[1],
            Some(&occurred_at.to_rfc3339_opts(SecondsFormat::Micros, true)),
        );
        element(&mut arrays[2], Some(event.action.as_str()));
        element(&mut arrays[3], event.resource_type.as_deref());
        element(&mut arrays[4], event.resource_id.as_deref());
        element(&mut arrays[5], actor.map(|actor| actor.kind.as_str()));
        element(&mut arrays[6], actor.and_then(|actor| actor.id.as_deref()));
        element(&mut arrays[7], actor.and_then(|actor| actor.label.as_deref()));
        element(&mut arrays[8], event.tenant_id.as_deref());
        element(&mut arrays[9], Some(event.outcome.as_str()));
        element(
            &mut arrays[10],
            event.http_status.map(|status| status.to_string()).as_deref(),
        );
        element(&mut arrays[11], event.request_id.as_deref());
        element(&mut arrays[12], event.ip.as_deref());
        element(&mut arrays[13], event.user_agent.as_deref());
        element(&mut arrays[14], event.method.as_deref());
        element(&mut arrays[15], event.route.as_deref());
        let details = event.details.as_ref().map(|details| match has_nul(details) {
            true => json_without_nul(details).to_string(),
            false => details.to_string(),
        });
        element(&mut arrays[16], details.as_deref());
    }
    for array in &mut arrays {
        array.push('}');
    }
    arrays
}

/// Appends one element to a PostgreSQL array literal.
fn element(array: &mut String, value: Option<&str>) {
    if array.len() > 1 {
        array.push(',');
    }
    let Some(value) = value else {
        array.push_str("NULL");
        return;
    };
    array.push('"');
    for c in value.chars() {
        match c {
            '"' | '\\' => {
                array.push('\\');
                array.push(c);
            }
            '\0' => array.push_str(NUL_REPLACEMENT),
            c => array.push(c),
        }
    }
    array.push('"');
}

fn text(value: Option<&str>) -> Option<String> {
    value.map(|text| match text.contains('\0') {
        true => text.replace('\0', NUL_REPLACEMENT),
        false => text.to_owned(),
    })
}

/// Whether a string or key anywhere in `details` holds a NUL character.
fn has_nul(details: &Value) -> bool {
    let mut stack = vec![details];
    while let Some(value) = stack.pop() {
        match value {
            Value::String(text) if text.contains('\0') => return true,
            Value::Array(items) => stack.extend(items),
            Value::Object(map) => {
                if map.keys().any(|key| key.contains('\0')) {
                    return true;
                }
                stack.extend(map.values());
            }
            _ => {}
        }
    }
    false
}

fn json_without_nul(details: &Value) -> Value {
    let mut details = details.clone();
    let mut stack = vec![&mut details];
    while let Some(value) = stack.pop() {
        match value {
            Value::String(text) if text.contains('\0') => *text = text.replace('\0', NUL_REPLACEMENT),
            Value::Array(items) => stack.extend(items.iter_mut()),
            Value::Object(map) => {
                if map.keys().any(|key| key.contains('\0')) {
                    *map = std::mem::take(map)
                        .into_iter()
                        .map(|(key, value)| (key.replace('\0', NUL_REPLACEMENT), value))
                        .collect();
                }
                stack.extend(map.values_mut());
            }
            _ => {}
        }
    }
    details
}

/// The action a row reads as when its stored action is not a valid action
/// name: a row written by hand, or by a version with other naming rules.
pub const UNKNOWN_ACTION: &str = "activity.unknown_action";

/// The outcome a row reads as when its stored outcome is not one this version
/// knows: the one that asks for a look without raising an alarm.
const UNKNOWN_OUTCOME: Outcome = Outcome::Warning;

/// The actor kind a row reads as when its stored kind is not one this version
/// knows: the kind that vouches for nothing.
const UNKNOWN_ACTOR_KIND: ActorKind = ActorKind::Anonymous;

impl From<Model> for ActivityEvent {
    /// The event a row holds.
    ///
    /// This never fails, so one odd row cannot stop a listing, a live stream
    /// or an export. A value this version cannot read (written by hand, or by
    /// a newer version) is read as a fallback, and a `tracing` warning names
    /// the row, the column and the stored value:
    ///
    /// - an action that is not a valid action name reads as [`UNKNOWN_ACTION`];
    /// - an unknown outcome reads as [`Outcome::Warning`];
    /// - an unknown actor kind reads as [`ActorKind::Anonymous`], with the
    ///   actor's id and label kept;
    /// - an HTTP status outside `0..=65535` reads as none.
    ///
    /// Filters still compare the stored values: such a row is not found by
    /// filtering on its fallback action or outcome.
    fn from(row: Model) -> Self {
        let action = read_action(Some(row.id), &row.action);
        let outcome = read_outcome(Some(row.id), &row.outcome);
        let actor = row.actor_kind.as_deref().map(|kind| Actor {
            kind: kind.parse().unwrap_or_else(|_| {
                unreadable(Some(row.id), "actor_kind", kind, UNKNOWN_ACTOR_KIND.as_str());
                UNKNOWN_ACTOR_KIND
            }),
            id: row.actor_id,
            label: row.actor_label,
        });
        let http_status = row.http_status.and_then(|status| {
            u16::try_from(status)
                .inspect_err(|_| unreadable(Some(row.id), "http_status", &status.to_string(), "none"))
                .ok()
        });
        ActivityEvent {
            id: row.id,
            occurred_at: row.occurred_at,
            action,
            resource_type: row.resource_type,
            resource_id: row.resource_id,
            actor,
            tenant_id: row.tenant_id,
            outcome,
            http_status,
            request_id: row.request_id,
            ip: row.ip,
            user_agent: row.user_agent,
            method: row.method,
            route: row.route,
            details: row.details,
        }
    }
}

/// The action stored as `stored` in the row `row` (when known), or
/// [`UNKNOWN_ACTION`].
pub(crate) fn read_action(row: Option<Uuid>, stored: &str) -> Action {
    stored.parse().unwrap_or_else(|_| {
        unreadable(row, "action", stored, UNKNOWN_ACTION);
        Action::custom(UNKNOWN_ACTION).expect("UNKNOWN_ACTION is a valid action name")
    })
}

/// The outcome stored as `stored` in the row `row` (when known), or the
/// fallback outcome.
pub(crate) fn read_outcome(row: Option<Uuid>, stored: &str) -> Outcome {
    stored.parse().unwrap_or_else(|_| {
        unreadable(row, "outcome", stored, UNKNOWN_OUTCOME.as_str());
        UNKNOWN_OUTCOME
    })
}

/// Warns that `column` of `row` holds `stored`, read as `fallback`.
fn unreadable(row: Option<Uuid>, column: &str, stored: &str, fallback: &str) {
    match row {
        Some(row) => tracing::warn!(
            %row, column, stored, fallback,
            "activity_log row holds a value this version cannot read; it is read as the fallback"
        ),
        None => tracing::warn!(
            column,
            stored,
            fallback,
            "activity_log holds a value this version cannot read; it is read as the fallback"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::{ActiveValue, TryIntoModel};
    use serde_json::json;

    fn value<T: Into<sea_orm::Value>>(active: ActiveValue<T>) -> T {
        match active {
            ActiveValue::Set(value) | ActiveValue::Unchanged(value) => value,
            ActiveValue::NotSet => panic!("not set"),
        }
    }

    #[test]
    fn nul_characters_are_replaced_in_text_and_json() {
        let event = ActivityEvent::builder(Action::Update)
            .resource("note", "a\0b")
            .details(json!({"k\0": ["x\0", {"y": "\0"}]}))
            .build()
            .unwrap();
        let row = ActiveModel::from(&event);
        assert_eq!(value(row.resource_id).as_deref(), Some("a\u{FFFD}b"));
        assert_eq!(
            value(row.details),
            Some(json!({"k\u{FFFD}": ["x\u{FFFD}", {"y": "\u{FFFD}"}]}))
        );
    }

    #[test]
    fn unreadable_values_read_as_their_fallbacks() {
        let mut event = ActivityEvent::builder(Action::Read)
            .actor(Actor::user("u_1").with_label("Ada"))
            .build()
            .unwrap();
        event.http_status = Some(200);
        let mut row = ActiveModel::from(&event).try_into_model().unwrap();
        let read = ActivityEvent::from(row.clone());
        assert_eq!(read, event, "a readable row reads as it was written");
        row.action = "Not An Action".into();
        row.outcome = "fine".into();
        row.actor_kind = Some("robot".into());
        row.http_status = Some(-1);
        let read = ActivityEvent::from(row);
        assert_eq!(read.action.as_str(), UNKNOWN_ACTION);
        assert_eq!(read.outcome, Outcome::Warning);
        let actor = read.actor.unwrap();
        assert_eq!(actor.kind, ActorKind::Anonymous);
        assert_eq!(
            (actor.id.as_deref(), actor.label.as_deref()),
            (Some("u_1"), Some("Ada"))
        );
        assert_eq!(read.http_status, None);
    }
}
