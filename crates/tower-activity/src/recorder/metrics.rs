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
