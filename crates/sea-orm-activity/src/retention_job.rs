//! The periodic retention job and its handle.

use std::time::Duration;

use chrono::Utc;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use crate::retention::RetentionPolicy;
use crate::store::SeaOrmStore;

/// Prunes the log under a [`RetentionPolicy`] at a fixed interval, in the
/// background; made by [`RetentionJob::new`], started by
/// [`spawn`](RetentionJob::spawn).
///
/// Each run is a [`SeaOrmStore::prune`] as of the time it starts, and records
/// an [`activity.retention.pruned`](crate::PRUNED_ACTION) event. A run that
/// fails is logged (`tracing`) and tried again at the next interval.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use sea_orm_activity::{ActivityMigrator, RetentionJob, RetentionPolicy, SeaOrmStore};
/// use sea_orm_migration::MigratorTrait;
///
/// let db = sea_orm::Database::connect("sqlite::memory:").await?;
/// ActivityMigrator::up(&db, None).await?;
/// let policy = RetentionPolicy::new(Duration::from_secs(90 * 86_400));
///
/// let job = RetentionJob::new(SeaOrmStore::new(db), policy)
///     .interval(Duration::from_secs(3_600))
///     .spawn();
/// // ... serve ...
/// job.shutdown().await;
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[must_use = "a retention job does nothing until `spawn` is called"]
pub struct RetentionJob {
    store: SeaOrmStore,
    policy: RetentionPolicy,
    interval: Duration,
}

impl RetentionJob {
    /// A job pruning `store` under `policy`, every hour by default.
    pub fn new(store: SeaOrmStore, policy: RetentionPolicy) -> Self {
        RetentionJob {
            store,
            policy,
            interval: Duration::from_secs(3_600),
        }
    }

    /// Sets the time between the starts of two runs (at least a millisecond).
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval.max(Duration::from_millis(1));
        self
    }

    /// Starts the job: a first run at once, then one every interval.
    ///
    /// # Panics
    ///
    /// When called outside a Tokio runtime, as `tokio::spawn` does.
    pub fn spawn(self) -> RetentionJobHandle {
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(self.run(stopped));
        RetentionJobHandle { stop, task }
    }

    async fn run(self, mut stopped: watch::Receiver<bool>) {
        let mut ticks = tokio::time::interval(self.interval);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                // A send, or the handle dropped: either way, stop.
                _ = stopped.changed() => break,
                _ = ticks.tick() => {}
            }
            // Stop between chunks on a send, or once the handle is dropped.
            let stop = || *stopped.borrow() || stopped.has_changed().is_err();
            match self
                .store
                .prune_until(&self.policy, Utc::now(), |_| {}, stop)
                .await
            {
                Ok(report) => tracing::debug!(pruned = report.pruned, "activity retention run finished"),
                Err(error) => tracing::warn!(
                    error = &error as &dyn std::error::Error,
                    "activity retention run failed; retrying at the next interval"
                ),
            }
            if *stopped.borrow() {
                break;
            }
        }
    }
}

/// Controls a running [`RetentionJob`]. Dropping it stops the job too, after
/// the chunk in progress.
#[derive(Debug)]
#[must_use = "dropping the handle stops the retention job"]
pub struct RetentionJobHandle {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl RetentionJobHandle {
    /// Stops the job and waits for it to end. A run in progress stops after
    /// its current chunk (each chunk is its own transaction, so nothing is
    /// left half done) and still records what it pruned.
    pub async fn shutdown(self) {
        self.stop.send_replace(true);
        if let Err(error) = self.task.await {
            tracing::error!(%error, "activity retention task failed");
        }
    }
}
