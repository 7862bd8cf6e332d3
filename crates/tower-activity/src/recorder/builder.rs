//! Configuring and starting a [`Recorder`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use tokio::sync::{Notify, mpsc, watch};

use super::spooling::SpoolLink;
use super::writer::Writer;
use super::{ActivitySink, Counts, Recorder, Shared, Tee};
use crate::alert::Alerts;
use crate::catalogue::Catalogue;
use crate::event::EventPolicy;
#[cfg(feature = "spool")]
use crate::spool::Spool;

/// How long a batch fails, by default, before a recorder with a spool
/// spools it: 5 s.
pub const DEFAULT_SPOOL_AFTER: Duration = Duration::from_secs(5);

/// Configures and starts a [`Recorder`]; made by [`Recorder::builder`].
#[derive(Debug)]
#[must_use = "a recorder builder does nothing until `spawn` is called"]
pub struct RecorderBuilder<S> {
    sink: S,
    capacity: usize,
    policy: EventPolicy,
    catalogue: Option<Catalogue>,
    shutdown_timeout: Duration,
    writer: WriterConfig,
    alerts: Option<Alerts>,
    /// The spool, and the high-water mark set for it (a share of the queue
    /// by default).
    #[cfg(feature = "spool")]
    spool: Option<Spool>,
    high_water: Option<usize>,
}

#[derive(Clone, Copy, Debug)]
pub(super) struct WriterConfig {
    pub(super) batch_size: usize,
    pub(super) concurrency: usize,
    pub(super) flush_interval: Duration,
    pub(super) retry_min: Duration,
    pub(super) retry_max: Duration,
    pub(super) write_timeout: Duration,
    /// With a spool: how long a batch may fail before it is spooled. `None`
    /// without a spool, and when the spool refused the batch.
    pub(super) spool_after: Option<Duration>,
    /// With a spool: the queue length past which batches are spooled.
    pub(super) high_water: usize,
}

impl Recorder {
    /// Starts configuring a recorder that writes to `sink`.
    ///
    /// Defaults: a queue of 50,000 events (enough to ride out a database
    /// stall of half a second at 100,000 events/s), batches of up to 500
    /// events or 100 ms, retries from 100 ms doubling to 10 s, a 30 s timeout per batch
    /// write and a 30 s shutdown timeout.
    pub fn builder<S: ActivitySink>(sink: S) -> RecorderBuilder<S> {
        RecorderBuilder {
            sink,
            capacity: 50_000,
            policy: EventPolicy::default(),
            catalogue: None,
            shutdown_timeout: Duration::from_secs(30),
            writer: WriterConfig {
                batch_size: 500,
                concurrency: 0,
                flush_interval: Duration::from_millis(100),
                retry_min: Duration::from_millis(100),
                retry_max: Duration::from_secs(10),
                write_timeout: Duration::from_secs(30),
                spool_after: Some(DEFAULT_SPOOL_AFTER),
                high_water: usize::MAX,
            },
            alerts: None,
            #[cfg(feature = "spool")]
            spool: None,
            high_water: None,
        }
    }
}

impl<S: ActivitySink> RecorderBuilder<S> {
    /// How many events the queue holds before new ones are dropped.
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity.max(1);
        self
    }

    /// The most events written in one batch.
    pub fn batch_size(mut self, batch_size: usize) -> Self {
        self.writer.batch_size = batch_size.max(1);
        self
    }

    /// How many batches may be written at once; by default what the sink
    /// asks for ([`ActivitySink::max_concurrent_writes`]). Batches written
    /// at once may reach the sink in any order.
    pub fn concurrent_writes(mut self, writes: usize) -> Self {
        self.writer.concurrency = writes.max(1);
        self
    }

    /// How long the writer waits for a batch to fill after its first event.
    pub fn flush_interval(mut self, interval: Duration) -> Self {
        self.writer.flush_interval = interval;
        self
    }

    /// The first and the longest wait between retries of a failed batch; the
    /// wait doubles after each failure.
    pub fn retry_backoff(mut self, first: Duration, max: Duration) -> Self {
        self.writer.retry_min = first;
        self.writer.retry_max = max.max(first);
        self
    }

    /// How long one batch write may take before it counts as failed and is
    /// retried.
    pub fn write_timeout(mut self, timeout: Duration) -> Self {
        self.writer.write_timeout = timeout;
        self
    }

    /// How long [`Recorder::shutdown`] keeps retrying a failing sink.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// The policy applied to every event before it is queued.
    pub fn policy(mut self, policy: EventPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Checks every event against `catalogue` before it is queued, and
    /// stores it with its entry's category: strict catalogues refuse events
    /// that break them, lenient ones mark them (see [`Catalogue`]). Without
    /// a catalogue events are not checked and have no category unless they
    /// set one.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use tower_activity::{ActivityEvent, Catalogue, CatalogueEntry, LogError, MemorySink, Recorder};
    ///
    /// let catalogue = Catalogue::new()
    ///     .action(CatalogueEntry::new("billing.invoice.sent", "An invoice was sent"))?
    ///     .strict();
    /// let recorder = Recorder::builder(MemorySink::new()).catalogue(catalogue).spawn();
    ///
    /// let unknown = ActivityEvent::builder("billing.refund").build()?;
    /// let Err(LogError::Catalogue(violation)) = recorder.record(unknown) else { panic!() };
    /// assert_eq!(violation.action(), "billing.refund");
    /// assert_eq!(recorder.stats().catalogue_refused, 1);
    /// # recorder.shutdown().await;
    /// # Ok(()) }
    /// ```
    pub fn catalogue(mut self, catalogue: Catalogue) -> Self {
        self.catalogue = Some(catalogue);
        self
    }

    /// Also writes every batch to `secondary`, once this builder's sink has
    /// written it: a [`TracingSink`](crate::TracingSink) next to the
    /// database, say. The secondary never holds back the primary; see
    /// [`Tee`] for what happens when it fails.
    ///
    /// ```
    /// use tower_activity::{MemorySink, Recorder, TracingSink};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let database = MemorySink::new();
    /// let recorder = Recorder::builder(database).tee(TracingSink).spawn();
    /// # recorder.shutdown().await;
    /// # }
    /// ```
    pub fn tee<T: ActivitySink>(self, secondary: T) -> RecorderBuilder<Tee<S, T>> {
        RecorderBuilder {
            sink: Tee::new(self.sink, secondary),
            capacity: self.capacity,
            policy: self.policy,
            catalogue: self.catalogue,
            shutdown_timeout: self.shutdown_timeout,
            writer: self.writer,
            alerts: self.alerts,
            #[cfg(feature = "spool")]
            spool: self.spool,
            high_water: self.high_water,
        }
    }

    /// Evaluates `alerts`' rules on every batch, in the writer: see
    /// [`Alerts`]. Replaces alerts set before.
    ///
    /// The rules see each batch before it is written, so that an alert's
    /// event is written in the same batch as the events that raised it,
    /// needing no room in the queue, and the callback is not held up by a
    /// slow or failing sink. An alert can therefore be raised for events the
    /// sink then never writes (they are counted as lost).
    pub fn alerts(mut self, alerts: Alerts) -> Self {
        self.alerts = Some(alerts);
        self
    }

    /// Keeps batches in `spool`, on local disk, while the sink cannot take
    /// them, and writes them to the sink, oldest first, once it can: an
    /// outage of the database loses nothing as long as the spool has room.
    ///
    /// The writer spools a batch once it has failed for
    /// [`spool_after`](Self::spool_after) (5 s by default), or when the queue
    /// passes its [high-water mark](Self::spool_high_water). From then on
    /// every new batch goes to the spool, so that requests never find the
    /// queue full while the disk keeps up, and the writer tries the sink
    /// with the oldest spooled batches, with the retry backoff, until it
    /// takes them; once the spool is empty, batches go to the sink again.
    /// Each batch is on disk (`fsync`) before the writer takes the next.
    /// A spool left by an earlier run is replayed when the recorder starts,
    /// and [`shutdown`](Recorder::shutdown) spools what the failing sink does
    /// not take instead of losing it.
    ///
    /// Replay writes a batch again after a crash part-way through it, so the
    /// sink must keep one copy of an event it already holds (the sea-orm
    /// store does, by the event id). Events the sink refuses for good go to
    /// a dead-letter file, `rejected.jsonl`, in the spool's directory. When
    /// the spool is at its [size bound](Spool::max_bytes), batches wait in
    /// memory for the sink as they would without a spool, and the queue's
    /// drop policy applies once it is full.
    ///
    /// What a `kill -9` or a power loss can still lose is what was not yet
    /// spooled: the events in the queue, the batch being gathered (at most
    /// one [`flush_interval`](Self::flush_interval) of events), and while the
    /// sink is failing but spooling has not started, the batches being
    /// retried (at most [`spool_after`](Self::spool_after) of them). A lower
    /// `spool_after` bounds that loss more tightly.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// use tower_activity::spool::Spool;
    /// use tower_activity::{MemorySink, Recorder};
    ///
    /// # let dir = tempfile::tempdir()?;
    /// # let dir = dir.path().join("activity-spool");
    /// let spool = Spool::open(&dir)?.max_bytes(256 << 20);
    /// let recorder = Recorder::builder(MemorySink::new())
    ///     .spool(spool)
    ///     .spool_after(Duration::from_secs(2))
    ///     .spawn();
    /// # recorder.shutdown().await;
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "spool")]
    #[cfg_attr(docsrs, doc(cfg(feature = "spool")))]
    pub fn spool(mut self, spool: Spool) -> Self {
        self.spool = Some(spool);
        self
    }

    /// With a [`spool`](Self::spool): how long a batch may fail before it
    /// goes to the spool, and the writer with it. Default:
    /// [`DEFAULT_SPOOL_AFTER`].
    pub fn spool_after(mut self, after: Duration) -> Self {
        self.writer.spool_after = Some(after);
        self
    }

    /// With a [`spool`](Self::spool): the number of queued events past which
    /// the writer spools new batches even before the sink fails, so that the
    /// queue does not fill. Default: nine tenths of the
    /// [`capacity`](Self::capacity).
    pub fn spool_high_water(mut self, events: usize) -> Self {
        self.high_water = Some(events.max(1));
        self
    }

    /// Starts the background writer and returns the recorder.
    ///
    /// # Panics
    ///
    /// When called outside a Tokio runtime, as `tokio::spawn` does.
    pub fn spawn(self) -> Recorder {
        let (queue, receiver) = mpsc::channel(self.capacity);
        let (shutdown, shutdown_rx) = watch::channel(None);
        let (processed_tx, processed) = watch::channel(0);
        let counts = Arc::new(Counts::default());
        let flush_now = Arc::new(Notify::new());
        let mut config = self.writer;
        if config.concurrency == 0 {
            config.concurrency = self.sink.max_concurrent_writes().max(1);
        }
        #[cfg(feature = "spool")]
        let spool = self.spool.map(SpoolLink::new);
        #[cfg(not(feature = "spool"))]
        let spool: Option<SpoolLink> = None;
        if spool.is_none() {
            config.spool_after = None;
        }
        config.high_water = self
            .high_water
            .unwrap_or(self.capacity - self.capacity / 10)
            .max(1);
        let writer = Writer {
            sink: Arc::new(self.sink),
            queue: receiver,
            shutdown: shutdown_rx,
            counts: counts.clone(),
            flush_now: flush_now.clone(),
            processed: processed_tx,
            config,
            draining: false,
            batch: Vec::with_capacity(config.batch_size),
            batch_started: None,
            gathered: 0,
            finished_early: BTreeMap::new(),
            reporting: false,
            spare: Vec::new(),
            alerts: self.alerts,
            spool,
            spooling: false,
            appending: 0,
            replay_backoff: config.retry_min,
        };
        let handle = tokio::spawn(writer.run());
        Recorder {
            shared: Arc::new(Shared {
                queue,
                policy: self.policy,
                catalogue: self.catalogue,
                counts,
                shutdown,
                flush_now,
                processed,
                writer: tokio::sync::Mutex::new(Some(handle)),
                shutdown_timeout: self.shutdown_timeout,
                closed: AtomicBool::new(false),
                batch_size: self.writer.batch_size,
            }),
        }
    }
}
