//! The [`Sealer`]: a background task that covers the entries not yet
//! sealed with the next seal of the chain.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::Utc;
use sea_orm::DbErr;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;
use tower_activity::seal::SealSigningKey;

use super::pending::Start;
use super::round::Round;
use super::sweep::Sweep;
use crate::store::SeaOrmStore;

/// The chain a [`Sealer`] seals on unless told otherwise.
pub const DEFAULT_CHAIN: &str = "main";

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
/// Each interval the sealer makes a pass: rounds of up to
/// [`batch_size`](Self::batch_size) entries, each reading on from where the
/// previous one stopped, until one finds fewer. A pass reads from a couple of
/// seconds before the previous pass started, which takes in the entries
/// committed in another order than their ids (the recorder writes several
/// batches at once) without reading again what is sealed; once a minute it
/// reads the last [`lookback`](Self::lookback), and at the first pass and
/// once an hour the whole table. A round holds its transaction while it
/// reads, hashes and writes: on PostgreSQL it takes a lock that
/// [`anonymize`](SeaOrmStore::anonymize) and [`prune`](SeaOrmStore::prune)
/// take shared for each chunk they rewrite, so a round never seals values a
/// rewrite is replacing, nor entries a prune is deleting; on MySQL / MariaDB
/// it reads its entries `FOR UPDATE`.
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
    pub(super) store: SeaOrmStore,
    pub(super) chain: String,
    interval: Duration,
    pub(super) batch_size: usize,
    lookback: Duration,
    pub(super) key: Option<SealSigningKey>,
    sweep: Mutex<Sweep>,
}

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
            sweep: Mutex::new(Sweep::default()),
        }
    }

    /// Seals on the chain `chain` (at most 64 characters).
    pub fn chain(mut self, chain: impl Into<String>) -> Self {
        self.chain = chain.into();
        self
    }

    /// Sets the time between two passes: the bound on how long an entry
    /// stays unsealed while the sealer runs and keeps up (at least a
    /// millisecond), unless its transaction commits more than a couple of
    /// seconds after its id was made: then it waits for the next read of the
    /// [`lookback`](Self::lookback), within a minute.
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval.max(Duration::from_millis(1));
        self
    }

    /// Sets the most entries one seal covers (at least one).
    pub fn batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size.max(1);
        self
    }

    /// Sets how far back, by the time in their ids, the sealer looks for
    /// entries not yet sealed once a minute, at every
    /// [`seal_pending`](Self::seal_pending) and at the last pass before it
    /// stops (ten minutes by default); the whole table is read at the first
    /// pass and once an hour. An entry whose transaction commits later than
    /// this after its id was made waits for the next whole read.
    pub fn lookback(mut self, lookback: Duration) -> Self {
        self.lookback = lookback;
        self
    }

    /// Signs every seal with `key`; verifiers pin its public key.
    pub fn signing_key(mut self, key: SealSigningKey) -> Self {
        self.key = Some(key);
        self
    }

    /// Seals until no entry is left unsealed, reading at least the last
    /// [`lookback`](Self::lookback); returns how many entries were sealed.
    pub async fn seal_pending(&self) -> Result<u64, SealError> {
        self.pass(true).await
    }

    /// Writes one seal over up to [`batch_size`](Self::batch_size) entries not
    /// yet sealed; returns how many it covered, or `None` when there were
    /// none or another sealer held the chain.
    pub async fn seal_next(&self) -> Result<Option<u64>, SealError> {
        let pass = self.sweep().plan(Instant::now(), Utc::now(), self.lookback, true);
        let (read_all, sealed) = match self.round(pass.start).await? {
            Round::Sealed(sealed) => (sealed.count < self.batch_size as u64, Some(sealed.count)),
            Round::Empty => (true, None),
            Round::Busy => (false, None),
        };
        if read_all {
            self.sweep().done(&pass);
        }
        Ok(sealed)
    }

    /// Seals the entries not yet sealed from where the sweep says, a batch a
    /// round, each round reading on from where the previous one stopped;
    /// `look_back` reads at least the last [`lookback`](Self::lookback).
    async fn pass(&self, look_back: bool) -> Result<u64, SealError> {
        let pass = self
            .sweep()
            .plan(Instant::now(), Utc::now(), self.lookback, look_back);
        let mut start = pass.start;
        let mut sealed = 0;
        loop {
            match self.round(start).await? {
                Round::Sealed(round) if round.count == self.batch_size as u64 => {
                    sealed += round.count;
                    start = Start::After(round.last);
                }
                Round::Sealed(round) => {
                    sealed += round.count;
                    break;
                }
                Round::Empty => break,
                // Another sealer holds the chain: the next pass starts where
                // this one did, as after a failure.
                Round::Busy => return Ok(sealed),
            }
        }
        self.sweep().done(&pass);
        Ok(sealed)
    }

    fn sweep(&self) -> MutexGuard<'_, Sweep> {
        self.sweep.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Starts sealing in the background: a pass at once, then one every
    /// [`interval`](Self::interval), each sealing all that is pending. A pass
    /// that fails (the database is down) is logged and tried again at the
    /// next interval from where it started; nothing of its failed round is
    /// kept.
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
            // The last pass, as a stopping sealer's, reads the whole lookback.
            match self.pass(stopping).await {
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
    /// Stops the sealer after a last pass, which seals what was committed
    /// until now (reading the whole [`lookback`](Sealer::lookback)), and
    /// waits for it.
    pub async fn shutdown(self) {
        self.stop.send_replace(true);
        if let Err(error) = self.task.await {
            tracing::error!(%error, "activity sealer task failed");
        }
    }
}
