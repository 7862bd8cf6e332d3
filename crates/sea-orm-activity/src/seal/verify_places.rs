//! What verification reads of a seal's entries: their places, each with the
//! entry's stored row beside it, a page at a time in one query, read by
//! column index rather than through models.

use sea_orm::sea_query::{Expr, ExprTrait, JoinType, Order, Query};
use sea_orm::{ConnectionTrait, DbErr, Iterable, QueryResult};
use tower_activity::seal::{Hash, Salt};
use uuid::Uuid;

use super::stored::StoredCells;
use super::tables::seal_entry;
use crate::entity::{Column, Entity};

/// Places read per query: with the page being checked and the pages read
/// ahead, what bounds the memory of a verification.
pub(super) const PLACE_PAGE: usize = 1_000;

/// The index of the first `activity_log` column in a place's row; those
/// before are the place's own, in the order [`Place::read`] reads them.
const FIRST_COLUMN: usize = 6;

/// The places of the seal `sequence` of `chain` from `position` on, in
/// order, at most [`PLACE_PAGE`]: each with its entry's stored columns, all
/// null when the entry is gone.
pub(super) async fn places_page<C: ConnectionTrait>(
    db: &C,
    chain: &str,
    sequence: i64,
    position: i64,
) -> Result<Vec<QueryResult>, DbErr> {
    use seal_entry::{Column as Place, Entity as Places};
    let mut select = Query::select();
    select
        .columns(
            [
                Place::Position,
                Place::EntryId,
                Place::Salt,
                Place::Commitment,
                Place::Leaf,
                Place::ColumnDigests,
            ]
            .map(|column| (Places, column)),
        )
        .columns(Column::iter().map(|column| (Entity, column)))
        .from(Places)
        .join(
            JoinType::LeftJoin,
            Entity,
            Expr::col((Entity, Column::Id)).equals((Places, Place::EntryId)),
        )
        .and_where(Expr::col((Places, Place::Chain)).eq(chain))
        .and_where(Expr::col((Places, Place::Sequence)).eq(sequence))
        .and_where(Expr::col((Places, Place::Position)).gte(position))
        .order_by((Places, Place::Position), Order::Asc)
        .limit(PLACE_PAGE as u64);
    db.query_all_raw(db.get_database_backend().build(&select)).await
}

/// The position of a place's row, to read the next page after it.
pub(super) fn position_of(row: &QueryResult) -> Result<i64, DbErr> {
    row.try_get_by_index(0)
}

/// One place of a seal, as stored.
pub(super) struct Place {
    /// Its place among the seal's entries.
    pub(super) position: i64,
    /// The entry's id.
    pub(super) entry: Uuid,
    /// The salt of its commitment; none once erased (or of the wrong
    /// length, which reads as erased and so cannot pass for the salt).
    pub(super) salt: Option<Salt>,
    /// The commitment to its erasable columns (zeros when of the wrong length).
    pub(super) commitment: Hash,
    /// Its leaf when sealed, as stored.
    pub(super) leaf: Vec<u8>,
    /// Its column digests; empty once retention deleted it.
    pub(super) column_digests: Vec<u8>,
    /// Whether the entry's row is still stored.
    pub(super) stored: bool,
}

impl Place {
    /// The place in `row`, as [`places_page`] selects it.
    pub(super) fn read(row: &QueryResult) -> Result<Place, DbErr> {
        let salt: Option<Vec<u8>> = row.try_get_by_index(2)?;
        let commitment: Vec<u8> = row.try_get_by_index(3)?;
        Ok(Place {
            position: position_of(row)?,
            entry: row.try_get_by_index(1)?,
            salt: salt.and_then(|salt| salt.as_slice().try_into().ok()),
            commitment: commitment.as_slice().try_into().unwrap_or_default(),
            leaf: row.try_get_by_index(4)?,
            column_digests: row.try_get_by_index(5)?,
            stored: row.try_get_by_index::<Option<Uuid>>(FIRST_COLUMN)?.is_some(),
        })
    }

    /// The leaf as stored, as a hash (zeros when of the wrong length, which
    /// no root accepts).
    pub(super) fn stored_leaf(&self) -> Hash {
        self.leaf.as_slice().try_into().unwrap_or_default()
    }

    /// The stored text of the entry's column at `index` of
    /// [`COLUMNS`](tower_activity::COLUMNS), read alone.
    pub(super) fn text(row: &QueryResult, index: usize) -> Result<Option<String>, DbErr> {
        row.try_get_by_index(FIRST_COLUMN + index)
    }

    /// The entry's stored columns.
    pub(super) fn cells(row: &QueryResult) -> Result<StoredCells, DbErr> {
        StoredCells::from_query_result(row, FIRST_COLUMN)
    }
}
