//! [`SeaOrmStore::verify`]: every seal and every entry recomputed from the
//! stored rows, trusting only the public key and the checkpoint it is given.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};
use tower_activity::seal::{
    ChainCheck, Checkpoint, Hash, MerkleRoot, Salt, SealPublicKey, SealSignature, changed_column, commitment,
    entry_leaf,
};
use uuid::Uuid;

use super::prune_record::{PruneRecords, SEALED_PRUNE_ACTION};
use super::sealer::DEFAULT_CHAIN;
use super::stored::StoredCells;
use super::stored::stored_seal;
use super::tables::{seal_entry, seal_row};
use super::verify_report::{Tamper, VerifyReport};
use crate::entity::{Column, Entity};
use crate::store::SeaOrmStore;

/// Seals read per query.
const SEAL_PAGE: u64 = 100;
/// Sealed entries read per query: what bounds the memory of a verification.
const ENTRY_PAGE: u64 = 1_000;

/// The condition: the entry has no place in any seal.
const UNSEALED: &str =
    "NOT EXISTS (SELECT 1 FROM activity_seal_entry WHERE activity_seal_entry.entry_id = activity_log.id)";

/// What [`SeaOrmStore::verify`] checks against.
#[derive(Clone, Debug)]
pub struct VerifyOptions {
    chain: String,
    public_key: Option<SealPublicKey>,
    checkpoint: Option<Checkpoint>,
    max_unsealed_age: Duration,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions::new()
    }
}

impl VerifyOptions {
    /// The chain [`DEFAULT_CHAIN`], no key, no checkpoint, and a five-minute
    /// bound on how long an entry may wait for its seal.
    pub fn new() -> Self {
        VerifyOptions {
            chain: DEFAULT_CHAIN.to_owned(),
            public_key: None,
            checkpoint: None,
            max_unsealed_age: Duration::from_secs(300),
        }
    }

    /// Verifies the chain `chain`.
    pub fn chain(mut self, chain: impl Into<String>) -> Self {
        self.chain = chain.into();
        self
    }

    /// Pins the public key: every seal must be signed by it (checked
    /// strictly). Without one, signatures are not checked.
    pub fn public_key(mut self, key: SealPublicKey) -> Self {
        self.public_key = Some(key);
        self
    }

    /// A checkpoint kept off the server: the stored seal of its number must
    /// be the same, and the log must reach it.
    pub fn checkpoint(mut self, checkpoint: Checkpoint) -> Self {
        self.chain = checkpoint.seal.chain.clone();
        self.checkpoint = Some(checkpoint);
        self
    }

    /// How long an entry may wait for its seal (the sealer's interval, plus
    /// the longest transaction that writes the log, with a margin): an entry
    /// older than this relative to the seals around it, unsealed or sealed
    /// late, was added afterwards.
    pub fn max_unsealed_age(mut self, age: Duration) -> Self {
        self.max_unsealed_age = age;
        self
    }

    fn bound(&self) -> TimeDelta {
        TimeDelta::from_std(self.max_unsealed_age).unwrap_or(TimeDelta::MAX)
    }
}

impl SeaOrmStore {
    /// Verifies the sealed log: walks the chain's seals in order and, for
    /// each, recomputes every entry's leaf from its stored columns (and its
    /// commitment from the erasable columns, while its salt is kept), the
    /// Merkle root, the count and the id range, and checks the link to the
    /// previous seal and, with a public key, the signature. Then it checks
    /// the checkpoint, if given, and that no entry is placed in a missing seal
    /// or left unsealed past the bound.
    ///
    /// It trusts nothing the database says about itself: no stored hash is
    /// taken as true without recomputing it. Seals and entries are read in
    /// pages, so memory stays bounded whatever the size of the log.
    ///
    /// A broken link ends the walk; the report names it
    /// ([`VerifyReport::tamper`]). The error is the database's only.
    pub async fn verify(&self, options: &VerifyOptions) -> Result<VerifyReport, DbErr> {
        self.verify_with_progress(options, |_| {}).await
    }

    /// [`verify`](Self::verify), calling `progress` with the report so far
    /// after each seal.
    pub async fn verify_with_progress(
        &self,
        options: &VerifyOptions,
        mut progress: impl FnMut(&VerifyReport) + Send,
    ) -> Result<VerifyReport, DbErr> {
        let mut report = VerifyReport {
            signatures_checked: options.public_key.is_some(),
            ..VerifyReport::default()
        };
        let mut walk = Walk {
            store: self,
            options,
            chain: ChainCheck::new(options.chain.as_str()),
            previous: None,
            pruned: PruneRecords::load(&self.db, &options.chain).await?,
        };
        if let Err(tamper) = walk.seals(&mut report, &mut progress).await? {
            report.tamper = Some(tamper);
            return Ok(report);
        }
        if let Err(tamper) = walk.after_seals(&mut report).await? {
            report.tamper = Some(tamper);
        }
        Ok(report)
    }

    /// The newest seal of `chain`, with its signature, as a checkpoint to
    /// keep off the server; `None` before the first seal.
    pub async fn checkpoint(&self, chain: &str) -> Result<Option<Checkpoint>, DbErr> {
        let newest = seal_row::Entity::find()
            .filter(seal_row::Column::Chain.eq(chain))
            .order_by_desc(seal_row::Column::Sequence)
            .one(&self.db)
            .await?;
        newest.map(|row| checkpoint_of(&row)).transpose()
    }
}

pub(crate) fn checkpoint_of(row: &seal_row::Model) -> Result<Checkpoint, DbErr> {
    Ok(Checkpoint {
        seal: stored_seal(row)?,
        signature: signature_of(row),
    })
}

fn signature_of(row: &seal_row::Model) -> Option<SealSignature> {
    let bytes: [u8; 64] = row.signature.as_deref()?.try_into().ok()?;
    Some(SealSignature::from_bytes(bytes))
}

/// Inner results: the database's error outside, the first broken link inside.
type Checked<T = ()> = Result<Result<T, Tamper>, DbErr>;

struct Walk<'a> {
    store: &'a SeaOrmStore,
    options: &'a VerifyOptions,
    chain: ChainCheck,
    /// The last entry and the time of the seal before.
    previous: Option<(Uuid, DateTime<Utc>)>,
    /// Retention's records of the sealed entries it deleted.
    pruned: PruneRecords,
}

impl Walk<'_> {
    async fn seals(
        &mut self,
        report: &mut VerifyReport,
        progress: &mut (impl FnMut(&VerifyReport) + Send),
    ) -> Checked {
        let mut after = 0_i64;
        loop {
            let page = seal_row::Entity::find()
                .filter(seal_row::Column::Chain.eq(self.options.chain.as_str()))
                .filter(seal_row::Column::Sequence.gt(after))
                .order_by_asc(seal_row::Column::Sequence)
                .limit(SEAL_PAGE)
                .all(&self.store.db)
                .await?;
            let Some(last) = page.last() else {
                return Ok(Ok(()));
            };
            after = last.sequence;
            for row in &page {
                if let Err(tamper) = self.seal(row, report).await? {
                    return Ok(Err(tamper));
                }
                report.seals_verified += 1;
                report.newest = Some(checkpoint_of(row)?);
                progress(report);
            }
        }
    }

    async fn seal(&mut self, row: &seal_row::Model, report: &mut VerifyReport) -> Checked {
        let seal = stored_seal(row)?;
        let sequence = seal.sequence;
        if let Err(broken) = self.chain.next(&seal) {
            return Ok(Err(broken.into()));
        }
        if let Some(checkpoint) = &self.options.checkpoint
            && checkpoint.seal.sequence == sequence
            && checkpoint.seal.hash() != seal.hash()
        {
            return Ok(Err(Tamper::Checkpoint { sequence }));
        }
        if let Some(key) = &self.options.public_key {
            let Some(signature) = signature_of(row) else {
                return Ok(Err(Tamper::Unsigned { sequence }));
            };
            if key.verify(&seal, &signature).is_err() {
                return Ok(Err(Tamper::Signature { sequence }));
            }
        }
        let late_before = self
            .previous
            .map(|(last_id, time)| (last_id, time - self.options.bound()));
        let mut root = MerkleRoot::new();
        let (mut first, mut last) = (None, None);
        let mut position = 0_i64;
        loop {
            let places = seal_entry::Entity::find()
                .filter(seal_entry::Column::Chain.eq(row.chain.as_str()))
                .filter(seal_entry::Column::Sequence.eq(row.sequence))
                .filter(seal_entry::Column::Position.gte(position))
                .order_by_asc(seal_entry::Column::Position)
                .limit(ENTRY_PAGE)
                .all(&self.store.db)
                .await?;
            if places.is_empty() {
                break;
            }
            let ids = places.iter().map(|place| place.entry_id);
            let mut rows: HashMap<Uuid, _> = Entity::find()
                .filter(Column::Id.is_in(ids))
                .all(&self.store.db)
                .await?
                .into_iter()
                .map(|row| (row.id, row))
                .collect();
            for place in &places {
                let entry = place.entry_id;
                if place.position != position {
                    return Ok(Err(Tamper::Place {
                        sequence,
                        entry,
                        expected: position as u64,
                        found: place.position.max(0) as u64,
                    }));
                }
                position += 1;
                first.get_or_insert(entry);
                last = Some(entry);
                let Some(stored) = rows.remove(&entry) else {
                    if !self.pruned.cover(row.sequence) {
                        return Ok(Err(Tamper::Missing { sequence, entry }));
                    }
                    // Pruned: its leaf as sealed stands in; the records'
                    // count is checked once every seal is read.
                    report.entries_pruned += 1;
                    root.push(place.leaf.as_slice().try_into().unwrap_or_default());
                    continue;
                };
                let cells = StoredCells::read(&stored);
                let cells = cells.cells()?;
                let salt: Option<Salt> = place.salt.as_deref().and_then(|salt| salt.try_into().ok());
                let sealed_commitment: Hash = place.commitment.as_slice().try_into().unwrap_or_default();
                let changed = || Tamper::Entry {
                    sequence,
                    entry,
                    column: changed_column(&place.column_digests, &cells, salt.as_ref()),
                };
                match &salt {
                    Some(salt) if commitment(&cells, salt) != sealed_commitment => return Ok(Err(changed())),
                    Some(_) => {}
                    // A prune record is never anonymized: erased, it could
                    // have been changed.
                    None if stored.action == SEALED_PRUNE_ACTION => {
                        return Ok(Err(Tamper::Entry {
                            sequence,
                            entry,
                            column: Some("details"),
                        }));
                    }
                    None => report.entries_erased += 1,
                }
                let leaf = entry_leaf(&cells, &sealed_commitment);
                if place.leaf != leaf {
                    return Ok(Err(changed()));
                }
                // Sealed after a seal of newer entries, and older than that
                // seal by more than the bound: added afterwards, backdated.
                if late_before.is_some_and(|(last_id, bound)| entry < last_id && stored.occurred_at < bound) {
                    return Ok(Err(Tamper::SealedLate { sequence, entry }));
                }
                root.push(leaf);
                report.entries_verified += 1;
            }
        }
        if root.len() != seal.count {
            return Ok(Err(Tamper::Count {
                sequence,
                sealed: seal.count,
                found: root.len(),
            }));
        }
        if first != Some(seal.first_entry) || last != Some(seal.last_entry) {
            return Ok(Err(Tamper::Range { sequence }));
        }
        if root.root() != seal.root {
            return Ok(Err(Tamper::Root { sequence }));
        }
        self.previous = Some((seal.last_entry, seal.sealed_at));
        Ok(Ok(()))
    }

    /// The checks once every seal passed: the checkpoint is reached, no entry
    /// names a missing seal, no old entry is unsealed.
    async fn after_seals(&self, report: &mut VerifyReport) -> Checked {
        let newest = self.chain.next_sequence() - 1;
        if let Some(checkpoint) = &self.options.checkpoint
            && checkpoint.seal.sequence > newest
        {
            return Ok(Err(Tamper::Truncated {
                checkpoint: checkpoint.seal.sequence,
                newest,
            }));
        }
        if report.entries_pruned != self.pruned.entries {
            return Ok(Err(Tamper::Pruned {
                recorded: self.pruned.entries,
                missing: report.entries_pruned,
            }));
        }
        let orphan = seal_entry::Entity::find()
            .filter(seal_entry::Column::Chain.eq(self.options.chain.as_str()))
            .filter(seal_entry::Column::Sequence.gt(newest as i64))
            .one(&self.store.db)
            .await?;
        if let Some(orphan) = orphan {
            return Ok(Err(Tamper::Orphan {
                sequence: orphan.sequence.max(0) as u64,
                entry: orphan.entry_id,
            }));
        }
        report.entries_unsealed = Entity::find()
            .filter(Expr::cust(UNSEALED))
            .count(&self.store.db)
            .await?;
        let Some((_, newest_sealed_at)) = self.previous else {
            return Ok(Ok(()));
        };
        let backend = self.store.db.get_database_backend();
        let old = crate::filter::time_value(backend, newest_sealed_at - self.options.bound());
        let forged = Entity::find()
            .select_only()
            .column(Column::Id)
            .filter(Expr::cust(UNSEALED))
            .filter(Column::OccurredAt.lt(old))
            .into_tuple::<Uuid>()
            .one(&self.store.db)
            .await?;
        Ok(match forged {
            Some(entry) => Err(Tamper::Unsealed { entry }),
            None => Ok(()),
        })
    }
}
