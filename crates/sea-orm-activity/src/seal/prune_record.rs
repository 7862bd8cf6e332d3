//! Retention's record of the sealed entries it deletes: an
//! [`activity.retention.sealed_pruned`](SEALED_PRUNE_ACTION) entry per chain,
//! written in the transaction that deletes them and sealed like any entry,
//! so verification can tell pruned entries from deleted ones.

use chrono::{DateTime, SecondsFormat, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect};
use tower_activity::{Action, ActivityEvent, Actor};
use uuid::Uuid;

use super::tables::seal_entry;
use crate::transactional::log_activity_in;

/// The action of the entry that records how many sealed entries of a chain
/// retention deleted, from which seals, up to which time. It is written only
/// when sealed entries were deleted.
pub const SEALED_PRUNE_ACTION: &str = "activity.retention.sealed_pruned";

/// Records the sealed entries among `ids`, about to be deleted in the
/// transaction `txn` (the newest of them from `up_to`): one record per chain,
/// and their places lose their salt (their plaintext is going).
pub(crate) async fn record_sealed_prune<C: ConnectionTrait>(
    txn: &C,
    ids: &[Uuid],
    up_to: DateTime<Utc>,
) -> Result<(), DbErr> {
    let sealed: Vec<(String, i64, i64, i64)> = seal_entry::Entity::find()
        .select_only()
        .column(seal_entry::Column::Chain)
        .column_as(seal_entry::Column::Sequence.min(), "first_seal")
        .column_as(seal_entry::Column::Sequence.max(), "last_seal")
        .column_as(seal_entry::Column::EntryId.count(), "entries")
        .filter(seal_entry::Column::EntryId.is_in(ids.iter().copied()))
        .group_by(seal_entry::Column::Chain)
        .into_tuple()
        .all(txn)
        .await?;
    if sealed.is_empty() {
        return Ok(());
    }
    seal_entry::Entity::update_many()
        .col_expr(seal_entry::Column::Salt, Expr::value(Option::<Vec<u8>>::None))
        .col_expr(seal_entry::Column::ColumnDigests, Expr::value(Vec::<u8>::new()))
        .filter(seal_entry::Column::EntryId.is_in(ids.iter().copied()))
        .exec(txn)
        .await?;
    for (chain, first_seal, last_seal, entries) in sealed {
        let event = ActivityEvent::builder(
            Action::custom(SEALED_PRUNE_ACTION).expect("SEALED_PRUNE_ACTION is a valid action name"),
        )
        .actor(Actor::system("activity-retention"))
        .detail("chain", chain)
        .detail("entries", entries)
        .detail("first_seal", first_seal)
        .detail("last_seal", last_seal)
        .detail("up_to", up_to.to_rfc3339_opts(SecondsFormat::Micros, true))
        .build()
        .expect("the action is valid");
        log_activity_in(txn, event).await?;
    }
    Ok(())
}

/// The prune records of one chain, as verification reads them.
#[cfg(feature = "seal")]
#[derive(Debug, Default)]
pub(crate) struct PruneRecords {
    /// The seal ranges the records name, and the entries each accounts for.
    ranges: Vec<(i64, i64, u64)>,
    /// The entries they account for in all.
    pub(crate) entries: u64,
}

#[cfg(feature = "seal")]
impl PruneRecords {
    /// The records of `chain`. A record whose details do not read is left
    /// out: the entries it would account for count as deleted.
    pub(crate) async fn load<C: ConnectionTrait>(db: &C, chain: &str) -> Result<PruneRecords, DbErr> {
        use crate::entity::{Column, Entity};
        let details: Vec<Option<serde_json::Value>> = Entity::find()
            .select_only()
            .column(Column::Details)
            .filter(Column::Action.eq(SEALED_PRUNE_ACTION))
            .into_tuple()
            .all(db)
            .await?;
        let mut records = PruneRecords::default();
        for details in details.into_iter().flatten() {
            let number = |key: &str| details.get(key).and_then(serde_json::Value::as_i64);
            if details.get("chain").and_then(serde_json::Value::as_str) != Some(chain) {
                continue;
            }
            if let (Some(first), Some(last), Some(entries)) =
                (number("first_seal"), number("last_seal"), number("entries"))
            {
                let entries = entries.max(0) as u64;
                records.ranges.push((first, last, entries));
                records.entries += entries;
            }
        }
        Ok(records)
    }

    /// Whether a record names the seal `sequence`.
    pub(crate) fn cover(&self, sequence: i64) -> bool {
        self.ranges
            .iter()
            .any(|(first, last, _)| (*first..=*last).contains(&sequence))
    }

    /// The entries accounted for by the records that name the seal
    /// `sequence` or a later one.
    pub(crate) fn entries_from(&self, sequence: i64) -> u64 {
        self.ranges
            .iter()
            .filter(|(_, last, _)| *last >= sequence)
            .map(|(_, _, entries)| entries)
            .sum()
    }
}
