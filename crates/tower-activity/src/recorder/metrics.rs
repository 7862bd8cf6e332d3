//! The metrics the recorder reports through the [`metrics`] facade.
//!
//! Install any `metrics` exporter (Prometheus, StatsD, …) to collect them; with
//! none installed they cost next to nothing.

/// Counter: events accepted into the queue, added as the writer takes them
/// (so the request path does not touch the metrics recorder).
pub const EVENTS_RECORDED: &str = "activity_events_recorded_total";
/// Counter: events written by the sink.
pub const EVENTS_WRITTEN: &str = "activity_events_written_total";
/// Counter: events dropped because the queue was full or the recorder closed,
/// or given up on at shutdown.
pub const EVENTS_DROPPED: &str = "activity_events_dropped_total";
/// Counter: batch writes that failed and were retried.
pub const BATCHES_FAILED: &str = "activity_batches_failed_total";
/// Gauge: events waiting in the queue.
pub const QUEUE_DEPTH: &str = "activity_queue_depth";
/// Histogram: seconds taken by each successful batch write.
pub const BATCH_WRITE_SECONDS: &str = "activity_batch_write_seconds";
/// Counter: batches a [`Tee`](crate::Tee)'s secondary sink failed or timed
/// out on (written by the primary, not retried for the secondary).
pub const SECONDARY_BATCHES_FAILED: &str = "activity_secondary_batches_failed_total";
/// Counter, labelled `rule`: alerts raised by [`Alerts`](crate::Alerts) rules.
pub const ALERTS_RAISED: &str = "activity_alerts_raised_total";
/// Counter: `security.alert` events lost with their batch (the sink still
/// failing at the shutdown deadline).
pub const ALERT_EVENTS_DROPPED: &str = "activity_alert_events_dropped_total";
/// Counter: alert callbacks skipped because too many were still running.
pub const ALERT_CALLBACKS_SKIPPED: &str = "activity_alert_callbacks_skipped_total";
/// Counter: events that broke the recorder's [`Catalogue`](crate::Catalogue),
/// labelled `handling`: `refused` (strict mode) or `marked` (lenient mode,
/// the event kept).
pub const CATALOGUE_VIOLATIONS: &str = "activity_catalogue_violations_total";
/// Counter: events the sink refused for good and the writer set aside.
pub const EVENTS_REJECTED: &str = "activity_events_rejected_total";
/// Counter: events appended to the durable spool.
pub const EVENTS_SPOOLED: &str = "activity_spool_events_total";
/// Counter: bytes appended to the durable spool.
pub const SPOOL_BYTES_WRITTEN: &str = "activity_spool_bytes_total";
/// Counter: events written from the spool to the sink.
pub const EVENTS_REPLAYED: &str = "activity_spool_replayed_events_total";
/// Counter: damaged spool records skipped on replay.
pub const SPOOL_SKIPPED_RECORDS: &str = "activity_spool_skipped_records_total";
/// Counter: bytes of damaged spool records skipped on replay.
pub const SPOOL_SKIPPED_BYTES: &str = "activity_spool_skipped_bytes_total";
/// Counter, labelled `reason` (`full` or `error`): batches the spool could
/// not take, kept in memory for the sink instead.
pub const SPOOL_REFUSED: &str = "activity_spool_refused_batches_total";
/// Gauge: 1 while new batches go to the spool, 0 otherwise.
pub const SPOOLING: &str = "activity_spooling";
