//! The background writer: gathers queued events into batches, writes several
//! at once, keeps count of what is done in queue order, and reports drops.

use std::collections::BTreeMap;
use std::future::Future;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use futures_util::stream::FuturesUnordered;
use futures_util::{FutureExt, StreamExt};
use tokio::sync::{Notify, mpsc, watch};
use tokio::time::Instant;

use super::builder::WriterConfig;
use super::metrics as names;
use super::retry::write_with_retries;
use super::{ActivitySink, Counts, DROPPED_ACTION, later};
use crate::alert::Alerts;
use crate::event::{Action, ActivityEvent, Actor, Outcome};

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
}

/// What a write carries.
enum Job {
    /// The events of `Range`, counted in the order they were queued, and
    /// the alert events added to them.
    Events(Range<u64>, u64),
    /// An `activity.dropped` report of this many drops.
    DropReport(u64),
}

/// A write that has finished, retries included.
struct Written {
    job: Job,
    ok: bool,
    /// The events written (or given up on), returned for reuse.
    batch: Vec<ActivityEvent>,
}

impl<S: ActivitySink> Writer<S> {
    pub(super) async fn run(mut self) {
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
        ::metrics::counter!(names::EVENTS_RECORDED).increment(self.batch.len() as u64);
        ::metrics::gauge!(names::QUEUE_DEPTH).set(self.queue.len() as f64);
        self.batch_started = None;
        let next = self.spare.pop().unwrap_or_else(|| Vec::with_capacity(size));
        Some(std::mem::replace(&mut self.batch, next))
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
            Written { job, ok, batch }
        }
    }

    /// Accounts for a finished write; returns whether it succeeded.
    fn finished(&mut self, mut written: Written) -> bool {
        if let Job::Events(..) = written.job
            && self.spare.len() <= self.config.concurrency
        {
            written.batch.clear();
            self.spare.push(written.batch);
        }
        match written.job {
            Job::Events(range, alerts) => {
                if !written.ok {
                    if let Some(rules) = &self.alerts {
                        rules.lost(alerts);
                    }
                    let events = range.end - range.start + alerts;
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
