//! Replaying the spool: its oldest batches written to the sink as a
//! pipeline, several at once while the next is read back, each attempt also
//! the probe that tells whether the sink is back.

use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::future::OptionFuture;
use futures_util::stream::FuturesUnordered;

use super::delivery::Courier;
use super::isolate::write_isolating;
use super::metrics as names;
use super::spooling::SpoolLink;
use super::{ActivitySink, Counts};
use crate::event::ActivityEvent;

/// How one replay step ended.
#[derive(Debug)]
pub(super) enum Replayed {
    /// Batches were written (or set aside as rejected) until nothing was
    /// left to read.
    Batches,
    /// The sink, or the spool, failed: try again later.
    Failed,
    /// The spool had nothing to replay.
    Empty,
}

impl<S: ActivitySink> Courier<S> {
    /// Waits `delay` (cut short when shutdown begins), then replays the spool
    /// until nothing is left to read: up to the writer's concurrency of
    /// batches written at once, the next one read back while they are
    /// written. Each batch is tried once; after a failure no batch is begun,
    /// and the failed ones are put back for the next step.
    pub(super) async fn replay(self, link: SpoolLink, delay: Duration) -> Replayed {
        if !delay.is_zero() {
            let mut shutdown = self.shutdown.clone();
            if shutdown.borrow_and_update().is_none() {
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    _ = shutdown.changed() => {}
                }
            }
        }
        // Batches of the writer's size, whatever the records' sizes: the
        // size the write timeout is set for.
        let max_events = self.config.batch_size;
        let mut once = self.config;
        once.spool_after = Some(Duration::ZERO);
        let (sink, shutdown, counts) = (&*self.sink, &self.shutdown, &*self.counts);
        let write = move |number: u64, batch: Vec<ActivityEvent>| async move {
            let isolated = write_isolating(sink, &batch, shutdown, counts, once).await;
            (number, batch, isolated)
        };
        let mut writes = FuturesUnordered::new();
        // The read under way, with how many writes had finished when it began.
        let mut reading = None;
        // A batch read back and not yet begun.
        let mut ready: Option<Vec<ActivityEvent>> = None;
        // Whether a read found nothing since the last write finished.
        let mut drained = false;
        let (mut begun, mut finished) = (0_u64, 0_u64);
        let mut failed = false;
        // Batches to hand out again, by the order they were begun in.
        let mut retry = Vec::new();
        loop {
            if !failed {
                if writes.len() < self.config.concurrency
                    && let Some(batch) = ready.take()
                {
                    writes.push(write(begun, batch));
                    begun += 1;
                }
                if ready.is_none() && reading.is_none() && !drained {
                    let (link, since) = (&link, finished);
                    reading = Some(Box::pin(async move { (since, link.read(max_events).await) }));
                }
            }
            if reading.is_none() && writes.is_empty() {
                break;
            }
            tokio::select! {
                Some((since, read)) = OptionFuture::from(reading.as_mut()) => {
                    reading = None;
                    match read {
                        Ok((batch, damage)) => {
                            self.counts.spool_damaged(damage.skipped_records, damage.skipped_bytes);
                            if batch.is_empty() {
                                // The rest of a file may have been waiting
                                // for a write that has finished since.
                                drained = since == finished;
                            } else {
                                ready = Some(batch);
                            }
                        }
                        Err(error) => {
                            tracing::error!(%error, "activity spool could not be read back");
                            failed = true;
                        }
                    }
                }
                Some((number, batch, isolated)) = writes.next() => {
                    finished += 1;
                    drained = false;
                    self.reject(&batch, &isolated, true).await;
                    let written = batch.len() as u64 - isolated.unwritten_len() - isolated.rejected.len() as u64;
                    self.counts.replayed.fetch_add(written, Ordering::Relaxed);
                    ::metrics::counter!(names::EVENTS_REPLAYED).increment(written);
                    if isolated.unwritten.is_empty() {
                        // At once: the file it came from may be finished.
                        link.written();
                    } else {
                        let rest = isolated
                            .unwritten
                            .iter()
                            .flat_map(|range| batch[range.clone()].iter().cloned())
                            .collect();
                        retry.push((number, rest));
                        failed = true;
                    }
                }
            }
        }
        // A batch read back after the ones begun goes back after them.
        if let Some(batch) = ready {
            retry.push((begun, batch));
        }
        retry.sort_unstable_by_key(|(number, _)| *number);
        if !retry.is_empty() {
            link.put_back(retry.into_iter().map(|(_, batch)| batch).collect());
        }
        if failed {
            Replayed::Failed
        } else if finished > 0 {
            Replayed::Batches
        } else {
            Replayed::Empty
        }
    }
}

impl Counts {
    /// Counts damage found in spool files.
    pub(super) fn spool_damaged(&self, records: u64, bytes: u64) {
        if records == 0 && bytes == 0 {
            return;
        }
        self.spool_skipped_records.fetch_add(records, Ordering::Relaxed);
        ::metrics::counter!(names::SPOOL_SKIPPED_RECORDS).increment(records);
        ::metrics::counter!(names::SPOOL_SKIPPED_BYTES).increment(bytes);
        tracing::warn!(
            records,
            bytes,
            "activity spool: damaged records skipped (a torn write or a damaged disk)"
        );
    }
}
