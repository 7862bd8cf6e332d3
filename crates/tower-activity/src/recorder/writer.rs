//! The background writer: gathers queued events into batches, writes several
//! at once, keeps count of what is done in queue order, reports drops and
//! rejections, and, with a spool, spools while the sink fails and replays
//! once it is back.

use std::collections::BTreeMap;
use std::future::Future;
use std::ops::Range;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::future::OptionFuture;
use futures_util::stream::FuturesUnordered;
use futures_util::{FutureExt, StreamExt};
use tokio::sync::{Notify, mpsc, watch};
use tokio::time::Instant;

use super::builder::WriterConfig;
use super::delivery::{Courier, Delivered};
use super::metrics as names;
use super::replay::Replayed;
use super::spooling::SpoolLink;
use super::{ActivitySink, Counts, later};
use crate::alert::Alerts;
use crate::event::ActivityEvent;

/// How many of the writer's batches one batch gathered while spooling may
/// hold: an append takes what the queue holds, up to that, so that a disk
/// slow to sync puts more events on disk with each sync instead of falling
/// behind the queue.
const SPOOLED_BATCHES: usize = 16;

/// A replay step under way.
type ReplayStep = Pin<Box<dyn Future<Output = Replayed> + Send>>;

pub(super) struct Writer<S> {
    pub(super) sink: Arc<S>,
    pub(super) queue: mpsc::Receiver<ActivityEvent>,
    pub(super) shutdown: watch::Receiver<Option<Instant>>,
    pub(super) counts: Arc<Counts>,
    pub(super) flush_now: Arc<Notify>,
    pub(super) processed: watch::Sender<u64>,
    pub(super) config: WriterConfig,
    pub(super) draining: bool,
    /// The batch being gathered, kept here so that gathering can be
    /// interrupted (by a write finishing) without losing events.
    pub(super) batch: Vec<ActivityEvent>,
    /// When the first event of `batch` arrived.
    pub(super) batch_started: Option<Instant>,
    /// How many events have been taken from the queue into batches.
    pub(super) gathered: u64,
    /// Batches that finished while one taken before them is still being
    /// written, by their range of events: `processed` only moves past a
    /// range once everything before it is done.
    pub(super) finished_early: BTreeMap<u64, u64>,
    /// Whether an `activity.dropped` report is being written.
    pub(super) reporting: bool,
    /// Emptied batches kept for the next ones: a batch of the default size
    /// is a large allocation, and making one per batch would also make the
    /// allocator reorganise the memory the written events freed.
    pub(super) spare: Vec<Vec<ActivityEvent>>,
    /// The rules evaluated on each batch before it is written.
    pub(super) alerts: Option<Alerts>,
    /// The spool, when there is one.
    pub(super) spool: Option<SpoolLink>,
    /// Whether new batches go to the spool rather than to the sink: from
    /// when the sink has failed for long enough, or the queue passed its
    /// high-water mark, until the spool is replayed.
    pub(super) spooling: bool,
    /// Deliveries under way that go straight to the spool.
    pub(super) appending: usize,
    /// How long the next replay step waits after a failed one.
    pub(super) replay_backoff: Duration,
}

/// What a write carries.
pub(super) enum Job {
    /// The events of `Range`, counted in the order they were queued, and
    /// the alert events added to them.
    Events(Range<u64>, u64),
    /// The writer's reports: of this many drops and rejections.
    Report { dropped: u64, rejected: u64 },
}

/// A write that has finished, retries included.
struct Written {
    job: Job,
    delivered: Delivered,
    /// Whether it went straight to the spool.
    appended: bool,
    /// The events written (or given up on), returned for reuse.
    batch: Vec<ActivityEvent>,
}

impl<S: ActivitySink> Writer<S> {
    pub(super) async fn run(mut self) {
        let mut in_flight = FuturesUnordered::new();
        let mut replay = self.start_replay_if_spooled();
        let grows = self.flush_now.clone();
        loop {
            self.past_high_water(&mut replay);
            // While spooling, appends may run beside the writes still trying
            // the sink, so that the queue keeps draining.
            let room = in_flight.len() < self.config.concurrency
                || (self.spooling && self.appending < self.config.concurrency);
            tokio::select! {
                biased;
                Some(written) = in_flight.next(), if !in_flight.is_empty() => {
                    // A report takes the place of the write that finished.
                    if self.finished(written, &mut replay) && let Some((report, job)) = self.report() {
                        in_flight.push(self.write(report, job));
                    }
                }
                Some(step) = OptionFuture::from(replay.as_mut()), if replay.is_some() => {
                    replay = self.replayed(step);
                }
                // Woken as the queue grows, to look at its high-water mark
                // while every write is busy.
                () = grows.notified(), if !room && self.spool.is_some() && !self.spooling => {}
                batch = self.next_batch(), if room => match batch {
                    Some(mut batch) => {
                        let start = self.gathered;
                        self.gathered += batch.len() as u64;
                        let alerts = self.alerts.as_ref().map_or(0, |alerts| alerts.process(&mut batch));
                        in_flight.push(self.write(batch, Job::Events(start..self.gathered, alerts as u64)));
                    }
                    None => break,
                },
            }
        }
        while let Some(written) = in_flight.next().await {
            if self.finished(written, &mut replay)
                && let Some((report, job)) = self.report()
            {
                in_flight.push(self.write(report, job));
            }
        }
        if let Some((report, job)) = self.report() {
            let written = self.write(report, job).await;
            self.finished(written, &mut replay);
        }
        // Replay what the sink takes before the deadline; the rest waits in
        // the spool for the next start.
        while let Some(step) = replay.take() {
            let again = matches!(step.await, Replayed::Batches);
            if again {
                replay = self.start_replay(Duration::ZERO);
            }
        }
    }

    /// Starts replaying when the spool holds batches from an earlier run.
    fn start_replay_if_spooled(&mut self) -> Option<ReplayStep> {
        let link = self.spool.as_ref()?;
        if link.is_empty() {
            return None;
        }
        tracing::info!("activity spool holds batches from an earlier run: replaying them");
        self.set_spooling(true);
        self.start_replay(Duration::ZERO)
    }

    /// A replay step, after `delay`.
    fn start_replay(&self, delay: Duration) -> Option<ReplayStep> {
        let link = self.spool.clone()?;
        Some(Box::pin(self.courier().replay(link, delay)))
    }

    /// Accounts for a replay step; returns the next one, if any.
    fn replayed(&mut self, step: Replayed) -> Option<ReplayStep> {
        match step {
            Replayed::Batches => {
                self.replay_backoff = self.config.retry_min;
                self.start_replay(Duration::ZERO)
            }
            Replayed::Failed => {
                let wait = self.replay_backoff;
                self.replay_backoff = self.replay_backoff.saturating_mul(2).min(self.config.retry_max);
                self.start_replay(wait)
            }
            // An append that finished after the step's last read left a
            // batch behind it: replay that too.
            Replayed::Empty
                if self.appending == 0 && !self.spool.as_ref().is_some_and(SpoolLink::is_empty) =>
            {
                self.start_replay(Duration::ZERO)
            }
            Replayed::Empty if self.appending == 0 => {
                self.set_spooling(false);
                self.replay_backoff = self.config.retry_min;
                tracing::info!(
                    replayed = self.counts.replayed.load(Ordering::Relaxed),
                    "activity spool replayed: writing to the sink again"
                );
                None
            }
            // Batches are being appended: look again once they are (while
            // spooling, no replay step means that).
            Replayed::Empty => None,
        }
    }

    /// Starts spooling, unless it has started.
    fn start_spooling(&mut self, replay: &mut Option<ReplayStep>, why: &'static str) {
        if self.spool.is_none() || self.spooling {
            return;
        }
        self.set_spooling(true);
        tracing::warn!(
            why,
            "activity spooling started: batches go to local disk until the sink takes them"
        );
        if replay.is_none() {
            *replay = self.start_replay(self.config.retry_min);
        }
    }

    /// Sends new batches to the spool, or to the sink again; while
    /// spooling, writes still trying the sink give up at their next failure.
    fn set_spooling(&mut self, spooling: bool) {
        self.spooling = spooling;
        self.counts.spooling.store(spooling, Ordering::Release);
        ::metrics::gauge!(names::SPOOLING).set(if spooling { 1.0 } else { 0.0 });
    }

    /// Starts spooling when the queue holds more than its high-water mark.
    fn past_high_water(&mut self, replay: &mut Option<ReplayStep>) {
        if !self.spooling && self.spool.is_some() && self.queue.len() >= self.config.high_water {
            self.start_spooling(replay, "the queue passed its high-water mark");
        }
    }

    /// The next batch to write, or `None` once the queue is closed and empty.
    /// Cancelling it loses nothing: what it gathered stays in `self.batch`.
    async fn next_batch(&mut self) -> Option<Vec<ActivityEvent>> {
        let size = if self.spooling {
            self.config.batch_size.saturating_mul(SPOOLED_BATCHES)
        } else {
            self.config.batch_size
        };
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
        ::metrics::counter!(names::EVENTS_RECORDED).increment(self.batch.len() as u64);
        ::metrics::gauge!(names::QUEUE_DEPTH).set(self.queue.len() as f64);
        self.batch_started = None;
        let next = self
            .spare
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(self.config.batch_size));
        Some(std::mem::replace(&mut self.batch, next))
    }

    /// Stops new events from entering the queue; what is in it is still read.
    /// Also runs when every recorder handle is gone (the watch is closed).
    fn start_draining(&mut self) {
        self.draining = true;
        self.queue.close();
    }

    /// What a delivery needs.
    fn courier(&self) -> Courier<S> {
        Courier {
            sink: self.sink.clone(),
            shutdown: self.shutdown.clone(),
            counts: self.counts.clone(),
            config: self.config,
            spool: self.spool.clone(),
        }
    }

    /// Delivers `batch` (see [`Courier::deliver`]), as a future of its own
    /// so that several can be under way.
    fn write(&mut self, batch: Vec<ActivityEvent>, job: Job) -> impl Future<Output = Written> + use<S> {
        let courier = self.courier();
        let appended = self.spooling;
        if appended {
            self.appending += 1;
        }
        async move {
            let (tail, events) = match job {
                Job::Events(_, alerts) => (alerts as usize, true),
                Job::Report { .. } => (0, false),
            };
            let delivered = courier.deliver(&batch, appended, events, tail).await;
            Written {
                job,
                delivered,
                appended,
                batch,
            }
        }
    }

    /// Accounts for a finished write; returns whether nothing was lost.
    fn finished(&mut self, mut written: Written, replay: &mut Option<ReplayStep>) -> bool {
        if written.appended {
            self.appending -= 1;
            if self.appending == 0 && self.spooling && replay.is_none() {
                *replay = self.start_replay(Duration::ZERO);
            }
        }
        let delivered = &written.delivered;
        if delivered.sink_failing {
            self.start_spooling(replay, "the sink kept failing");
        }
        if let Job::Events(..) = written.job
            && self.spare.len() <= self.config.concurrency
        {
            written.batch.clear();
            if !self.spooling {
                // A batch gathered while spooling may be larger: not kept.
                written.batch.shrink_to(self.config.batch_size);
            }
            self.spare.push(written.batch);
        }
        let lost = delivered.lost;
        match written.job {
            Job::Events(range, _) => {
                if lost > 0 {
                    if let Some(rules) = &self.alerts {
                        rules.lost(delivered.lost_in_tail);
                    }
                    tracing::error!(
                        events = lost,
                        "activity sink still failing at the shutdown deadline: events lost"
                    );
                    self.counts.lost.fetch_add(lost, Ordering::Relaxed);
                    self.counts.drop_events(lost, false);
                }
                self.finished_early.insert(range.start, range.end);
                self.processed.send_modify(|done| {
                    while let Some(end) = self.finished_early.remove(done) {
                        *done = end;
                    }
                });
            }
            Job::Report { dropped, rejected } => {
                self.reporting = false;
                if lost > 0 {
                    // Kept for the next report.
                    self.counts.unreported_drops.fetch_add(dropped, Ordering::AcqRel);
                    self.counts
                        .unreported_rejections
                        .fetch_add(rejected, Ordering::AcqRel);
                }
            }
        }
        lost == 0
    }
}
