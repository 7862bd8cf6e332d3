//! A stored row's values as the leaf hashes them: read straight from the
//! columns, with none of the fallbacks that reading an event applies, so a
//! value changed by hand always changes the leaf.

use sea_orm::{DbErr, Iterable, ModelTrait};
use tower_activity::seal::Seal;
use tower_activity::seal::{Salt, column_digests, commitment, entry_leaf};
use tower_activity::{COLUMNS, Cell, Details, seal::Hash};

use super::tables::seal_row;
use crate::entity::{Column, Model};

/// The values of one stored row, column by column.
pub(crate) struct StoredCells {
    values: Vec<sea_orm::Value>,
    details: Option<Details>,
}

impl StoredCells {
    /// The values of `row`.
    pub(crate) fn read(row: &Model) -> StoredCells {
        let values: Vec<_> = Column::iter().map(|column| row.get(column)).collect();
        let details = row.details.clone().map(Details::new);
        StoredCells { values, details }
    }

    /// The values as cells, in the order of [`COLUMNS`].
    pub(crate) fn cells(&self) -> Result<[Cell<'_>; COLUMNS.len()], DbErr> {
        let cells = self
            .values
            .iter()
            .zip(&COLUMNS)
            .map(|(value, column)| match value {
                sea_orm::Value::Uuid(Some(id)) => Ok(Cell::Uuid(*id)),
                sea_orm::Value::ChronoDateTimeUtc(Some(time)) => Ok(Cell::Time(*time)),
                sea_orm::Value::String(text) => Ok(Cell::Text(text.as_deref())),
                sea_orm::Value::Int(number) => Ok(Cell::Integer(*number)),
                sea_orm::Value::Json(_) => Ok(Cell::Json(self.details.as_ref())),
                other => Err(DbErr::Type(format!(
                    "activity_log column `{}` holds {other:?}, not a {:?}",
                    column.name, column.kind
                ))),
            })
            .collect::<Result<Vec<_>, DbErr>>()?;
        cells
            .try_into()
            .map_err(|_| DbErr::Custom("activity_log entity and COLUMNS differ".to_owned()))
    }
}

/// What sealing stores for one entry.
pub(crate) struct SealedLeaf {
    pub(crate) commitment: Hash,
    pub(crate) leaf: Hash,
    pub(crate) column_digests: Vec<u8>,
}

impl SealedLeaf {
    /// The commitment, leaf and digests of `row` under `salt`.
    pub(crate) fn new(row: &Model, salt: &Salt) -> Result<SealedLeaf, DbErr> {
        let stored = StoredCells::read(row);
        let cells = stored.cells()?;
        let commitment = commitment(&cells, salt);
        Ok(SealedLeaf {
            leaf: entry_leaf(&cells, &commitment),
            column_digests: column_digests(&cells, Some(salt)),
            commitment,
        })
    }
}

/// The seal a stored row holds; a hash or signature of the wrong length
/// reads as zeros, which no verification accepts.
pub(crate) fn stored_seal(row: &seal_row::Model) -> Result<Seal, DbErr> {
    let hash = |bytes: &[u8]| -> Hash { bytes.try_into().unwrap_or_default() };
    Ok(Seal {
        chain: row.chain.clone(),
        sequence: u64::try_from(row.sequence)
            .map_err(|_| DbErr::Type(format!("seal sequence {} is negative", row.sequence)))?,
        previous: hash(&row.previous),
        root: hash(&row.root),
        count: u64::try_from(row.count).unwrap_or(u64::MAX),
        first_entry: row.first_entry,
        last_entry: row.last_entry,
        sealed_at: row.sealed_at,
    })
}
