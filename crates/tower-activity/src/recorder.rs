//! The recorder: a bounded queue in front of a background writer that batches
//! events into a sink, retries failed batches, counts and reports drops, and
//! flushes on shutdown.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::ops::Range;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use futures_util::stream::FuturesUnordered;
use futures_util::{FutureExt, StreamExt};
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::action::Action;
use crate::actor::Actor;
use crate::context::ActivityContext;
use crate::event::ActivityEvent;
use crate::metrics as names;
use crate::outcome::Outcome;
use crate::policy::EventPolicy;
use crate::sink::ActivitySink;

/// The action of the event that reports dropped events.
pub const DROPPED_ACTION: &str = "activity.dropped";

/// Queues events for a sink and writes them in batches, off the request path.
///
/// Cloning a recorder is cheap and every clone feeds the same queue. Recording
/// never waits: when the queue is full, the newest event is dropped and counted
/// (the request is never made to wait for the log), and once the writer
/// catches up it writes an [`activity.dropped`](DROPPED_ACTION) event carrying
/// the number dropped. A failing sink is retried with exponential backoff and
/// the batch is kept until it is written. [`shutdown`](Recorder::shutdown)
/// writes everything queued before it returns.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use std::time::Duration;
/// use tower_activity::{Action, ActivityEvent, MemorySink, Recorder};
///
/// let sink = MemorySink::new();
/// let recorder = Recorder::builder(sink.clone())
///     .capacity(10_000)
///     .batch_size(500)
///     .flush_interval(Duration::from_millis(100))
///     .spawn();
///
/// recorder.record(ActivityEvent::builder(Action::Create).resource("user", 1).build().unwrap()).unwrap();
/// let report = recorder.shutdown().await;
/// assert_eq!(report.written, 1);
/// assert_eq!(sink.len(), 1);
/// # }
/// ```
#[derive(Clone)]
pub struct Recorder {
    shared: Arc<Shared>,
}

struct Shared {
    queue: mpsc::Sender<ActivityEvent>,
    policy: EventPolicy,
    counts: Arc<Counts>,
    shutdown: watch::Sender<Option<Instant>>,
    flush_now: Arc<Notify>,
    processed: watch::Receiver<u64>,
    writer: tokio::sync::Mutex<Option<JoinHandle<()>>>,
    shutdown_timeout: Duration,
    closed: AtomicBool,
    batch_size: usize,
}

#[derive(Debug, Default)]
struct Counts {
    recorded: AtomicU64,
    written: AtomicU64,
    dropped: AtomicU64,
    unreported_drops: AtomicU64,
    failed_batches: AtomicU64,
    lost: AtomicU64,
}

impl Counts {
    fn drop_events(&self, n: u64, reportable: bool) {
        self.dropped.fetch_add(n, Ordering::Relaxed);
        if reportable {
            self.unreported_drops.fetch_add(n, Ordering::AcqRel);
        }
        metrics::counter!(names::EVENTS_DROPPED).increment(n);
    }
}

impl fmt::Debug for Recorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recorder")
            .field("stats", &self.stats())
            .field("policy", &self.shared.policy)
            .finish_non_exhaustive()
    }
}

/// Why an event was not queued. It has already been counted as dropped; unless
/// the recorder was closed, it will be reported by an `activity.dropped` event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LogError {
    /// There is no recorder to send the event to.
    #[error(
        "no activity recorder: add `ActivityLayer::new().recorder(recorder)` to the service, \
         run the code inside `ActivityContext::scope`, or call `tower_activity::set_global_recorder`"
    )]
    NoRecorder,
    /// The queue was full and the event was dropped.
    #[error("activity queue is full: the event was dropped and counted")]
    QueueFull,
    /// The recorder has been shut down.
    #[error("activity recorder is shut down: the event was dropped")]
    Closed,
}

/// Counters of a recorder since it started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecorderStats {
    /// Events accepted into the queue.
    pub recorded: u64,
    /// Events the sink wrote, `activity.dropped` reports included.
    pub written: u64,
    /// Events dropped: queue full, recorder closed, or given up on at shutdown.
    pub dropped: u64,
    /// Batch writes that failed (each was retried).
    pub failed_batches: u64,
    /// Events given up on because the sink still failed when the shutdown
    /// timeout ran out (also counted in `dropped`).
    pub lost: u64,
    /// Events waiting in the queue now.
    pub queued: usize,
}

/// What [`Recorder::shutdown`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Events written over the recorder's life.
    pub written: u64,
    /// Events dropped over the recorder's life.
    pub dropped: u64,
    /// Events still unwritten when the shutdown timeout ran out (zero unless the
    /// sink kept failing).
    pub lost: u64,
}

/// Configures and starts a [`Recorder`]; made by [`Recorder::builder`].
#[derive(Debug)]
#[must_use = "a recorder builder does nothing until `spawn` is called"]
pub struct RecorderBuilder<S> {
    sink: S,
    capacity: usize,
    policy: EventPolicy,
    shutdown_timeout: Duration,
    writer: WriterConfig,
}

#[derive(Clone, Copy, Debug)]
struct WriterConfig {
    batch_size: usize,
    concurrency: usize,
    flush_interval: Duration,
    retry_min: Duration,
    retry_max: Duration,
    write_timeout: Duration,
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
            shutdown_timeout: Duration::from_secs(30),
            writer: WriterConfig {
                batch_size: 500,
                concurrency: 0,
                flush_interval: Duration::from_millis(100),
                retry_min: Duration::from_millis(100),
                retry_max: Duration::from_secs(10),
                write_timeout: Duration::from_secs(30),
            },
        }
    }

    /// The policy applied to every event before it is queued.
    pub fn policy(&self) -> &EventPolicy {
        &self.shared.policy
    }

    /// Queues `event` without waiting: fills what it leaves empty from the
    /// current [`ActivityContext`], applies the [`policy`](Self::policy), and
    /// hands it to the writer. When the queue is full the event is dropped and
    /// counted (see [`LogError`]).
    pub fn record(&self, mut event: ActivityEvent) -> Result<(), LogError> {
        ActivityContext::fill_from_current(&mut event);
        self.shared.policy.apply(&mut event);
        self.enqueue(event)
    }

    /// Queues `event` as [`record`](Self::record) does, but when the queue is
    /// full waits up to `max_wait` for room before dropping it: for background
    /// jobs that would rather slow down than drop. Request paths should use
    /// [`record`](Self::record), which never waits.
    pub async fn record_wait(&self, mut event: ActivityEvent, max_wait: Duration) -> Result<(), LogError> {
        ActivityContext::fill_from_current(&mut event);
        self.shared.policy.apply(&mut event);
        if self.shared.closed.load(Ordering::Acquire) {
            self.shared.counts.drop_events(1, false);
            return Err(LogError::Closed);
        }
        match self.shared.queue.send_timeout(event, max_wait).await {
            Ok(()) => {
                self.accepted();
                Ok(())
            }
            Err(mpsc::error::SendTimeoutError::Timeout(_)) => {
                self.shared.counts.drop_events(1, true);
                Err(LogError::QueueFull)
            }
            Err(mpsc::error::SendTimeoutError::Closed(_)) => {
                self.shared.counts.drop_events(1, false);
                Err(LogError::Closed)
            }
        }
    }

    /// Queues an event that is already filled and scrubbed.
    pub(crate) fn enqueue(&self, event: ActivityEvent) -> Result<(), LogError> {
        if self.shared.closed.load(Ordering::Acquire) {
            self.shared.counts.drop_events(1, false);
            return Err(LogError::Closed);
        }
        match self.shared.queue.try_send(event) {
            Ok(()) => {
                self.accepted();
                Ok(())
            }
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.shared.counts.drop_events(1, true);
                Err(LogError::QueueFull)
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                self.shared.counts.drop_events(1, false);
                Err(LogError::Closed)
            }
        }
    }

    fn accepted(&self) {
        self.shared.counts.recorded.fetch_add(1, Ordering::Relaxed);
        metrics::counter!(names::EVENTS_RECORDED).increment(1);
        let queue = &self.shared.queue;
        if queue.max_capacity() - queue.capacity() >= self.shared.batch_size {
            // A full batch is waiting: wake the writer now rather than at the
            // end of its flush interval.
            self.shared.flush_now.notify_one();
        }
    }

    /// The recorder's counters.
    pub fn stats(&self) -> RecorderStats {
        let counts = &self.shared.counts;
        RecorderStats {
            recorded: counts.recorded.load(Ordering::Relaxed),
            written: counts.written.load(Ordering::Relaxed),
            dropped: counts.dropped.load(Ordering::Relaxed),
            failed_batches: counts.failed_batches.load(Ordering::Relaxed),
            lost: counts.lost.load(Ordering::Relaxed),
            queued: self.shared.queue.max_capacity() - self.shared.queue.capacity(),
        }
    }

    /// Waits until every event queued before the call has been written (or
    /// given up on at shutdown), writing the pending batch at once instead of
    /// waiting for the flush interval.
    pub async fn flush(&self) {
        let target = self.shared.counts.recorded.load(Ordering::Acquire);
        let mut processed = self.shared.processed.clone();
        self.shared.flush_now.notify_one();
        // An error means the writer is gone: nothing more will be written.
        let _ = processed.wait_for(|&done| done >= target).await;
    }

    /// Stops accepting events, writes everything queued, and waits for the
    /// writer to finish.
    ///
    /// If the sink keeps failing, the writer retries until the shutdown timeout
    /// (set by [`RecorderBuilder::shutdown_timeout`]) and then gives up on what
    /// is left, which the report counts as `lost`. Call it after the server
    /// has stopped, for example after axum's `with_graceful_shutdown` returns.
    /// Calling it again waits for the same shutdown.
    pub async fn shutdown(&self) -> ShutdownReport {
        self.shared.closed.store(true, Ordering::Release);
        let deadline = later(Instant::now(), self.shared.shutdown_timeout);
        self.shared.shutdown.send_if_modified(|current| {
            let unset = current.is_none();
            if unset {
                *current = Some(deadline);
            }
            unset
        });
        // The handle is cleared only once the writer has finished, so a
        // shutdown that is cancelled part-way leaves the next one to wait too.
        let mut writer = self.shared.writer.lock().await;
        if let Some(handle) = writer.as_mut() {
            if let Err(error) = handle.await {
                tracing::error!(%error, "activity writer task failed");
            }
            *writer = None;
        }
        let stats = self.stats();
        ShutdownReport {
            written: stats.written,
            dropped: stats.dropped,
            lost: stats.lost,
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
        };
        let handle = tokio::spawn(writer.run());
        Recorder {
            shared: Arc::new(Shared {
                queue,
                policy: self.policy,
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

/// `start + wait`, or a time decades away when that does not fit.
fn later(start: Instant, wait: Duration) -> Instant {
    const DECADES: Duration = Duration::from_secs(30 * 365 * 86_400);
    start.checked_add(wait).unwrap_or_else(|| start + DECADES)
}

struct Writer<S> {
    sink: Arc<S>,
    queue: mpsc::Receiver<ActivityEvent>,
    shutdown: watch::Receiver<Option<Instant>>,
    counts: Arc<Counts>,
    flush_now: Arc<Notify>,
    processed: watch::Sender<u64>,
    config: WriterConfig,
    draining: bool,
    /// The batch being gathered, kept here so that gathering can be
    /// interrupted (by a write finishing) without losing events.
    batch: Vec<ActivityEvent>,
    /// When the first event of `batch` arrived.
    batch_started: Option<Instant>,
    /// How many events have been taken from the queue into batches.
    gathered: u64,
    /// Batches that finished while one taken before them is still being
    /// written, by their range of events: `processed` only moves past a
    /// range once everything before it is done.
    finished_early: BTreeMap<u64, u64>,
    /// Whether an `activity.dropped` report is being written.
    reporting: bool,
}

/// What a write carries.
enum Job {
    /// The events of `Range`, counted in the order they were queued.
    Events(Range<u64>),
    /// An `activity.dropped` report of this many drops.
    DropReport(u64),
}

/// A write that has finished, retries included.
struct Written {
    job: Job,
    ok: bool,
}

impl<S: ActivitySink> Writer<S> {
    async fn run(mut self) {
        let mut in_flight = FuturesUnordered::new();
        loop {
            let room = in_flight.len() < self.config.concurrency;
            tokio::select! {
                biased;
                Some(written) = in_flight.next(), if !in_flight.is_empty() => {
                    // A report takes the place of the write that finished.
                    if self.finished(written) && let Some((report, job)) = self.drop_report() {
                        in_flight.push(self.write(report, job));
                    }
                }
                batch = self.next_batch(), if room => match batch {
                    Some(batch) => {
                        let start = self.gathered;
                        self.gathered += batch.len() as u64;
                        in_flight.push(self.write(batch, Job::Events(start..self.gathered)));
                    }
                    None => break,
                },
            }
        }
        while let Some(written) = in_flight.next().await {
            if self.finished(written)
                && let Some((report, job)) = self.drop_report()
            {
                in_flight.push(self.write(report, job));
            }
        }
        if let Some((report, job)) = self.drop_report() {
            let written = self.write(report, job).await;
            self.finished(written);
        }
    }

    /// The next batch to write, or `None` once the queue is closed and empty.
    /// Cancelling it loses nothing: what it gathered stays in `self.batch`.
    async fn next_batch(&mut self) -> Option<Vec<ActivityEvent>> {
        let size = self.config.batch_size;
        while self.batch.is_empty() {
            tokio::select! {
                biased;
                changed = self.shutdown.changed(), if !self.draining => {
                    let _ = changed;
                    self.start_draining();
                }
                received = self.queue.recv_many(&mut self.batch, size) => {
                    if received == 0 {
                        return None;
                    }
                    self.batch_started = Some(Instant::now());
                }
            }
        }
        if !self.draining && self.batch.len() < size {
            // Wait, without waking for every event (under load that would
            // cost a task wake-up per request), until the flush interval has
            // passed, a flush is asked for, a full batch is queued or
            // shutdown starts.
            let started = self.batch_started.unwrap_or_else(Instant::now);
            let deadline = later(started, self.config.flush_interval);
            tokio::select! {
                biased;
                changed = self.shutdown.changed() => {
                    let _ = changed;
                    self.start_draining();
                }
                () = self.flush_now.notified() => {}
                () = tokio::time::sleep_until(deadline) => {}
            }
        }
        while self.batch.len() < size {
            let room = size - self.batch.len();
            match self.queue.recv_many(&mut self.batch, room).now_or_never() {
                Some(received) if received > 0 => {}
                _ => break,
            }
        }
        metrics::gauge!(names::QUEUE_DEPTH).set(self.queue.len() as f64);
        self.batch_started = None;
        Some(std::mem::replace(&mut self.batch, Vec::with_capacity(size)))
    }

    /// Stops new events from entering the queue; what is in it is still read.
    /// Also runs when every recorder handle is gone (the watch is closed).
    fn start_draining(&mut self) {
        self.draining = true;
        self.queue.close();
    }

    /// Writes `batch` with retries, as a future of its own so that several
    /// can be under way.
    fn write(&self, batch: Vec<ActivityEvent>, job: Job) -> impl Future<Output = Written> + use<S> {
        let sink = self.sink.clone();
        let shutdown = self.shutdown.clone();
        let counts = self.counts.clone();
        let config = self.config;
        async move {
            let ok = write_with_retries(&*sink, &batch, shutdown, &counts, config).await;
            Written { job, ok }
        }
    }

    /// Accounts for a finished write; returns whether it succeeded.
    fn finished(&mut self, written: Written) -> bool {
        match written.job {
            Job::Events(range) => {
                if !written.ok {
                    let events = range.end - range.start;
                    tracing::error!(
                        events,
                        "activity sink still failing at the shutdown deadline: events lost"
                    );
                    self.counts.lost.fetch_add(events, Ordering::Relaxed);
                    self.counts.drop_events(events, false);
                }
                self.finished_early.insert(range.start, range.end);
                self.processed.send_modify(|done| {
                    while let Some(end) = self.finished_early.remove(done) {
                        *done = end;
                    }
                });
            }
            Job::DropReport(count) => {
                self.reporting = false;
                if !written.ok {
                    // Kept for the next report.
                    self.counts.unreported_drops.fetch_add(count, Ordering::AcqRel);
                }
            }
        }
        written.ok
    }

    /// An `activity.dropped` event with the number of events dropped since
    /// the last report, unless a report is being written or there is nothing
    /// to report.
    fn drop_report(&mut self) -> Option<(Vec<ActivityEvent>, Job)> {
        if self.reporting {
            return None;
        }
        let unreported = self.counts.unreported_drops.swap(0, Ordering::AcqRel);
        if unreported == 0 {
            return None;
        }
        self.reporting = true;
        let report = ActivityEvent::builder(Action::system(DROPPED_ACTION))
            .actor(Actor::system("activity-recorder"))
            .outcome(Outcome::Warning)
            .detail("count", unreported)
            .build()
            .unwrap_or_else(|invalid| unreachable!("{invalid}"));
        Some((vec![report], Job::DropReport(unreported)))
    }
}

/// Writes `batch`, retrying with backoff until it succeeds or the shutdown
/// deadline passes. Returns whether it was written.
async fn write_with_retries<S: ActivitySink>(
    sink: &S,
    batch: &[ActivityEvent],
    mut shutdown: watch::Receiver<Option<Instant>>,
    counts: &Counts,
    config: WriterConfig,
) -> bool {
    let mut backoff = config.retry_min;
    loop {
        let deadline = *shutdown.borrow_and_update();
        if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
            return false;
        }
        let started = Instant::now();
        let mut limit = later(started, config.write_timeout);
        if let Some(deadline) = deadline {
            limit = limit.min(deadline);
        }
        let attempt = AssertUnwindSafe(sink.write_batch(batch)).catch_unwind();
        match tokio::time::timeout_at(limit, attempt).await {
            Ok(Ok(Ok(()))) => {
                let n = batch.len() as u64;
                counts.written.fetch_add(n, Ordering::Relaxed);
                metrics::counter!(names::EVENTS_WRITTEN).increment(n);
                metrics::histogram!(names::BATCH_WRITE_SECONDS).record(started.elapsed().as_secs_f64());
                return true;
            }
            Ok(Ok(Err(error))) => {
                tracing::warn!(
                    error = &error as &dyn std::error::Error,
                    events = batch.len(),
                    retry_in = ?backoff,
                    "activity batch write failed"
                );
            }
            Ok(Err(panic)) => {
                let panic = crate::panic::panic_message(panic.as_ref());
                tracing::error!(%panic, events = batch.len(), retry_in = ?backoff, "activity sink panicked");
            }
            Err(_) => {
                tracing::warn!(events = batch.len(), retry_in = ?backoff, "activity batch write timed out");
            }
        }
        counts.failed_batches.fetch_add(1, Ordering::Relaxed);
        metrics::counter!(names::BATCHES_FAILED).increment(1);
        let mut wake = later(Instant::now(), backoff);
        if let Some(deadline) = *shutdown.borrow() {
            wake = wake.min(deadline);
        }
        tokio::select! {
            () = tokio::time::sleep_until(wake) => {}
            // A shutdown sets a deadline: look at it again now.
            changed = shutdown.changed() => {
                if changed.is_err() {
                    tokio::time::sleep_until(wake).await;
                }
            }
        }
        backoff = backoff.saturating_mul(2).min(config.retry_max);
    }
}
