//! The [`Sealer`]: a background task that covers the entries not yet
//! sealed with the next seal of the chain.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{SubsecRound, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, SqlErr, Statement, TransactionTrait,
};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;
use tower_activity::seal::{Hash, MerkleRoot, Seal, SealSigningKey, leaf_hash, new_salt};
use uuid::Uuid;

use super::id_floor::lowest_id_at;
use super::stored::{SealedLeaf, stored_seal};
use super::tables::{seal_entry, seal_row};
use crate::anonymize::row_locking;
use crate::entity::{Column, Entity, Model};
use crate::store::SeaOrmStore;

/// The chain a [`Sealer`] seals on unless told otherwise.
pub const DEFAULT_CHAIN: &str = "main";

/// Rows of `activity_seal_entry` per insert statement.
const INSERT_ROWS: usize = 500;

/// Why a sealing round failed. Nothing of the round is kept: the next one
/// seals the same entries.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    /// The database failed.
    #[error("reading entries or writing a seal failed")]
    Database(#[from] DbErr),
    /// The operating system gave no random salt.
    #[error("the operating system's random generator failed")]
    NoRandomness,
}

/// Seals the log: reads the entries not yet sealed, oldest id first, and in
/// one transaction writes the next seal of its chain (the Merkle root of
/// their leaves, the previous seal's hash, the count and the id range,
/// signed when it has a key) and each entry's place and salted commitment.
///
/// It covers every writing path (the recorder's batches, [`log_activity_in`](crate::log_activity_in)
/// inside a caller's transaction, the crate's own `activity.*` events)
/// without touching any: an entry is sealed once it is committed, by the
/// first round after. An entry committed late with an older id (a long
/// transaction) is simply sealed by a later seal.
///
/// **One sealer per chain at a time.** Any number of application instances
/// may run one: each round takes a lock first (a PostgreSQL transaction-level
/// advisory lock; on MySQL / MariaDB the row lock of the chain's newest seal;
/// on SQLite the database's write lock), and a round that finds the lock
/// taken does nothing. Should two rounds still race, the keys of the tables
/// (a seal's chain and sequence, an entry's id) fail the second, which
/// leaves nothing: no entry is ever sealed twice and no chain forks. One
/// chain per database keeps verification one walk; instances do not contend
/// for its head on the request path, since only the sealer writes it.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use sea_orm_activity::{log_activity_in, ActivityMigrator, SeaOrmStore, Sealer, VerifyOptions};
/// use sea_orm_migration::MigratorTrait;
/// use tower_activity::seal::SealSigningKey;
/// use tower_activity::{Action, ActivityEvent};
///
/// let db = sea_orm::Database::connect("sqlite::memory:").await?;
/// ActivityMigrator::up(&db, None).await?;
/// let store = SeaOrmStore::new(db.clone());
/// log_activity_in(&db, ActivityEvent::builder(Action::Create).resource("note", 1).build()?).await?;
///
/// let key = SealSigningKey::from_bytes(&[7; 32]); // load it from your secret store
/// let sealer = Sealer::new(store.clone()).signing_key(key.clone());
/// assert_eq!(sealer.seal_pending().await?, 1);
///
/// let report = store.verify(&VerifyOptions::new().public_key(key.public_key())).await?;
/// assert!(report.is_intact(), "{report}");
/// assert_eq!(report.entries_verified, 1);
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[must_use = "a sealer does nothing until it is run or spawned"]
pub struct Sealer {
    store: SeaOrmStore,
    chain: String,
    interval: Duration,
    batch_size: usize,
    lookback: Duration,
    key: Option<SealSigningKey>,
    sweep: Mutex<Sweep>,
}

/// Where a round starts reading: from the first entry at the first round and
/// once per [`FULL_SWEEP`], otherwise from the ids made in the last
/// [`lookback`](Sealer::lookback).
#[derive(Debug)]
struct Sweep {
    full_at: Option<Instant>,
}

/// How often a round reads the whole table for entries not yet sealed.
const FULL_SWEEP: Duration = Duration::from_secs(3_600);

impl Sealer {
    /// A sealer of `store`'s log on the chain [`DEFAULT_CHAIN`]: every two
    /// seconds, at most 10,000 entries a seal, unsigned until
    /// [`signing_key`](Self::signing_key) gives it a key.
    pub fn new(store: SeaOrmStore) -> Self {
        Sealer {
            store,
            chain: DEFAULT_CHAIN.to_owned(),
            interval: Duration::from_secs(2),
            batch_size: 10_000,
            lookback: Duration::from_secs(600),
            key: None,
            sweep: Mutex::new(Sweep { full_at: None }),
        }
    }

    /// Seals on the chain `chain` (at most 64 characters).
    pub fn chain(mut self, chain: impl Into<String>) -> Self {
        self.chain = chain.into();
        self
    }

    /// Sets the time between two rounds: the bound on how long an entry
    /// stays unsealed while the sealer runs (at least a millisecond).
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval.max(Duration::from_millis(1));
        self
    }

    /// Sets the most entries one seal covers (at least one).
    pub fn batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size.max(1);
        self
    }

    /// Sets how far back, by the time in their ids, a round looks for entries
    /// not yet sealed (ten minutes by default); the whole table is read at the
    /// first round and once an hour. An entry whose transaction commits
    /// later than this after its id was made waits for the next whole read.
    pub fn lookback(mut self, lookback: Duration) -> Self {
        self.lookback = lookback;
        self
    }

    /// Signs every seal with `key`; verifiers pin its public key.
    pub fn signing_key(mut self, key: SealSigningKey) -> Self {
        self.key = Some(key);
        self
    }

    /// Seals until no entry is left unsealed; returns how many entries were
    /// sealed.
    pub async fn seal_pending(&self) -> Result<u64, SealError> {
        let mut sealed = 0;
        while let Some(count) = self.seal_next().await? {
            sealed += count;
            if count < self.batch_size as u64 {
                break;
            }
        }
        Ok(sealed)
    }

    /// Writes one seal over up to [`batch_size`](Self::batch_size) entries not
    /// yet sealed; returns how many it covered, or `None` when there were
    /// none or another sealer held the chain.
    pub async fn seal_next(&self) -> Result<Option<u64>, SealError> {
        let floor = self.floor();
        let db = &self.store.db;
        let backend = db.get_database_backend();
        let txn = db.begin_with_options(row_locking(backend)).await?;
        match self.seal_in(&txn, floor).await {
            Ok(Some(count)) => match txn.commit().await {
                Ok(()) => Ok(Some(count)),
                Err(error) if lost_race(&error) => Ok(None),
                Err(error) => Err(error.into()),
            },
            Ok(None) => {
                txn.rollback().await?;
                Ok(None)
            }
            Err(SealError::Database(error)) if lost_race(&error) => {
                // Another sealer wrote the same seal first: the rollback on
                // drop leaves nothing of this round.
                Ok(None)
            }
            Err(error) => Err(error),
        }
    }

    /// The lowest id a round reads from, or `None` for the whole table.
    fn floor(&self) -> Option<Uuid> {
        let mut sweep = self.sweep.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = Instant::now();
        match sweep.full_at {
            Some(at) if now.duration_since(at) < FULL_SWEEP => {
                let since = Utc::now() - chrono::TimeDelta::from_std(self.lookback).ok()?;
                Some(lowest_id_at(since.timestamp_millis()))
            }
            _ => {
                sweep.full_at = Some(now);
                None
            }
        }
    }

    async fn seal_in(
        &self,
        txn: &DatabaseTransaction,
        floor: Option<Uuid>,
    ) -> Result<Option<u64>, SealError> {
        let backend = txn.get_database_backend();
        if backend == DbBackend::Postgres && !advisory_lock(txn, &self.chain).await? {
            return Ok(None);
        }
        let mut head = seal_row::Entity::find()
            .filter(seal_row::Column::Chain.eq(self.chain.as_str()))
            .order_by_desc(seal_row::Column::Sequence);
        if backend == DbBackend::MySql {
            head = head.lock_exclusive();
        }
        let head = head.one(txn).await?;
        let mut pending = Entity::find().filter(Expr::cust(
            "NOT EXISTS (SELECT 1 FROM activity_seal_entry WHERE activity_seal_entry.entry_id = activity_log.id)",
        ));
        if let Some(floor) = floor {
            pending = pending.filter(Column::Id.gte(floor));
        }
        let rows = pending
            .order_by_asc(Column::Id)
            .limit(self.batch_size as u64)
            .lock_exclusive()
            .all(txn)
            .await?;
        let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
            return Ok(None);
        };
        let (sequence, previous) = match &head {
            Some(head) => (head.sequence + 1, stored_seal(head)?.hash()),
            None => (1, [0; 32]),
        };
        let mut root = MerkleRoot::new();
        let mut entries = Vec::with_capacity(rows.len());
        for (position, row) in rows.iter().enumerate() {
            let (entry, leaf) = self.entry(row, sequence, position as i64)?;
            root.push(leaf);
            entries.push(entry);
        }
        let seal = Seal {
            chain: self.chain.clone(),
            sequence: sequence as u64,
            previous,
            root: root.root(),
            count: rows.len() as u64,
            first_entry: first.id,
            last_entry: last.id,
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
        while !entries.is_empty() {
            let rest = entries.split_off(entries.len().min(INSERT_ROWS));
            seal_entry::Entity::insert_many(entries)
                .exec_without_returning(txn)
                .await?;
            entries = rest;
        }
        Ok(Some(seal.count))
    }

    /// The stored place and commitment of `row`.
    fn entry(
        &self,
        row: &Model,
        sequence: i64,
        position: i64,
    ) -> Result<(seal_entry::ActiveModel, Hash), SealError> {
        let salt = new_salt().ok_or(SealError::NoRandomness)?;
        let sealed = SealedLeaf::new(row, &salt)?;
        let entry = seal_entry::ActiveModel {
            entry_id: Set(row.id),
            chain: Set(self.chain.clone()),
            sequence: Set(sequence),
            position: Set(position),
            salt: Set(Some(salt.to_vec())),
            commitment: Set(sealed.commitment.to_vec()),
            leaf: Set(sealed.leaf.to_vec()),
            column_digests: Set(sealed.column_digests),
        };
        Ok((entry, sealed.leaf))
    }

    /// Starts sealing in the background: a round at once, then one every
    /// [`interval`](Self::interval), each sealing all that is pending. A round
    /// that fails (the database is down) is logged and tried again at the
    /// next interval; nothing of it is kept.
    ///
    /// # Panics
    ///
    /// When called outside a Tokio runtime, as `tokio::spawn` does.
    pub fn spawn(self) -> SealerHandle {
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(self.run(stopped));
        SealerHandle { stop, task }
    }

    async fn run(self, mut stopped: watch::Receiver<bool>) {
        let mut ticks = tokio::time::interval(self.interval);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            let stopping = tokio::select! {
                biased;
                _ = stopped.changed() => true,
                _ = ticks.tick() => false,
            };
            match self.seal_pending().await {
                Ok(count) if count > 0 => tracing::debug!(count, chain = %self.chain, "entries sealed"),
                Ok(_) => {}
                Err(error) => tracing::warn!(
                    error = &error as &dyn std::error::Error,
                    "sealing the activity log failed; retrying at the next interval"
                ),
            }
            if stopping {
                break;
            }
        }
    }
}

/// Controls a running [`Sealer`]. Dropping it stops the sealer too.
#[derive(Debug)]
#[must_use = "dropping the handle stops the sealer"]
pub struct SealerHandle {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl SealerHandle {
    /// Stops the sealer after a last round, which seals what was committed
    /// until now, and waits for it.
    pub async fn shutdown(self) {
        self.stop.send_replace(true);
        if let Err(error) = self.task.await {
            tracing::error!(%error, "activity sealer task failed");
        }
    }
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
