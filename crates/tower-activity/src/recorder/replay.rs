//! Replaying the spool: its oldest batches written to the sink, several at
//! once, each attempt also the probe that tells whether the sink is back.

use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::future::join_all;

use super::delivery::Courier;
use super::isolate::write_isolating;
use super::metrics as names;
use super::spooling::SpoolLink;
use super::{ActivitySink, Counts};

/// How one replay step ended.
#[derive(Debug)]
pub(super) enum Replayed {
    /// Every batch read was written (or set aside as rejected).
    Batches,
    /// The sink, or the spool, failed: try again later.
    Failed,
    /// The spool had nothing to replay.
    Empty,
}

impl<S: ActivitySink> Courier<S> {
    /// Waits `delay` (cut short when shutdown begins), then reads up to the
    /// writer's concurrency of batches from the spool and writes them at
    /// once, trying each once: a batch that fails is put back for the next
    /// step.
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
        let (batches, damage) = match link.read(self.config.concurrency).await {
            Ok(read) => read,
            Err(error) => {
                tracing::error!(%error, "activity spool could not be read back");
                return Replayed::Failed;
            }
        };
        self.counts
            .spool_damaged(damage.skipped_records, damage.skipped_bytes);
        if batches.is_empty() {
            return Replayed::Empty;
        }
        let mut once = self.config;
        once.spool_after = Some(Duration::ZERO);
        let attempts = batches
            .iter()
            .map(|batch| write_isolating(&*self.sink, batch, &self.shutdown, &self.counts, once));
        let results = join_all(attempts).await;
        let mut done = 0;
        let mut retry = Vec::new();
        for (batch, isolated) in batches.iter().zip(&results) {
            self.reject(batch, isolated, true).await;
            let written = batch.len() as u64 - isolated.unwritten_len() - isolated.rejected.len() as u64;
            self.counts.replayed.fetch_add(written, Ordering::Relaxed);
            ::metrics::counter!(names::EVENTS_REPLAYED).increment(written);
            if isolated.unwritten.is_empty() {
                done += 1;
            } else {
                let rest = isolated
                    .unwritten
                    .iter()
                    .flat_map(|range| batch[range.clone()].iter().cloned())
                    .collect();
                retry.push(rest);
            }
        }
        let failed = !retry.is_empty();
        link.written(done, retry);
        if failed {
            Replayed::Failed
        } else {
            Replayed::Batches
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
