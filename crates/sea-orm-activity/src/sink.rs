//! Writing events: chunked multi-row inserts, idempotent on the event id.

use std::sync::OnceLock;

use sea_orm::{ConnectionTrait, DbBackend, DbErr, EntityName, Statement, TransactionTrait};
use tower_activity::{ActivityEvent, ActivitySink, COLUMNS, Cell, ColumnKind, SinkError};

use crate::entity::{Entity, cell_value};
use crate::pg_arrays::column_arrays;
use crate::sink_error::sink_error;
use crate::store::SeaOrmStore;

/// How many batches are written at once on PostgreSQL and MySQL.
const CONCURRENT_WRITES: usize = 4;

/// The most bytes of values one insert statement carries, well below the
/// smallest default packet limit (16 MiB on MariaDB).
const MAX_STATEMENT_BYTES: usize = 4 * 1024 * 1024;

/// The most rows one MySQL or SQLite statement may carry: bound by the
/// parameters it may bind.
fn max_rows(backend: DbBackend) -> usize {
    max_parameters(backend) / COLUMNS.len()
}

/// The most parameters one statement may bind on `backend`.
fn max_parameters(backend: DbBackend) -> usize {
    match backend {
        DbBackend::Sqlite => 32_766,
        _ => 65_535,
    }
}

/// About how many bytes `event`'s values take in a statement.
fn estimated_bytes(event: &ActivityEvent) -> usize {
    event
        .cells()
        .iter()
        .map(|cell| match cell {
            Cell::Text(text) => text.map_or(0, str::len),
            Cell::Json(details) => details.map_or(0, |details| details.as_json().len()),
            Cell::Uuid(_) | Cell::Time(_) | Cell::Integer(_) => 8,
        })
        .sum::<usize>()
        + 64
}

/// Inserts `events` with as few statements as the backend's parameter limit
/// and [`MAX_STATEMENT_BYTES`] allow. An event whose id is already stored is
/// skipped, so writing a batch again keeps one row each.
///
/// On PostgreSQL a statement binds one array per column and inserts what
/// `UNNEST` makes of them: the statement is the same whatever the number of
/// rows, so it is prepared once per connection. Elsewhere it is a multi-row
/// `VALUES` list. The statements are written here rather than built with
/// sea-orm's query builder: an insert of hundreds of rows through it costs
/// several times the work of the insert itself.
pub(crate) async fn insert_events<C: ConnectionTrait>(db: &C, events: &[ActivityEvent]) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let mut rest = events;
    while !rest.is_empty() {
        let (statement, rows) = match backend {
            DbBackend::Postgres => {
                // The arrays measure themselves as they grow: no estimate.
                let (arrays, rows) = column_arrays(rest, MAX_STATEMENT_BYTES);
                let arrays = arrays.map(sea_orm::Value::from);
                (
                    Statement::from_sql_and_values(backend, unnest_sql(), arrays),
                    rows,
                )
            }
            _ => {
                let rows = rows_within_limits(rest, backend);
                let mut values = Vec::with_capacity(rows * COLUMNS.len());
                for event in &rest[..rows] {
                    let cells = event.cells().into_iter().zip(&COLUMNS);
                    values.extend(cells.map(|(cell, column)| cell_value(cell, column, backend)));
                }
                let sql = insert_sql(backend, rows);
                (Statement::from_sql_and_values(backend, sql, values), rows)
            }
        };
        db.execute_raw(statement).await?;
        rest = &rest[rows..];
    }
    Ok(())
}

/// How many of `events`, at least one, one MySQL or SQLite statement takes:
/// within the backend's parameter limit and [`MAX_STATEMENT_BYTES`].
fn rows_within_limits(events: &[ActivityEvent], backend: DbBackend) -> usize {
    let max_rows = max_rows(backend);
    let mut rows = 0;
    let mut bytes = 0;
    while rows < events.len() && rows < max_rows {
        bytes += estimated_bytes(&events[rows]);
        if rows > 0 && bytes > MAX_STATEMENT_BYTES {
            break;
        }
        rows += 1;
    }
    rows
}

/// `INSERT INTO "activity_log" (...) SELECT * FROM UNNEST($1::uuid[], ...)`,
/// doing nothing for an id already stored.
fn unnest_sql() -> &'static str {
    static SQL: OnceLock<String> = OnceLock::new();
    SQL.get_or_init(|| {
        let columns: Vec<String> = COLUMNS
            .iter()
            .map(|column| format!("\"{}\"", column.name))
            .collect();
        let arrays: Vec<String> = COLUMNS
            .iter()
            .enumerate()
            .map(|(at, column)| format!("${}::{}[]", at + 1, array_type(column.kind)))
            .collect();
        format!(
            "INSERT INTO \"{}\" ({}) SELECT * FROM UNNEST({}) ON CONFLICT (\"id\") DO NOTHING",
            Entity.table_name(),
            columns.join(", "),
            arrays.join(", ")
        )
    })
}

/// The PostgreSQL type of a column's array.
fn array_type(kind: ColumnKind) -> &'static str {
    match kind {
        ColumnKind::Uuid => "uuid",
        ColumnKind::Time => "timestamptz",
        ColumnKind::Text => "text",
        ColumnKind::Integer => "int4",
        ColumnKind::Json => "jsonb",
    }
}

/// `INSERT INTO activity_log (...) VALUES (...), ...` for `rows` rows on
/// MySQL or SQLite (PostgreSQL uses [`unnest_sql`]), doing nothing for an id
/// already stored.
fn insert_sql(backend: DbBackend, rows: usize) -> String {
    let quote = |name: &str| match backend {
        DbBackend::MySql => format!("`{name}`"),
        _ => format!("\"{name}\""),
    };
    let columns: Vec<String> = COLUMNS.iter().map(|column| quote(column.name)).collect();
    let head = format!(
        "INSERT INTO {} ({}) VALUES ",
        quote(Entity.table_name()),
        columns.join(", ")
    );
    let placeholders = placeholders(rows);
    let tail = match backend {
        DbBackend::MySql => " ON DUPLICATE KEY UPDATE `id` = `id`",
        _ => " ON CONFLICT (\"id\") DO NOTHING",
    };
    let mut sql = String::with_capacity(head.len() + placeholders.len() + tail.len());
    sql.push_str(&head);
    sql.push_str(placeholders);
    sql.push_str(tail);
    sql
}

/// The placeholders of `rows` rows: `(?, ?, …), (?, ?, …)`. Written once for
/// the most rows a MySQL statement can hold (SQLite's hold fewer), and sliced,
/// so a batch does not write them out again.
fn placeholders(rows: usize) -> &'static str {
    struct Placeholders {
        text: String,
        /// Where the text of each number of rows ends.
        ends: Vec<usize>,
    }
    static WRITTEN: OnceLock<Placeholders> = OnceLock::new();
    let written = WRITTEN.get_or_init(|| {
        let row = format!("({})", vec!["?"; COLUMNS.len()].join(", "));
        let mut text = String::new();
        let mut ends = vec![0];
        for at in 0..max_parameters(DbBackend::MySql) / COLUMNS.len() {
            if at > 0 {
                text.push_str(", ");
            }
            text.push_str(&row);
            ends.push(text.len());
        }
        Placeholders { text, ends }
    });
    &written.text[..written.ends[rows]]
}

/// Each batch is one transaction of multi-row inserts: written whole or not at
/// all, so the recorder's retry of a failed batch cannot leave half of it; an
/// event already stored (a retried batch that had been committed after all)
/// keeps its one row. A batch the database refuses for its values (a
/// constraint, a value a column cannot hold) fails with a
/// [permanent](SinkError::permanent) error, so that the recorder sets the
/// events at fault aside rather than retrying them; any other failure is
/// transient.
impl ActivitySink for SeaOrmStore {
    async fn write_batch(&self, batch: &[ActivityEvent]) -> Result<(), SinkError> {
        let backend = self.db.get_database_backend();
        let error = |error| sink_error(error, backend);
        let txn = self.db.begin().await.map_err(error)?;
        insert_events(&txn, batch).await.map_err(error)?;
        txn.commit().await.map_err(error)
    }

    /// Several batches at once on PostgreSQL and MySQL, each on a connection
    /// of the pool, so the writer keeps up with a high rate; one at a time on
    /// SQLite, which has a single writer anyway.
    fn max_concurrent_writes(&self) -> usize {
        match self.db.get_database_backend() {
            DbBackend::Sqlite => 1,
            _ => CONCURRENT_WRITES,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_question_marks_elsewhere() {
        let sql = insert_sql(DbBackend::MySql, 3);
        assert_eq!(sql.matches('?').count(), 3 * COLUMNS.len());
        assert!(sql.ends_with("?) ON DUPLICATE KEY UPDATE `id` = `id`"));
        let sql = insert_sql(DbBackend::Sqlite, 1);
        assert_eq!(sql.matches('?').count(), COLUMNS.len());
    }

    #[test]
    fn the_largest_statement_fits_the_parameter_limit() {
        for backend in [DbBackend::MySql, DbBackend::Sqlite] {
            let rows = max_parameters(backend) / COLUMNS.len();
            let sql = insert_sql(backend, rows);
            assert_eq!(sql.matches('?').count(), rows * COLUMNS.len());
        }
    }
}
