//! The recorder: a bounded queue in front of a background writer that batches
//! events into a sink, retries failed batches, counts and reports drops, and
//! flushes on shutdown. It queues and writes; it never reads the request
//! context.

mod builder;
mod delivery;
mod global;
mod isolate;
mod json_lines;
mod memory;
pub mod metrics;
mod replay;
mod reports;
mod retry;
mod sink;
mod spooling;
mod tee;
mod tracing_sink;
mod writer;

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

pub use self::builder::{DEFAULT_SPOOL_AFTER, RecorderBuilder};
pub use self::global::{clear_global_recorder, global_recorder, set_global_recorder};
pub use self::json_lines::JsonLinesSink;
pub use self::memory::MemorySink;
use self::metrics as names;
pub use self::sink::{ActivitySink, NullSink, SinkError};
pub use self::tee::{DEFAULT_SECONDARY_TIMEOUT, Tee};
pub use self::tracing_sink::{TRACING_TARGET, TracingSink};
use crate::catalogue::{Admission, Catalogue, CatalogueViolation};
use crate::event::{ActivityEvent, EventPolicy, Origin};

/// The action of the event that reports dropped events.
pub const DROPPED_ACTION: &str = "activity.dropped";

/// The action of the event that reports events the sink refused for good
/// (see [`SinkError::permanent`]), with their `count` and the latest
/// `reason` in its details.
pub const REJECTED_ACTION: &str = "activity.rejected";

/// Queues events for a sink and writes them in batches, off the request path.
///
/// Cloning a recorder is cheap and every clone feeds the same queue. Recording
/// never waits: when the queue is full, the newest event is dropped and counted
/// (the request is never made to wait for the log), and once the writer
/// catches up it writes an [`activity.dropped`](DROPPED_ACTION) event carrying
/// the number dropped. A failing sink is retried with exponential backoff and
/// the batch is kept until it is written; with a
/// [spool](RecorderBuilder::spool) it waits on local disk instead, so that an
/// outage of the database loses nothing. Events the sink refuses for good
/// are set aside and reported (see [`SinkError::permanent`]).
/// [`shutdown`](Recorder::shutdown) writes everything queued before it
/// returns.
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
    catalogue: Option<Catalogue>,
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
    catalogue_refused: AtomicU64,
    catalogue_marked: AtomicU64,
    rejected: AtomicU64,
    unreported_rejections: AtomicU64,
    /// The reason of the latest rejection, for the next report.
    rejection_reason: Mutex<String>,
    spooled: AtomicU64,
    replayed: AtomicU64,
    spool_skipped_records: AtomicU64,
    /// Whether the writer is spooling new batches.
    spooling: AtomicBool,
}

impl Counts {
    fn drop_events(&self, n: u64, reportable: bool) {
        self.dropped.fetch_add(n, Ordering::Relaxed);
        if reportable {
            self.unreported_drops.fetch_add(n, Ordering::AcqRel);
        }
        ::metrics::counter!(names::EVENTS_DROPPED).increment(n);
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

/// Why an event was not queued. It has already been counted: as dropped
/// (reported by an `activity.dropped` event unless the recorder was closed),
/// or, for [`Catalogue`](LogError::Catalogue), as refused by the catalogue.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
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
    /// A strict [`Catalogue`] refused the event: its action is not listed,
    /// or its details break the action's schema.
    /// (Boxed, so that the error, and every `Result` the write path
    /// returns, stays two words.)
    #[error("the action catalogue refused the event: {0}")]
    Catalogue(Box<CatalogueViolation>),
}

impl From<CatalogueViolation> for LogError {
    fn from(violation: CatalogueViolation) -> Self {
        LogError::Catalogue(Box::new(violation))
    }
}

/// Why the queue did not take an event.
enum Refused {
    Full,
    Closed,
}

/// Counters of a recorder since it started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecorderStats {
    /// Events accepted into the queue.
    pub recorded: u64,
    /// Events the sink wrote, `activity.dropped` reports and
    /// `security.alert` events included.
    pub written: u64,
    /// Events dropped: queue full, recorder closed, or given up on at shutdown.
    pub dropped: u64,
    /// Batch writes that failed (each was retried).
    pub failed_batches: u64,
    /// Events given up on because the sink still failed when the shutdown
    /// timeout ran out (also counted in `dropped`).
    pub lost: u64,
    /// Events a strict [`Catalogue`] refused (not queued, not in `dropped`).
    pub catalogue_refused: u64,
    /// Events a lenient [`Catalogue`] kept and marked.
    pub catalogue_marked: u64,
    /// Events the sink refused for good (see [`SinkError::permanent`]): set
    /// aside, in the spool's dead-letter file when there is a spool, and
    /// reported by [`activity.rejected`](REJECTED_ACTION) events.
    pub rejected: u64,
    /// Events appended to the spool (see [`RecorderBuilder::spool`]).
    pub spooled: u64,
    /// Events written from the spool, those an earlier run left included
    /// (also counted in `written`).
    pub replayed: u64,
    /// Damaged spool records skipped on replay (a torn write, a damaged
    /// disk): their events are not written.
    pub spool_skipped_records: u64,
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
    /// sink kept failing and there was no spool to keep them).
    pub lost: u64,
    /// Events appended to the spool over the recorder's life; those not yet
    /// replayed are written when a recorder next starts on the same spool.
    pub spooled: u64,
    /// Events written from the spool over the recorder's life.
    pub replayed: u64,
}

impl Recorder {
    /// The policy applied to every event before it is queued.
    pub fn policy(&self) -> &EventPolicy {
        &self.shared.policy
    }

    /// Queues `event` without waiting: applies the [`policy`](Self::policy)
    /// and hands it to the writer. An event with no actor is the system's.
    /// When the queue is full the event is dropped and counted (see
    /// [`LogError`]).
    ///
    /// The recorder does not read the request context: inside a request, use
    /// [`log_activity`](crate::log_activity), which fills the event from the
    /// context and then queues it here.
    pub fn record(&self, event: ActivityEvent) -> Result<(), LogError> {
        self.submit(event, None)
    }

    /// Queues `event` as [`record`](Self::record) does, but when the queue is
    /// full waits up to `max_wait` for room before dropping it: for background
    /// jobs that would rather slow down than drop. Request paths should use
    /// [`record`](Self::record), which never waits.
    pub async fn record_wait(&self, mut event: ActivityEvent, max_wait: Duration) -> Result<(), LogError> {
        if self.shared.catalogue.is_some() {
            self.admit(&mut event)?;
        }
        self.shared.policy.prepare(&mut event, None);
        if self.shared.closed.load(Ordering::Acquire) {
            return self.refused(Refused::Closed);
        }
        match self.shared.queue.send_timeout(event, max_wait).await {
            Ok(()) => self.accepted(),
            Err(mpsc::error::SendTimeoutError::Timeout(_)) => self.refused(Refused::Full),
            Err(mpsc::error::SendTimeoutError::Closed(_)) => self.refused(Refused::Closed),
        }
    }

    /// The write path every logged event takes: filled from `origin` (the
    /// request's context, when there is one), prepared under the policy, and
    /// queued without waiting.
    pub(crate) fn submit(&self, mut event: ActivityEvent, origin: Option<Origin>) -> Result<(), LogError> {
        if self.shared.catalogue.is_some() {
            self.admit(&mut event)?;
        }
        self.shared.policy.prepare(&mut event, origin);
        if self.shared.closed.load(Ordering::Acquire) {
            return self.refused(Refused::Closed);
        }
        match self.shared.queue.try_send(event) {
            Ok(()) => self.accepted(),
            Err(mpsc::error::TrySendError::Full(_)) => self.refused(Refused::Full),
            Err(mpsc::error::TrySendError::Closed(_)) => self.refused(Refused::Closed),
        }
    }

    /// The catalogue events are checked against before they are queued.
    pub fn catalogue(&self) -> Option<&Catalogue> {
        self.shared.catalogue.as_ref()
    }

    /// Applies the [`catalogue`](Self::catalogue), if any, to `event`
    /// (checks it, gives it its category, marks it in lenient mode) and
    /// counts what it finds.
    pub(crate) fn admit(&self, event: &mut ActivityEvent) -> Result<(), CatalogueViolation> {
        let Some(catalogue) = &self.shared.catalogue else {
            return Ok(());
        };
        let counts = &self.shared.counts;
        let (counter, handling) = match catalogue.apply(event) {
            Ok(Admission::Admitted) => return Ok(()),
            Ok(Admission::Marked) => (&counts.catalogue_marked, "marked"),
            Err(violation) => {
                counts.catalogue_refused.fetch_add(1, Ordering::Relaxed);
                ::metrics::counter!(names::CATALOGUE_VIOLATIONS, "handling" => "refused").increment(1);
                return Err(violation);
            }
        };
        counter.fetch_add(1, Ordering::Relaxed);
        ::metrics::counter!(names::CATALOGUE_VIOLATIONS, "handling" => handling).increment(1);
        Ok(())
    }

    /// Counts an event the queue did not take.
    fn refused(&self, refused: Refused) -> Result<(), LogError> {
        // Events refused by a full queue are reported once the writer catches
        // up; those refused after shutdown have no writer to report them.
        let full = matches!(refused, Refused::Full);
        self.shared.counts.drop_events(1, full);
        Err(if full {
            LogError::QueueFull
        } else {
            LogError::Closed
        })
    }

    /// Counts an event the queue took.
    fn accepted(&self) -> Result<(), LogError> {
        self.shared.counts.recorded.fetch_add(1, Ordering::Relaxed);
        let queue = &self.shared.queue;
        if queue.max_capacity() - queue.capacity() >= self.shared.batch_size {
            // A full batch is waiting: wake the writer now rather than at the
            // end of its flush interval.
            self.shared.flush_now.notify_one();
        }
        Ok(())
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
            catalogue_refused: counts.catalogue_refused.load(Ordering::Relaxed),
            catalogue_marked: counts.catalogue_marked.load(Ordering::Relaxed),
            rejected: counts.rejected.load(Ordering::Relaxed),
            spooled: counts.spooled.load(Ordering::Relaxed),
            replayed: counts.replayed.load(Ordering::Relaxed),
            spool_skipped_records: counts.spool_skipped_records.load(Ordering::Relaxed),
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
    /// is left, which the report counts as `lost`; with a
    /// [spool](RecorderBuilder::spool), what the sink does not take at once
    /// is spooled instead, for the next recorder on that spool to replay. Call it after the server
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
            spooled: stats.spooled,
            replayed: stats.replayed,
        }
    }
}

/// `start + wait`, or a time decades away when that does not fit.
fn later(start: Instant, wait: Duration) -> Instant {
    const DECADES: Duration = Duration::from_secs(30 * 365 * 86_400);
    start.checked_add(wait).unwrap_or_else(|| start + DECADES)
}
