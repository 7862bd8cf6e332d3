//! What verification reads of a seal's entries, a page at a time: their
//! places in order, and the stored rows whose ids they span, each read by
//! column index rather than through models.
//!
//! Two range scans (the places by their unique index, the rows by their
//! primary key) cost the database less than looking each row up from its
//! place. A seal's entries are its rows in id order, so the rows between
//! the page's first and last ids are its entries, and seldom more (an entry
//! committed late, sealed by a later seal, or one not sealed yet).

use std::collections::{HashMap, HashSet};

use sea_orm::sea_query::{Alias, Expr, ExprTrait, Order, Query, SelectStatement};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, Iterable, QueryResult};
use tower_activity::seal::{Hash, Salt};
use uuid::Uuid;

use super::stored_row::StoredRow;
use super::tables::seal_entry;
use crate::entity::{Column, Entity};

/// Places read per query: with the page being checked and the pages read
/// ahead, what bounds the memory of a verification.
pub(super) const PLACE_PAGE: usize = 1_000;

/// The most rows read per place in the range of a page's ids: past it, the
/// entries not read are read by id.
const ROWS_PER_PLACE: usize = 2;

/// The places of one seal from a position on, and the rows of their entries.
pub(super) struct PlacesPage {
    /// The places, in order, as [`Place::read`] reads them.
    pub(super) places: Vec<QueryResult>,
    /// The stored rows of their entries (those still stored), and maybe
    /// others, in no particular order, as [`PlacesPage::rows_by_id`] reads
    /// them.
    rows: Vec<QueryResult>,
}

impl PlacesPage {
    /// The rows read, by id.
    pub(super) fn rows_by_id(&self) -> Result<HashMap<Uuid, &QueryResult>, DbErr> {
        self.rows
            .iter()
            .map(|row| Ok((row.try_get_by_index(0)?, row)))
            .collect()
    }

    /// How many places it holds.
    pub(super) fn len(&self) -> usize {
        self.places.len()
    }

    /// The position of its last place, to read the next page after it.
    pub(super) fn last_position(&self) -> Result<Option<i64>, DbErr> {
        self.places
            .last()
            .map(|place| place.try_get_by_index(0))
            .transpose()
    }
}

/// The places of the seal `sequence` of `chain` from `position` on, in
/// order, at most [`PLACE_PAGE`], and the stored rows of their entries.
pub(super) async fn places_page<C: ConnectionTrait>(
    db: &C,
    chain: &str,
    sequence: i64,
    position: i64,
) -> Result<PlacesPage, DbErr> {
    use seal_entry::{Column as Place, Entity as Places};
    let backend = db.get_database_backend();
    let mut select = Query::select();
    select
        .columns([
            Place::Position,
            Place::EntryId,
            Place::Salt,
            Place::Commitment,
            Place::Leaf,
            Place::ColumnDigests,
        ])
        .from(Places)
        .and_where(Expr::col(Place::Chain).eq(chain))
        .and_where(Expr::col(Place::Sequence).eq(sequence))
        .and_where(Expr::col(Place::Position).gte(position))
        .order_by(Place::Position, Order::Asc)
        .limit(PLACE_PAGE as u64);
    let places = db.query_all_raw(backend.build(&select)).await?;
    let ids = places
        .iter()
        .map(|place| place.try_get_by_index(1))
        .collect::<Result<Vec<Uuid>, DbErr>>()?;
    let (Some(first), Some(last)) = (ids.iter().min(), ids.iter().max()) else {
        return Ok(PlacesPage {
            places,
            rows: Vec::new(),
        });
    };
    let limit = ids.len() * ROWS_PER_PLACE;
    let mut select = stored_rows(backend);
    select
        .and_where(Expr::col(Column::Id).gte(*first))
        .and_where(Expr::col(Column::Id).lte(*last))
        .order_by(Column::Id, Order::Asc)
        .limit(limit as u64);
    let mut rows = db.query_all_raw(backend.build(&select)).await?;
    // The entries not in the range read (gone, or crowded out by other rows
    // past the limit), looked up by id.
    let read = rows
        .iter()
        .map(|row| row.try_get_by_index(0))
        .collect::<Result<HashSet<Uuid>, DbErr>>()?;
    let unread: Vec<Uuid> = ids.into_iter().filter(|id| !read.contains(id)).collect();
    if !unread.is_empty() {
        let mut select = stored_rows(backend);
        select.and_where(Expr::col(Column::Id).is_in(unread));
        rows.extend(db.query_all_raw(backend.build(&select)).await?);
    }
    Ok(PlacesPage { places, rows })
}

/// The stored columns of `activity_log`, in the order of
/// [`COLUMNS`](tower_activity::COLUMNS), the details as [`details_as_text`]
/// says for `backend`.
fn stored_rows(backend: DbBackend) -> SelectStatement {
    let mut select = Query::select();
    select
        .exprs(Column::iter().map(|column| {
            let selected = Expr::col(column);
            match column {
                Column::Details if details_as_text(backend) => selected.cast_as(Alias::new("text")),
                _ => selected,
            }
        }))
        .from(Entity);
    select
}

/// Whether the details are selected as their JSON text: on PostgreSQL,
/// where `jsonb` sent in its binary form costs the server about as much as
/// every other column together; the text is the same as the binary form's.
pub(super) fn details_as_text(backend: DbBackend) -> bool {
    backend == DbBackend::Postgres
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
}

impl Place {
    /// The place in `row`, as [`places_page`] selects it (but for its
    /// column digests, [`Place::column_digests`]).
    pub(super) fn read(row: &QueryResult) -> Result<Place, DbErr> {
        let salt: Option<Vec<u8>> = row.try_get_by_index(2)?;
        let commitment: Vec<u8> = row.try_get_by_index(3)?;
        Ok(Place {
            position: row.try_get_by_index(0)?,
            entry: row.try_get_by_index(1)?,
            salt: salt.and_then(|salt| salt.as_slice().try_into().ok()),
            commitment: commitment.as_slice().try_into().unwrap_or_default(),
            leaf: row.try_get_by_index(4)?,
        })
    }

    /// The leaf as stored, as a hash (zeros when of the wrong length, which
    /// no root accepts).
    pub(super) fn stored_leaf(&self) -> Hash {
        self.leaf.as_slice().try_into().unwrap_or_default()
    }

    /// The column digests of the place in `row`, read only when needed;
    /// empty once retention deleted the entry.
    pub(super) fn column_digests(row: &QueryResult) -> Result<Vec<u8>, DbErr> {
        row.try_get_by_index(5)
    }
}

/// The stored text of the column at `index` of
/// [`COLUMNS`](tower_activity::COLUMNS) in an entry's `row`, read alone.
pub(super) fn stored_text(row: &QueryResult, index: usize) -> Result<Option<String>, DbErr> {
    row.try_get_by_index(index)
}

/// The stored columns of an entry's `row`.
pub(super) fn stored_row(row: &QueryResult, details_as_text: bool) -> Result<StoredRow, DbErr> {
    StoredRow::read(row, 0, details_as_text)
}
