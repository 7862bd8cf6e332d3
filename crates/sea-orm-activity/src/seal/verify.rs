//! [`SeaOrmStore::verify`]: every seal and every entry in the scope
//! recomputed from the stored rows, trusting only the public key and the
//! checkpoint it is given.
//!
//! Two halves run side by side: one reads the seals and, for those in the
//! scope, their places and their entries' rows, a page at a time; the other
//! checks what was read, in order, hashing each page on a blocking thread. A
//! bounded channel between them keeps at most a few pages in memory.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};
use tokio::sync::mpsc;
use tower_activity::seal::{ChainCheck, Checkpoint, SealSignature};
use uuid::Uuid;

use super::prune_record::PruneRecords;
use super::stored::stored_seal;
use super::tables::{seal_entry, seal_row};
use super::verify_entries::{EntriesCheck, EntryScope};
use super::verify_options::VerifyOptions;
use super::verify_read::{Read, read};
use super::verify_report::{Tamper, VerifyReport};
use crate::entity::{Column, Entity};
use crate::store::SeaOrmStore;

/// What the reading half may hold ready for the checking half: seals and
/// pages of places.
const READ_AHEAD: usize = 3;

/// The condition: the entry has no place in any seal.
const UNSEALED: &str =
    "NOT EXISTS (SELECT 1 FROM activity_seal_entry WHERE activity_seal_entry.entry_id = activity_log.id)";

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
    /// [`VerifyOptions::tenant`] and [`VerifyOptions::since`] narrow what is
    /// recomputed (the links and signatures of every seal are still
    /// checked); the report says what was and was not
    /// ([`VerifyReport::scope`]).
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
            scope: options.scope.clone(),
            signatures_checked: options.public_key.is_some(),
            ..VerifyReport::default()
        };
        let mut walk = Walk {
            store: self,
            options,
            chain: ChainCheck::new(options.chain.as_str()),
            previous: None,
            first_recomputed: None,
            pruned: PruneRecords::load(&self.db, &options.chain).await?,
            scope: EntryScope::new(options.scope.tenant.clone(), self.db.get_database_backend())?,
        };
        let (sender, receiver) = mpsc::channel(READ_AHEAD);
        let (read, checked) = tokio::join!(
            read(self, options, sender),
            walk.check(receiver, &mut report, &mut progress)
        );
        read?;
        if let Err(tamper) = checked? {
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
pub(super) type Checked<T = ()> = Result<Result<T, Tamper>, DbErr>;

/// The checking half, and what it keeps from seal to seal.
struct Walk<'a> {
    store: &'a SeaOrmStore,
    options: &'a VerifyOptions,
    chain: ChainCheck,
    /// The last entry and the time of the seal before.
    previous: Option<(Uuid, DateTime<Utc>)>,
    /// The first seal whose entries were read.
    first_recomputed: Option<i64>,
    /// Retention's records of the sealed entries it deleted.
    pruned: PruneRecords,
    scope: Arc<EntryScope>,
}

impl Walk<'_> {
    /// Checks what the reading half sends, in order, until it is done or a
    /// link is broken.
    async fn check(
        &mut self,
        mut receiver: mpsc::Receiver<Result<Read, DbErr>>,
        report: &mut VerifyReport,
        progress: &mut (impl FnMut(&VerifyReport) + Send),
    ) -> Checked {
        let mut current: Option<(seal_row::Model, EntriesCheck)> = None;
        while let Some(read) = receiver.recv().await {
            match read? {
                Read::Seal(row, in_scope) => {
                    if let Err(tamper) = self.header(&row)? {
                        return Ok(Err(tamper));
                    }
                    if in_scope {
                        let check = EntriesCheck::new(
                            self.scope.clone(),
                            stored_seal(&row)?.sequence,
                            self.pruned.cover(row.sequence),
                            self.late_before(),
                        );
                        self.first_recomputed.get_or_insert(row.sequence);
                        current = Some((row, check));
                    } else {
                        report.entries_unread += u64::try_from(row.count).unwrap_or(0);
                        self.seal_done(&row, report, progress)?;
                    }
                }
                Read::Places(rows) => {
                    let (row, mut check) = current.take().ok_or_else(out_of_order)?;
                    // Hashing a page takes milliseconds: off the runtime,
                    // while the next page is read.
                    let (check, checked) = tokio::task::spawn_blocking(move || {
                        let checked = check.page(&rows);
                        (check, checked)
                    })
                    .await
                    .map_err(|error| DbErr::Custom(format!("the verification of a page failed: {error}")))?;
                    if let Err(tamper) = checked? {
                        return Ok(Err(tamper));
                    }
                    current = Some((row, check));
                }
                Read::SealEnd => {
                    let (row, check) = current.take().ok_or_else(out_of_order)?;
                    let counts = match check.finish(&stored_seal(&row)?) {
                        Ok(counts) => counts,
                        Err(tamper) => return Ok(Err(tamper)),
                    };
                    report.entries_verified += counts.verified;
                    report.entries_erased += counts.erased;
                    report.entries_pruned += counts.pruned;
                    report.entries_out_of_scope += counts.out_of_scope;
                    report.seals_recomputed += 1;
                    self.seal_done(&row, report, progress)?;
                }
            }
        }
        Ok(Ok(()))
    }

    /// The seal's own checks: its link, the checkpoint, its signature.
    fn header(&mut self, row: &seal_row::Model) -> Checked {
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
        Ok(Ok(()))
    }

    /// The last entry of the seal before, and the time before which an
    /// entry sealed after it was added afterwards.
    fn late_before(&self) -> Option<(Uuid, DateTime<Utc>)> {
        self.previous
            .map(|(last_id, time)| (last_id, time - self.options.bound()))
    }

    fn seal_done(
        &mut self,
        row: &seal_row::Model,
        report: &mut VerifyReport,
        progress: &mut (impl FnMut(&VerifyReport) + Send),
    ) -> Result<(), DbErr> {
        self.previous = Some((row.last_entry, row.sealed_at));
        report.seals_verified += 1;
        report.newest = Some(checkpoint_of(row)?);
        progress(report);
        Ok(())
    }

    /// The checks once every seal passed: the checkpoint is reached, the
    /// retention records account for the entries gone, no entry names a
    /// missing seal, no old entry (in the scope) is unsealed.
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
        // Entries of other tenants are gone alike: the count is the whole
        // chain's. Over part of the chain, the records naming its seals may
        // also count entries of seals before it: they bound what is gone.
        if self.options.scope.tenant.is_none() {
            let (recorded, accounted) = match (self.options.scope.since, self.first_recomputed) {
                (None, _) => (self.pruned.entries, report.entries_pruned == self.pruned.entries),
                (Some(_), Some(first)) => {
                    let recorded = self.pruned.entries_from(first);
                    (recorded, report.entries_pruned <= recorded)
                }
                (Some(_), None) => (0, true),
            };
            if !accounted {
                return Ok(Err(Tamper::Pruned {
                    recorded,
                    missing: report.entries_pruned,
                }));
            }
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
        let unsealed = || {
            let mut unsealed = Entity::find().filter(Expr::cust(UNSEALED));
            if let Some(tenant) = &self.options.scope.tenant {
                unsealed = unsealed.filter(Column::TenantId.eq(tenant.as_str()));
            }
            unsealed
        };
        report.entries_unsealed = unsealed().count(&self.store.db).await?;
        let Some((_, newest_sealed_at)) = self.previous else {
            return Ok(Ok(()));
        };
        let backend = self.store.db.get_database_backend();
        let old = crate::filter::time_value(backend, newest_sealed_at - self.options.bound());
        let forged = unsealed()
            .select_only()
            .column(Column::Id)
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

fn out_of_order() -> DbErr {
    DbErr::Custom("verification read places before their seal".to_owned())
}
