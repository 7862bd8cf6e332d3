//! The entries a sealing round covers: the unsealed ones from a point in id
//! order, read column by column straight into the values a leaf hashes.

use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryFilter, QueryOrder, QueryResult,
    QuerySelect, QueryTrait,
};
use tower_activity::{COLUMNS, Cell};
use uuid::Uuid;

use super::stored_row::StoredRow;
use super::tables::seal_entry;
use crate::entity::{Column, Entity};

/// Where a round starts reading, in id order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Start {
    /// From the first entry.
    First,
    /// From this id on.
    At(Uuid),
    /// Past this id: where the previous round of a pass stopped.
    After(Uuid),
}

/// An entry not yet sealed: its values as the database returns them (none
/// of the fallbacks that reading an event applies, so a value changed by
/// hand changes the leaf).
pub(super) struct PendingEntry {
    id: Uuid,
    row: StoredRow,
}

impl PendingEntry {
    /// Reads `row`, whose columns are those of [`COLUMNS`] in that order.
    fn read(row: &QueryResult) -> Result<PendingEntry, DbErr> {
        let row = StoredRow::read(row, 0, false)?;
        let Cell::Uuid(id) = row.cells()[0] else {
            return Err(DbErr::Custom(
                "activity_log's first column is not its id".to_owned(),
            ));
        };
        Ok(PendingEntry { id, row })
    }

    /// The entry's id.
    pub(super) fn id(&self) -> Uuid {
        self.id
    }

    /// The values as cells, in the order of [`COLUMNS`].
    pub(super) fn cells(&self) -> [Cell<'_>; COLUMNS.len()] {
        self.row.cells()
    }
}

/// Reads up to `limit` entries not yet sealed (on any chain) from `start` on,
/// oldest id first, in the transaction `db`; `lock_rows` reads them
/// `FOR UPDATE`.
///
/// The anti-join is bounded below as the read is, on both tables, so that
/// it walks the two primary keys side by side from `start` rather than the
/// whole of `activity_seal_entry`.
pub(super) async fn read_pending<C: ConnectionTrait>(
    db: &C,
    start: Start,
    limit: usize,
    lock_rows: bool,
) -> Result<Vec<PendingEntry>, DbErr> {
    let entry_id = Expr::col((seal_entry::Entity, seal_entry::Column::EntryId));
    let mut sealed = Query::select();
    sealed
        .expr(Expr::val(1))
        .from(seal_entry::Entity)
        .and_where(entry_id.clone().equals((Entity, Column::Id)));
    let mut select = Entity::find();
    match start {
        Start::First => {}
        Start::At(id) => {
            sealed.and_where(entry_id.gte(id));
            select = select.filter(Column::Id.gte(id));
        }
        Start::After(id) => {
            sealed.and_where(entry_id.gt(id));
            select = select.filter(Column::Id.gt(id));
        }
    }
    let mut select = select
        .filter(Expr::exists(sealed).not())
        .order_by_asc(Column::Id)
        .limit(limit as u64);
    if lock_rows {
        select = select.lock_exclusive();
    }
    let backend = db.get_database_backend();
    if backend == DbBackend::Postgres {
        // Walk the primary keys in order and stop at the limit. A planner
        // without fresh statistics (a new or fast-growing table) otherwise
        // reads every row past the start, sorts them and hashes the sealed
        // ids: a round then costs the whole range, not its batch. Nor does
        // a read that stops at a batch gain from parallel workers: started
        // for a read of the whole table, they took about 7 % more CPU for
        // the same round.
        db.execute_unprepared("SET LOCAL enable_sort = off; SET LOCAL max_parallel_workers_per_gather = 0")
            .await?;
    }
    let rows = db.query_all_raw(select.build(backend)).await?;
    rows.iter().map(PendingEntry::read).collect()
}

/// Whether a round reads its entries `FOR UPDATE` on `backend`: on MySQL,
/// so that an anonymization or a prune of the same rows waits for the seal
/// (or the seal for them). PostgreSQL rounds take the rewrite lock instead
/// (see [`rewrite_lock`](crate::rewrite_lock)), which costs no write per row;
/// SQLite has a single writer.
pub(super) fn locks_rows(backend: DbBackend) -> bool {
    backend == DbBackend::MySql
}
