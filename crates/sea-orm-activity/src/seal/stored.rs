//! A stored seal row as the seal it holds.

use sea_orm::DbErr;
use tower_activity::seal::{Hash, Seal};

use super::tables::seal_row;

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
