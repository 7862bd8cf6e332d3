//! The `activity_log` table as a sea-orm entity, and the conversions between
//! its rows and [`ActivityEvent`]s.
//!
//! Use it to read the log with your own sea-orm queries; write through
//! [`SeaOrmStore`](crate::SeaOrmStore) or [`log_activity_in`](crate::log_activity_in)
//! so that every row passes the event policy.

use chrono::SubsecRound;
use sea_orm::ActiveValue::Set;
use sea_orm::DbErr;
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

fn text(value: Option<&str>) -> Option<String> {
    value.map(|text| text.replace('\0', NUL_REPLACEMENT))
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

impl TryFrom<Model> for ActivityEvent {
    type Error = DbErr;

    /// The event a row holds. Fails on a row whose action, outcome, actor kind
    /// or HTTP status is not one an event can have (a row written by hand).
    fn try_from(row: Model) -> Result<Self, DbErr> {
        let invalid = |column: &str, value: &str, reason: String| {
            DbErr::Type(format!(
                "activity_log row {}: {column} {value:?} is invalid: {reason}",
                row.id
            ))
        };
        let action: Action = row
            .action
            .parse()
            .map_err(|error: tower_activity::InvalidAction| {
                invalid("action", &row.action, error.to_string())
            })?;
        let outcome: Outcome = row
            .outcome
            .parse()
            .map_err(|error: tower_activity::UnknownOutcome| {
                invalid("outcome", &row.outcome, error.to_string())
            })?;
        let actor = match &row.actor_kind {
            None => None,
            Some(kind) => Some(Actor {
                kind: kind
                    .parse::<ActorKind>()
                    .map_err(|error| invalid("actor_kind", kind, error.to_string()))?,
                id: row.actor_id.clone(),
                label: row.actor_label.clone(),
            }),
        };
        let http_status = row
            .http_status
            .map(|status| {
                u16::try_from(status)
                    .map_err(|error| invalid("http_status", &status.to_string(), error.to_string()))
            })
            .transpose()?;
        Ok(ActivityEvent {
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
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::ActiveValue;
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
    fn a_row_with_an_unknown_outcome_is_a_clear_error() {
        let event = ActivityEvent::builder(Action::Read).build().unwrap();
        let row = Model {
            id: event.id,
            occurred_at: event.occurred_at,
            action: "read".into(),
            resource_type: None,
            resource_id: None,
            actor_kind: None,
            actor_id: None,
            actor_label: None,
            tenant_id: None,
            outcome: "fine".into(),
            http_status: None,
            request_id: None,
            ip: None,
            user_agent: None,
            method: None,
            route: None,
            details: None,
        };
        let error = ActivityEvent::try_from(row).unwrap_err().to_string();
        assert!(error.contains("outcome \"fine\" is invalid"), "{error}");
    }
}
