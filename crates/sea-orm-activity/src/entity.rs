//! The `activity_log` table as a sea-orm entity, and the conversions between
//! its rows and [`ActivityEvent`]s.
//!
//! Use it to read the log with your own sea-orm queries; write through
//! [`SeaOrmStore`](crate::SeaOrmStore) or [`log_activity_in`](crate::log_activity_in)
//! so that every row passes the event policy.

use std::borrow::Cow;
use std::str::FromStr;

use chrono::SubsecRound;
use sea_orm::entity::prelude::*;
use sea_orm::{ActiveModelTrait, DbBackend, Iterable};
use serde_json::Value;
use tower_activity::{ActivityEvent, COLUMNS, Cell, Details, ReadColumns};

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
    /// The action's category (`auth`, `billing`), from the recorder's
    /// catalogue; added by [`AddCategory`](crate::AddCategory).
    pub category: Option<String>,
}

/// The table has no relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// The replacement for NUL characters, which PostgreSQL cannot store in text.
pub(crate) const NUL_REPLACEMENT: &str = "\u{FFFD}";

/// The entity's column for one of the event's [`COLUMNS`](tower_activity::COLUMNS). The entity
/// declares the same columns in the same order (a test checks it), so this
/// finds every one.
fn entity_column(column: &tower_activity::Column) -> Result<Column, DbErr> {
    Column::from_str(column.name)
        .map_err(|_| DbErr::Custom(format!("activity_log entity has no column `{}`", column.name)))
}

impl From<&ActivityEvent> for ActiveModel {
    /// The row for `event`. NUL characters, which PostgreSQL text and `jsonb`
    /// cannot hold, become U+FFFD on every backend, so an event reads back the
    /// same wherever it is stored; the time is cut to microseconds, the
    /// precision every backend keeps.
    fn from(event: &ActivityEvent) -> Self {
        let mut row = <ActiveModel as ActiveModelTrait>::default();
        for ((column, declared), cell) in Column::iter().zip(&COLUMNS).zip(event.cells()) {
            let value = match cell {
                Cell::Json(details) => details
                    .map(|details| json_without_nul(&details.to_value()))
                    .into(),
                cell => cell_value(cell, declared, DbBackend::Postgres),
            };
            row.set(column, value);
        }
        row
    }
}

/// The value bound for one cell on `backend`, NUL characters replaced.
/// Details are bound as their JSON text (the column parses it); on MySQL the
/// time is sent as a `DATETIME` (the column's type): sent as a `TIMESTAMP`, a
/// time outside 1970 to 2038 would be refused.
///
/// Text is cut to its column's limit (see [`Column::fit`](tower_activity::Column::fit)):
/// events written straight to a store, without the recorder's policy, do not
/// fail their batch for an over-long value.
pub(crate) fn cell_value(
    cell: Cell<'_>,
    column: &tower_activity::Column,
    backend: DbBackend,
) -> sea_orm::Value {
    match cell {
        Cell::Uuid(id) => id.into(),
        Cell::Time(time) => {
            let time = time.trunc_subsecs(6);
            match backend {
                DbBackend::MySql => time.naive_utc().into(),
                _ => time.into(),
            }
        }
        Cell::Text(text) => text.map(|text| without_nul(column.fit(text)).into_owned()).into(),
        Cell::Integer(number) => number.into(),
        Cell::Json(details) => details.map(|details| details_text(details).into_owned()).into(),
    }
}

/// `text` as it is stored: NUL, which PostgreSQL cannot store, replaced.
pub(crate) fn without_nul(text: &str) -> Cow<'_, str> {
    match text.contains('\0') {
        true => Cow::Owned(text.replace('\0', NUL_REPLACEMENT)),
        false => Cow::Borrowed(text),
    }
}

/// The JSON text of `details`, with NUL characters (escaped as `\u0000` in
/// JSON text) replaced in every string and key.
pub(crate) fn details_text(details: &Details) -> Cow<'_, str> {
    let text = details.as_json();
    if !text.contains("\\u0000") {
        return text;
    }
    Cow::Owned(json_without_nul(&details.to_value()).to_string())
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

/// A row read column by column into an event.
struct Row(Model);

impl Row {
    fn get(&self, column: &tower_activity::Column) -> Result<sea_orm::Value, DbErr> {
        Ok(self.0.get(entity_column(column)?))
    }
}

fn wrong_type(column: &tower_activity::Column, value: &sea_orm::Value) -> DbErr {
    DbErr::Type(format!(
        "activity_log column `{}` holds {value:?}, not a {:?}",
        column.name, column.kind
    ))
}

impl ReadColumns for Row {
    type Error = DbErr;

    fn uuid(&mut self, column: &tower_activity::Column) -> Result<Uuid, DbErr> {
        match self.get(column)? {
            sea_orm::Value::Uuid(Some(id)) => Ok(id),
            other => Err(wrong_type(column, &other)),
        }
    }

    fn time(&mut self, column: &tower_activity::Column) -> Result<DateTimeUtc, DbErr> {
        match self.get(column)? {
            sea_orm::Value::ChronoDateTimeUtc(Some(time)) => Ok(time),
            other => Err(wrong_type(column, &other)),
        }
    }

    fn text(&mut self, column: &tower_activity::Column) -> Result<Option<String>, DbErr> {
        match self.get(column)? {
            sea_orm::Value::String(text) => Ok(text),
            other => Err(wrong_type(column, &other)),
        }
    }

    fn integer(&mut self, column: &tower_activity::Column) -> Result<Option<i32>, DbErr> {
        match self.get(column)? {
            sea_orm::Value::Int(number) => Ok(number),
            other => Err(wrong_type(column, &other)),
        }
    }

    fn json(&mut self, column: &tower_activity::Column) -> Result<Option<Details>, DbErr> {
        match self.get(column)? {
            sea_orm::Value::Json(json) => Ok(json.map(|json| Details::new(*json))),
            other => Err(wrong_type(column, &other)),
        }
    }
}

impl TryFrom<Model> for ActivityEvent {
    type Error = DbErr;

    /// The event a row holds, read column by column as
    /// [`ActivityEvent::read_columns`] describes: a value this version cannot
    /// read (an unknown action, outcome or actor kind, a status out of range)
    /// reads as a fallback with a warning and never fails the read.
    fn try_from(row: Model) -> Result<Self, DbErr> {
        ActivityEvent::read_columns(&mut Row(row))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::{ActiveValue, TryIntoModel};
    use serde_json::json;
    use tower_activity::{Action, Actor, Outcome};

    fn value<T: Into<sea_orm::Value>>(active: ActiveValue<T>) -> T {
        match active {
            ActiveValue::Set(value) | ActiveValue::Unchanged(value) => value,
            ActiveValue::NotSet => panic!("not set"),
        }
    }

    #[test]
    fn the_entity_has_the_events_columns_in_order() {
        let names: Vec<&str> = Column::iter().map(|column| column.as_str()).collect();
        assert_eq!(names, COLUMNS.map(|column| column.name));
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
        let expected = json!({"k\u{FFFD}": ["x\u{FFFD}", {"y": "\u{FFFD}"}]});
        assert_eq!(value(row.details), Some(expected.clone()));
        let text = details_text(event.details.as_ref().unwrap());
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), expected);
        // A backslash followed by `u0000` is text, not a NUL: kept as it is.
        let literal = Details::new(json!({"path": "C:\\u0000"}));
        assert_eq!(details_text(&literal), literal.as_json());
    }

    #[test]
    fn a_row_reads_back_as_the_event_it_was_written_from() {
        let mut event = ActivityEvent::builder("auth.login.failed")
            .actor(Actor::user("u_1").with_label("Ada"))
            .tenant("acme")
            .request_id("r1")
            .ip("203.0.113.9".parse().unwrap())
            .user_agent("agent")
            .method("POST")
            .route("/login")
            .resource("session", "s1")
            .details(json!({"reason": "bad_password"}))
            .build()
            .unwrap();
        event.http_status = Some(401);
        event.outcome = Outcome::Warning;
        let row = ActiveModel::from(&event).try_into_model().unwrap();
        assert_eq!(ActivityEvent::try_from(row).unwrap(), event);
    }
}
