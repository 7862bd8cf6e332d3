//! Delivering one batch: to the spool while the writer is spooling,
//! otherwise to the sink with retries and poison isolation, whatever the
//! sink gives up on going to the spool when there is one.

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::sync::watch;
use tokio::time::Instant;

use super::builder::WriterConfig;
use super::isolate::{Isolated, write_isolating};
use super::metrics as names;
use super::spooling::{NotSpooled, SpoolLink};
use super::{ActivitySink, Counts};
use crate::event::ActivityEvent;

/// What a delivery needs, cloned from the writer.
pub(super) struct Courier<S> {
    pub(super) sink: Arc<S>,
    pub(super) shutdown: watch::Receiver<Option<Instant>>,
    pub(super) counts: Arc<Counts>,
    pub(super) config: WriterConfig,
    pub(super) spool: Option<SpoolLink>,
}

/// What became of a delivered batch, in events.
#[derive(Debug, Default)]
pub(super) struct Delivered {
    /// Appended to the spool.
    pub(super) spooled: u64,
    /// Whether some were spooled because the sink kept failing.
    pub(super) sink_failing: bool,
    /// Given up on: neither written nor spooled.
    pub(super) lost: u64,
    /// Of `lost`, how many were among the last `tail` of the batch (its
    /// alert events).
    pub(super) lost_in_tail: u64,
    /// Refused by the sink for good and set aside.
    pub(super) rejected: u64,
}

impl<S: ActivitySink> Courier<S> {
    /// Delivers `batch`; straight to the spool when `to_spool`. Rejections
    /// are reported unless `report_rejections` is false (for the writer's
    /// own reports, so that a refused report does not beget another).
    /// `tail` is how many events at the end of the batch are alert events.
    pub(super) async fn deliver(
        &self,
        batch: &[ActivityEvent],
        to_spool: bool,
        report_rejections: bool,
        tail: usize,
    ) -> Delivered {
        let mut delivered = Delivered::default();
        let mut patience = self.config;
        if to_spool && let Some(link) = &self.spool {
            match self.spool_events(link, batch.to_vec()).await {
                Ok(()) => {
                    delivered.spooled = batch.len() as u64;
                    return delivered;
                }
                // Written to the sink instead, and kept until it is.
                Err(()) => patience.spool_after = None,
            }
        }
        if self.spool.is_none() {
            patience.spool_after = None;
        }
        let isolated = write_isolating(&*self.sink, batch, &self.shutdown, &self.counts, patience).await;
        delivered.rejected += self.reject(batch, &isolated, report_rejections).await;
        if isolated.unwritten.is_empty() {
            return delivered;
        }
        let rest = gather(batch, &isolated.unwritten);
        if patience.spool_after.is_some()
            && let Some(link) = &self.spool
        {
            if self.spool_events(link, rest.clone()).await.is_ok() {
                delivered.spooled = rest.len() as u64;
                delivered.sink_failing = true;
                return delivered;
            }
            // The spool refused: keep trying the sink, as without one.
            patience.spool_after = None;
            let again = write_isolating(&*self.sink, &rest, &self.shutdown, &self.counts, patience).await;
            delivered.rejected += self.reject(&rest, &again, report_rejections).await;
            let tail_in_rest = in_tail(&isolated.unwritten, batch.len(), tail);
            delivered.lost = again.unwritten_len();
            delivered.lost_in_tail = in_tail(&again.unwritten, rest.len(), tail_in_rest as usize);
            return delivered;
        }
        delivered.lost = isolated.unwritten_len();
        delivered.lost_in_tail = in_tail(&isolated.unwritten, batch.len(), tail);
        delivered
    }

    /// Appends `events` to the spool, counting them; logs why not.
    async fn spool_events(&self, link: &SpoolLink, events: Vec<ActivityEvent>) -> Result<(), ()> {
        let n = events.len() as u64;
        match link.append(events).await {
            (_, Ok(bytes)) => {
                self.counts.spooled.fetch_add(n, Ordering::Relaxed);
                ::metrics::counter!(names::EVENTS_SPOOLED).increment(n);
                ::metrics::counter!(names::SPOOL_BYTES_WRITTEN).increment(bytes);
                Ok(())
            }
            (_, Err(NotSpooled::Full)) => {
                ::metrics::counter!(names::SPOOL_REFUSED, "reason" => "full").increment(1);
                tracing::warn!(
                    events = n,
                    "activity spool full: the batch waits in memory for the sink"
                );
                Err(())
            }
            (_, Err(NotSpooled::Failed(error))) => {
                ::metrics::counter!(names::SPOOL_REFUSED, "reason" => "error").increment(1);
                tracing::error!(%error, events = n, "activity spool write failed: the batch waits in memory for the sink");
                Err(())
            }
        }
    }

    /// Sets aside the events of `batch` the sink refused for good: counted,
    /// logged, kept in the dead-letter file when there is a spool, and left
    /// for an `activity.rejected` report when `report`. Returns how many.
    pub(super) async fn reject(&self, batch: &[ActivityEvent], isolated: &Isolated, report: bool) -> u64 {
        let n = isolated.rejected.len() as u64;
        if n == 0 {
            return 0;
        }
        let counts = &self.counts;
        counts.rejected.fetch_add(n, Ordering::Relaxed);
        ::metrics::counter!(names::EVENTS_REJECTED).increment(n);
        let reason = &isolated.rejected[0].1;
        if report {
            counts.note_rejections(n, reason);
        }
        let ids: Vec<String> = isolated
            .rejected
            .iter()
            .take(10)
            .map(|(at, _)| batch[*at].id.to_string())
            .collect();
        tracing::error!(events = n, %reason, ?ids, "activity sink refused events for good: set aside");
        if let Some(link) = &self.spool {
            let rejected = isolated
                .rejected
                .iter()
                .map(|(at, reason)| (batch[*at].clone(), reason.clone()))
                .collect();
            if let Err(error) = link.dead_letter(rejected).await {
                tracing::error!(%error, events = n, "could not keep rejected events in the dead-letter file");
            }
        }
        n
    }
}

/// The events at `ranges` of `batch`, in order.
fn gather(batch: &[ActivityEvent], ranges: &[Range<usize>]) -> Vec<ActivityEvent> {
    positions(ranges).map(|at| batch[at].clone()).collect()
}

/// How many of the positions `ranges` cover are among the last `tail` of
/// `len`.
fn in_tail(ranges: &[Range<usize>], len: usize, tail: usize) -> u64 {
    let start = len.saturating_sub(tail);
    positions(ranges).filter(|&at| at >= start).count() as u64
}

/// The positions `ranges` cover, in order.
fn positions(ranges: &[Range<usize>]) -> impl Iterator<Item = usize> + '_ {
    ranges.iter().flat_map(Clone::clone)
}
