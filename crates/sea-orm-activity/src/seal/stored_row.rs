//! One `activity_log` row read from a query result by column index, as the
//! leaf hashes it: each column as the entity reads its field, with no model
//! and no vector of values in between, and none of the fallbacks that reading
//! an event applies.

use chrono::{DateTime, Utc};
use sea_orm::{DbErr, QueryResult};
use tower_activity::{COLUMNS, Cell, ColumnKind, Details};
use uuid::Uuid;

/// The stored values of one row, in the order of [`COLUMNS`].
pub(crate) struct StoredRow {
    values: [Stored; COLUMNS.len()],
}

/// One stored value, owned.
enum Stored {
    Uuid(Uuid),
    Time(DateTime<Utc>),
    Text(Option<String>),
    Integer(Option<i32>),
    Json(Option<Details>),
}

/// The index in [`COLUMNS`] of the column `name`.
pub(crate) fn column_at(name: &str) -> Result<usize, DbErr> {
    COLUMNS
        .iter()
        .position(|column| column.name == name)
        .ok_or_else(|| DbErr::Custom(format!("activity_log has no column `{name}`")))
}

impl StoredRow {
    /// The `activity_log` columns selected in `row` from the index `first`
    /// on, in the order of [`COLUMNS`]. With `details_as_text`, the details
    /// were selected as their JSON text (on PostgreSQL, `jsonb` cast to
    /// `text`: the text its binary form carries).
    pub(crate) fn read(row: &QueryResult, first: usize, details_as_text: bool) -> Result<StoredRow, DbErr> {
        let mut values = std::array::from_fn(|_| Stored::Text(None));
        for ((value, column), at) in values.iter_mut().zip(&COLUMNS).zip(first..) {
            *value = match column.kind {
                ColumnKind::Uuid => Stored::Uuid(row.try_get_by_index(at)?),
                ColumnKind::Time => Stored::Time(row.try_get_by_index(at)?),
                ColumnKind::Text => Stored::Text(row.try_get_by_index(at)?),
                ColumnKind::Integer => Stored::Integer(row.try_get_by_index(at)?),
                ColumnKind::Json if details_as_text => {
                    let text: Option<String> = row.try_get_by_index(at)?;
                    let value =
                        text.map(|text| serde_json::from_str(&text))
                            .transpose()
                            .map_err(|error| {
                                DbErr::Type(format!("activity_log column `{}`: {error}", column.name))
                            })?;
                    Stored::Json(value.map(Details::new))
                }
                ColumnKind::Json => Stored::Json(
                    row.try_get_by_index::<Option<serde_json::Value>>(at)?
                        .map(Details::new),
                ),
            };
        }
        Ok(StoredRow { values })
    }

    /// The values as cells, in the order of [`COLUMNS`].
    pub(crate) fn cells(&self) -> [Cell<'_>; COLUMNS.len()] {
        self.values.each_ref().map(|value| match value {
            Stored::Uuid(id) => Cell::Uuid(*id),
            Stored::Time(time) => Cell::Time(*time),
            Stored::Text(text) => Cell::Text(text.as_deref()),
            Stored::Integer(number) => Cell::Integer(*number),
            Stored::Json(details) => Cell::Json(details.as_ref()),
        })
    }
}
