//! The event's fields, declared once as stored columns: every store, insert
//! statement, row reader and export format follows from [`COLUMNS`],
//! [`ActivityEvent::cells`] and [`ActivityEvent::read_columns`].
//!
//! A field added to [`ActivityEvent`] does not compile until both functions
//! below name it (one destructures the event, the other builds it), and a
//! cell added to one without a column in [`COLUMNS`] does not compile either
//! (the array lengths differ); the tests check that the two agree on the
//! order and kind of every column.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::fallback::{UNKNOWN_ACTOR_KIND, read_action, read_outcome, unreadable};
use super::{
    ActivityEvent, Actor, Details, MAX_ACTION_LEN, MAX_CATEGORY_LEN, MAX_ID_CHARS, MAX_IP_CHARS,
    MAX_METHOD_CHARS, MAX_REQUEST_ID_LEN, MAX_RESOURCE_TYPE_CHARS, MAX_ROUTE_CHARS, MAX_USER_AGENT_CHARS,
};

/// One stored column of an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Column {
    /// Its name, in the database and in CSV exports.
    pub name: &'static str,
    /// What it holds.
    pub kind: ColumnKind,
    /// The most characters a text column holds in every store (the cap the
    /// event policy applies); `None` for the other kinds.
    pub max_chars: Option<usize>,
}

impl Column {
    /// `text` cut to the column's [`max_chars`](Self::max_chars) on a
    /// character boundary: what a store writes of text that did not go
    /// through the event policy.
    pub fn fit<'a>(&self, text: &'a str) -> &'a str {
        match self.max_chars {
            Some(max) if text.len() > max => match text.char_indices().nth(max) {
                Some((at, _)) => &text[..at],
                None => text,
            },
            _ => text,
        }
    }
}

/// What a [`Column`] holds.
///
/// Adding a kind is a breaking change on purpose: every store must learn to
/// write and read it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnKind {
    /// A UUID, never empty.
    Uuid,
    /// A UTC time at microsecond precision, never empty.
    Time,
    /// Text, possibly empty.
    Text,
    /// A 32-bit integer, possibly empty.
    Integer,
    /// JSON, possibly empty.
    Json,
}

/// The value of one column of one event, as [`ActivityEvent::cells`] gives it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Cell<'a> {
    /// A [`ColumnKind::Uuid`] value.
    Uuid(Uuid),
    /// A [`ColumnKind::Time`] value.
    Time(DateTime<Utc>),
    /// A [`ColumnKind::Text`] value.
    Text(Option<&'a str>),
    /// A [`ColumnKind::Integer`] value.
    Integer(Option<i32>),
    /// A [`ColumnKind::Json`] value.
    Json(Option<&'a Details>),
}

impl Cell<'_> {
    /// The kind of column the value belongs to.
    pub fn kind(&self) -> ColumnKind {
        match self {
            Cell::Uuid(_) => ColumnKind::Uuid,
            Cell::Time(_) => ColumnKind::Time,
            Cell::Text(_) => ColumnKind::Text,
            Cell::Integer(_) => ColumnKind::Integer,
            Cell::Json(_) => ColumnKind::Json,
        }
    }
}

const fn column(name: &'static str, kind: ColumnKind) -> Column {
    Column {
        name,
        kind,
        max_chars: None,
    }
}

const fn text(name: &'static str, max_chars: usize) -> Column {
    Column {
        name,
        kind: ColumnKind::Text,
        max_chars: Some(max_chars),
    }
}

/// The longest actor kind and outcome names, with room to spare.
const MAX_NAME_CHARS: usize = 16;

const ID: Column = column("id", ColumnKind::Uuid);
const OCCURRED_AT: Column = column("occurred_at", ColumnKind::Time);
const ACTION: Column = text("action", MAX_ACTION_LEN);
const RESOURCE_TYPE: Column = text("resource_type", MAX_RESOURCE_TYPE_CHARS);
const RESOURCE_ID: Column = text("resource_id", MAX_ID_CHARS);
const ACTOR_KIND: Column = text("actor_kind", MAX_NAME_CHARS);
const ACTOR_ID: Column = text("actor_id", MAX_ID_CHARS);
const ACTOR_LABEL: Column = text("actor_label", MAX_ID_CHARS);
const TENANT_ID: Column = text("tenant_id", MAX_ID_CHARS);
const OUTCOME: Column = text("outcome", MAX_NAME_CHARS);
const HTTP_STATUS: Column = column("http_status", ColumnKind::Integer);
const REQUEST_ID: Column = text("request_id", MAX_REQUEST_ID_LEN);
const IP: Column = text("ip", MAX_IP_CHARS);
const USER_AGENT: Column = text("user_agent", MAX_USER_AGENT_CHARS);
const METHOD: Column = text("method", MAX_METHOD_CHARS);
const ROUTE: Column = text("route", MAX_ROUTE_CHARS);
const DETAILS: Column = column("details", ColumnKind::Json);
const CATEGORY: Column = text("category", MAX_CATEGORY_LEN);

/// The columns of an event, in the order of [`ActivityEvent::cells`]: the
/// table's columns, the CSV header, the values of an insert. Columns added
/// after the first version come last, so existing CSV positions stay.
pub const COLUMNS: [Column; 18] = [
    ID,
    OCCURRED_AT,
    ACTION,
    RESOURCE_TYPE,
    RESOURCE_ID,
    ACTOR_KIND,
    ACTOR_ID,
    ACTOR_LABEL,
    TENANT_ID,
    OUTCOME,
    HTTP_STATUS,
    REQUEST_ID,
    IP,
    USER_AGENT,
    METHOD,
    ROUTE,
    DETAILS,
    CATEGORY,
];

/// A source of one stored event's column values, such as a database row:
/// what [`ActivityEvent::read_columns`] reads from.
pub trait ReadColumns {
    /// Why a value could not be read.
    type Error;

    /// The value of a [`ColumnKind::Uuid`] column.
    fn uuid(&mut self, column: &Column) -> Result<Uuid, Self::Error>;
    /// The value of a [`ColumnKind::Time`] column.
    fn time(&mut self, column: &Column) -> Result<DateTime<Utc>, Self::Error>;
    /// The value of a [`ColumnKind::Text`] column.
    fn text(&mut self, column: &Column) -> Result<Option<String>, Self::Error>;
    /// The value of a [`ColumnKind::Integer`] column.
    fn integer(&mut self, column: &Column) -> Result<Option<i32>, Self::Error>;
    /// The value of a [`ColumnKind::Json`] column.
    fn json(&mut self, column: &Column) -> Result<Option<Details>, Self::Error>;
}

impl ActivityEvent {
    /// The event's values, one per column of [`COLUMNS`], in that order.
    ///
    /// ```
    /// use tower_activity::{Action, ActivityEvent, Cell, COLUMNS};
    ///
    /// let event = ActivityEvent::builder(Action::Create).resource("note", 7).build().unwrap();
    /// let cells = event.cells();
    /// assert_eq!(COLUMNS[4].name, "resource_id");
    /// assert_eq!(cells[4], Cell::Text(Some("7")));
    /// ```
    pub fn cells(&self) -> [Cell<'_>; COLUMNS.len()] {
        // Every field is named: a new one does not compile until it is given
        // its column here.
        let ActivityEvent {
            id,
            occurred_at,
            action,
            resource_type,
            resource_id,
            actor,
            tenant_id,
            outcome,
            http_status,
            request_id,
            ip,
            user_agent,
            method,
            route,
            details,
            category,
        } = self;
        let actor = actor.as_ref();
        [
            Cell::Uuid(*id),
            Cell::Time(*occurred_at),
            Cell::Text(Some(action.as_str())),
            Cell::Text(resource_type.as_deref()),
            Cell::Text(resource_id.as_deref()),
            Cell::Text(actor.map(|actor| actor.kind.as_str())),
            Cell::Text(actor.and_then(|actor| actor.id.as_deref())),
            Cell::Text(actor.and_then(|actor| actor.label.as_deref())),
            Cell::Text(tenant_id.as_deref()),
            Cell::Text(Some(outcome.as_str())),
            Cell::Integer(http_status.map(i32::from)),
            Cell::Text(request_id.as_deref()),
            Cell::Text(ip.as_deref()),
            Cell::Text(user_agent.as_deref()),
            Cell::Text(method.as_deref()),
            Cell::Text(route.as_deref()),
            Cell::Json(details.as_ref()),
            Cell::Text(category.as_deref()),
        ]
    }

    /// The event stored in `row`, column by column.
    ///
    /// A stored value this version cannot read (written by hand, or by a
    /// newer version) never fails the read, so one odd row cannot stop a
    /// listing, a live stream or an export; it reads as a fallback, and a
    /// `tracing` warning names the row, the column and the stored value:
    ///
    /// - an action that is not a valid action name reads as
    ///   [`UNKNOWN_ACTION`](crate::UNKNOWN_ACTION);
    /// - an unknown outcome reads as [`Outcome::Warning`](crate::Outcome::Warning);
    /// - an unknown actor kind reads as
    ///   [`ActorKind::Anonymous`](crate::ActorKind::Anonymous), with the
    ///   actor's id and label kept;
    /// - an HTTP status outside `0..=65535` reads as none.
    ///
    /// Only the reader's own errors (a missing column, a value of the wrong
    /// type) fail it.
    pub fn read_columns<R: ReadColumns>(row: &mut R) -> Result<ActivityEvent, R::Error> {
        let id = row.uuid(&ID)?;
        let text = |value: Option<String>| value.map(Arc::<str>::from);
        let actor_kind = row.text(&ACTOR_KIND)?;
        let actor_id = text(row.text(&ACTOR_ID)?);
        let actor_label = text(row.text(&ACTOR_LABEL)?);
        // Every field is set: a new one does not compile until it is read
        // from its column here.
        Ok(ActivityEvent {
            id,
            occurred_at: row.time(&OCCURRED_AT)?,
            action: read_action(Some(id), &row.text(&ACTION)?.unwrap_or_default()),
            category: text(row.text(&CATEGORY)?),
            resource_type: text(row.text(&RESOURCE_TYPE)?),
            resource_id: text(row.text(&RESOURCE_ID)?),
            actor: actor_kind.map(|kind| Actor {
                kind: kind.parse().unwrap_or_else(|_| {
                    unreadable(Some(id), ACTOR_KIND.name, &kind, UNKNOWN_ACTOR_KIND.as_str());
                    UNKNOWN_ACTOR_KIND
                }),
                id: actor_id,
                label: actor_label,
            }),
            tenant_id: text(row.text(&TENANT_ID)?),
            outcome: read_outcome(Some(id), &row.text(&OUTCOME)?.unwrap_or_default()),
            http_status: row.integer(&HTTP_STATUS)?.and_then(|status| {
                u16::try_from(status)
                    .inspect_err(|_| unreadable(Some(id), HTTP_STATUS.name, &status.to_string(), "none"))
                    .ok()
            }),
            request_id: text(row.text(&REQUEST_ID)?),
            ip: text(row.text(&IP)?),
            user_agent: text(row.text(&USER_AGENT)?),
            method: text(row.text(&METHOD)?),
            route: text(row.text(&ROUTE)?),
            details: row.json(&DETAILS)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ActorKind, Outcome, UNKNOWN_ACTION};
    use serde_json::json;

    /// Reads the values of `cells` back by column name, as a store reads a
    /// row by its column names.
    struct Cells<'a>(Vec<(&'static str, Cell<'a>)>);

    impl Cells<'_> {
        fn get(&self, column: &Column) -> Cell<'_> {
            let (_, cell) = self
                .0
                .iter()
                .find(|(name, _)| *name == column.name)
                .unwrap_or_else(|| panic!("no cell for column {}", column.name));
            assert_eq!(cell.kind(), column.kind, "column {}", column.name);
            *cell
        }
    }

    impl ReadColumns for Cells<'_> {
        type Error = std::convert::Infallible;

        fn uuid(&mut self, column: &Column) -> Result<Uuid, Self::Error> {
            let Cell::Uuid(id) = self.get(column) else {
                unreachable!()
            };
            Ok(id)
        }
        fn time(&mut self, column: &Column) -> Result<DateTime<Utc>, Self::Error> {
            let Cell::Time(time) = self.get(column) else {
                unreachable!()
            };
            Ok(time)
        }
        fn text(&mut self, column: &Column) -> Result<Option<String>, Self::Error> {
            let Cell::Text(text) = self.get(column) else {
                unreachable!()
            };
            Ok(text.map(str::to_owned))
        }
        fn integer(&mut self, column: &Column) -> Result<Option<i32>, Self::Error> {
            let Cell::Integer(value) = self.get(column) else {
                unreachable!()
            };
            Ok(value)
        }
        fn json(&mut self, column: &Column) -> Result<Option<Details>, Self::Error> {
            let Cell::Json(details) = self.get(column) else {
                unreachable!()
            };
            Ok(details.cloned())
        }
    }

    /// An event with every field set, each to a value of its own.
    fn full_event() -> ActivityEvent {
        ActivityEvent::builder("auth.login.failed")
            .category("auth")
            .resource("session", "s_1")
            .actor(Actor::admin("u_1").with_label("Ada"))
            .tenant("acme")
            .status(http::StatusCode::UNAUTHORIZED)
            .outcome(Outcome::Error)
            .request_id("r_1")
            .ip("203.0.113.9".parse().unwrap())
            .user_agent("agent/1")
            .method("POST")
            .route("/login")
            .details(json!({"reason": "bad_password"}))
            .build()
            .unwrap()
    }

    #[test]
    fn cells_follow_the_columns_in_order_and_kind() {
        let event = full_event();
        for (column, cell) in COLUMNS.iter().zip(event.cells()) {
            assert_eq!(cell.kind(), column.kind, "column {}", column.name);
        }
        let names: Vec<_> = COLUMNS.iter().map(|column| column.name).collect();
        let mut unique = names.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), names.len(), "column names are unique");
    }

    #[test]
    fn every_field_survives_its_columns() {
        let event = full_event();
        let mut cells = Cells(
            COLUMNS
                .iter()
                .map(|column| column.name)
                .zip(event.cells())
                .collect(),
        );
        let read = ActivityEvent::read_columns(&mut cells).unwrap();
        assert_eq!(read, event);
        // Every column holds a value in this event, so none is left unread.
        for cell in event.cells() {
            let empty = matches!(cell, Cell::Text(None) | Cell::Integer(None) | Cell::Json(None));
            assert!(!empty, "{cell:?}");
        }
    }

    #[test]
    fn text_columns_have_a_limit_and_fit_cuts_on_a_character_boundary() {
        for column in COLUMNS {
            assert_eq!(
                column.max_chars.is_some(),
                column.kind == ColumnKind::Text,
                "{}",
                column.name
            );
        }
        assert_eq!(METHOD.fit("GET"), "GET");
        assert_eq!(METHOD.fit("PROPFIND-EXTENDED"), "PROPFIND-EXTENDE");
        let accented = "é".repeat(MAX_ID_CHARS + 1);
        assert_eq!(RESOURCE_ID.fit(&accented).chars().count(), MAX_ID_CHARS);
        assert_eq!(DETAILS.fit("anything"), "anything");
    }

    #[test]
    fn unreadable_values_read_as_their_fallbacks() {
        let event = full_event();
        let mut cells = Cells(
            COLUMNS
                .iter()
                .map(|column| column.name)
                .zip(event.cells())
                .collect(),
        );
        for (name, cell) in &mut cells.0 {
            match *name {
                "action" => *cell = Cell::Text(Some("Not An Action")),
                "outcome" => *cell = Cell::Text(Some("fine")),
                "actor_kind" => *cell = Cell::Text(Some("robot")),
                "http_status" => *cell = Cell::Integer(Some(-1)),
                _ => {}
            }
        }
        let read = ActivityEvent::read_columns(&mut cells).unwrap();
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
