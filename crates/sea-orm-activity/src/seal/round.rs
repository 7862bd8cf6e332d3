//! One sealing round: in one transaction, the chain's lock, up to a batch of
//! entries not yet sealed, the next seal of the chain over them and their
//! places.

use chrono::{SubsecRound, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, SqlErr, Statement, TransactionTrait,
};
use tower_activity::seal::{MerkleRoot, Seal, leaf_hash, new_salts, seal_entry};
use uuid::Uuid;

use super::pending::{PendingEntry, Start, locks_rows, read_pending};
use super::places::{Place, write_places};
use super::sealer::{SealError, Sealer};
use super::stored::stored_seal;
use super::tables::seal_row;
use crate::rewrite_lock::{self, row_locking};

/// How a round ended.
pub(super) enum Round {
    /// It wrote a seal.
    Sealed(Sealed),
    /// Nothing from its start on was left to seal.
    Empty,
    /// Another sealer held the chain, or wrote the same seal first: this
    /// round read nothing it may count as read.
    Busy,
}

/// What a round sealed.
pub(super) struct Sealed {
    /// How many entries.
    pub(super) count: u64,
    /// The last of them in id order: where the next round of a pass starts.
    pub(super) last: Uuid,
}

impl Sealer {
    /// Writes one seal over up to a batch of the entries not yet sealed from
    /// `start` on.
    pub(super) async fn round(&self, start: Start) -> Result<Round, SealError> {
        let db = &self.store.db;
        let backend = db.get_database_backend();
        let txn = db.begin_with_options(row_locking(backend)).await?;
        match self.seal_in(&txn, start).await {
            Ok(Round::Sealed(sealed)) => match txn.commit().await {
                Ok(()) => Ok(Round::Sealed(sealed)),
                Err(error) if lost_race(&error) => Ok(Round::Busy),
                Err(error) => Err(error.into()),
            },
            Ok(ended) => {
                txn.rollback().await?;
                Ok(ended)
            }
            Err(SealError::Database(error)) if lost_race(&error) => {
                // Another sealer wrote the same seal first: the rollback on
                // drop leaves nothing of this round.
                Ok(Round::Busy)
            }
            Err(error) => Err(error),
        }
    }

    async fn seal_in(&self, txn: &DatabaseTransaction, start: Start) -> Result<Round, SealError> {
        let backend = txn.get_database_backend();
        if backend == DbBackend::Postgres {
            if !advisory_lock(txn, &self.chain).await? {
                return Ok(Round::Busy);
            }
            rewrite_lock::exclusive(txn).await?;
        }
        let mut head = seal_row::Entity::find()
            .filter(seal_row::Column::Chain.eq(self.chain.as_str()))
            .order_by_desc(seal_row::Column::Sequence);
        if backend == DbBackend::MySql {
            head = head.lock_exclusive();
        }
        let head = head.one(txn).await?;
        let rows = read_pending(txn, start, self.batch_size, locks_rows(backend)).await?;
        let (Some(first), Some(last)) = (
            rows.first().map(PendingEntry::id),
            rows.last().map(PendingEntry::id),
        ) else {
            return Ok(Round::Empty);
        };
        let (sequence, previous) = match &head {
            Some(head) => (head.sequence + 1, stored_seal(head)?.hash()),
            None => (1, [0; 32]),
        };
        // Hashing a batch takes tens of milliseconds: off the runtime's
        // threads.
        let (places, root) = tokio::task::spawn_blocking(move || hash(&rows))
            .await
            .map_err(|error| DbErr::Custom(format!("hashing the entries failed: {error}")))??;
        let seal = Seal {
            chain: self.chain.clone(),
            sequence: sequence as u64,
            previous,
            root,
            count: places.len() as u64,
            first_entry: first,
            last_entry: last,
            sealed_at: Utc::now().trunc_subsecs(6),
        };
        let signature = self.key.as_ref().map(|key| key.sign(&seal).to_bytes().to_vec());
        seal_row::Entity::insert(seal_row::ActiveModel {
            chain: Set(seal.chain.clone()),
            sequence: Set(sequence),
            previous: Set(seal.previous.to_vec()),
            root: Set(seal.root.to_vec()),
            count: Set(seal.count as i64),
            first_entry: Set(seal.first_entry),
            last_entry: Set(seal.last_entry),
            sealed_at: Set(seal.sealed_at),
            signature: Set(signature),
        })
        .exec_without_returning(txn)
        .await?;
        write_places(txn, &self.chain, sequence, &places).await?;
        Ok(Round::Sealed(Sealed {
            count: seal.count,
            last,
        }))
    }
}

/// Each entry's salt, commitment, leaf and column digests, and the Merkle
/// root of the leaves.
fn hash(rows: &[PendingEntry]) -> Result<(Vec<Place>, tower_activity::seal::Hash), SealError> {
    let salts = new_salts(rows.len()).ok_or(SealError::NoRandomness)?;
    let mut root = MerkleRoot::new();
    let places = rows
        .iter()
        .zip(salts)
        .map(|(row, salt)| {
            let sealed = seal_entry(&row.cells(), &salt);
            root.push(sealed.leaf);
            Place {
                entry_id: row.id(),
                salt,
                sealed,
            }
        })
        .collect();
    Ok((places, root.root()))
}

/// Takes the chain's advisory lock for the transaction; false when another
/// transaction holds it.
async fn advisory_lock(txn: &DatabaseTransaction, chain: &str) -> Result<bool, DbErr> {
    let digest = leaf_hash(format!("activity_seal:{chain}").as_bytes());
    let key = i64::from_be_bytes(digest[..8].try_into().unwrap_or_default());
    let row = txn
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_try_advisory_xact_lock($1)",
            [key.into()],
        ))
        .await?;
    match row {
        Some(row) => row.try_get_by_index(0),
        None => Ok(false),
    }
}

/// Whether `error` says another sealer wrote the same seal or entry first.
fn lost_race(error: &DbErr) -> bool {
    matches!(error.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}
