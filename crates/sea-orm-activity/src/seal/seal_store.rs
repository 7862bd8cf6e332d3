//! [`SealStore`] for [`SeaOrmStore`]: the newest checkpoint of the default
//! chain, and inclusion proofs computed from the stored rows.

use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait,
};
use tower_activity::seal::{Checkpoint, Hash, InclusionProof, SealStore, entry_leaf, inclusion_proof};
use tower_activity::{Cell, StoreError};
use uuid::Uuid;

use super::sealer::DEFAULT_CHAIN;
use super::stored_row::{StoredRow, column_at};
use super::tables::{seal_entry, seal_row};
use super::verify::checkpoint_of;
use crate::entity::Entity;
use crate::store::SeaOrmStore;

impl SealStore for SeaOrmStore {
    /// The newest seal of [`DEFAULT_CHAIN`].
    async fn newest_checkpoint(&self) -> Result<Option<Checkpoint>, StoreError> {
        self.checkpoint(DEFAULT_CHAIN).await.map_err(StoreError::new)
    }

    /// The entry's leaf is recomputed from its stored row, never read from
    /// the seal's records, so the proof fails for an entry changed since it
    /// was sealed. The path is built from the leaves of the entry's seal
    /// (at most the sealer's batch size).
    async fn inclusion_proof(&self, entry: Uuid) -> Result<Option<InclusionProof>, StoreError> {
        self.proof(entry).await.map_err(StoreError::new)
    }
}

impl SeaOrmStore {
    async fn proof(&self, entry: Uuid) -> Result<Option<InclusionProof>, DbErr> {
        let backend = self.db.get_database_backend();
        let Some(row) = self
            .db
            .query_one_raw(Entity::find_by_id(entry).build(backend))
            .await?
        else {
            return Ok(None);
        };
        let stored = StoredRow::read(&row, 0, false)?;
        let Some(place) = seal_entry::Entity::find_by_id(entry).one(&self.db).await? else {
            return Ok(None);
        };
        let Some(seal) = seal_row::Entity::find_by_id((place.chain.clone(), place.sequence))
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        let leaves: Vec<Vec<u8>> = seal_entry::Entity::find()
            .select_only()
            .column(seal_entry::Column::Leaf)
            .filter(seal_entry::Column::Chain.eq(place.chain.as_str()))
            .filter(seal_entry::Column::Sequence.eq(place.sequence))
            .order_by_asc(seal_entry::Column::Position)
            .into_tuple()
            .all(&self.db)
            .await?;
        let mut leaves: Vec<Hash> = leaves
            .iter()
            .map(|leaf| leaf.as_slice().try_into().unwrap_or_default())
            .collect();
        let commitment: Hash = place.commitment.as_slice().try_into().unwrap_or_default();
        let cells = stored.cells();
        let leaf = entry_leaf(&cells, &commitment);
        let index = usize::try_from(place.position).unwrap_or(usize::MAX);
        if let Some(at) = leaves.get_mut(index) {
            *at = leaf;
        }
        let Some(path) = inclusion_proof(&leaves, index) else {
            return Ok(None);
        };
        Ok(Some(InclusionProof {
            entry,
            tenant_id: match cells[column_at("tenant_id")?] {
                Cell::Text(tenant) => tenant.map(str::to_owned),
                _ => None,
            },
            commitment,
            leaf,
            index: index as u64,
            path,
            seal: checkpoint_of(&seal)?,
        }))
    }
}
