//! The recorder with a durable spool: an outage of the sink spools batches
//! and replays them once it is back, shutdown spools instead of losing, a
//! new recorder replays what an earlier one left, and a torn spool tail is
//! skipped and counted.
#![cfg(feature = "spool")]

use std::collections::HashSet;
use std::fs::{self, OpenOptions};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tower_activity::spool::Spool;
use tower_activity::{Action, ActivityEvent, ActivitySink, MemorySink, Recorder, RecorderBuilder, SinkError};
use uuid::Uuid;

mod support;

/// A sink that fails while it is down, as a database that refuses
/// connections.
#[derive(Default)]
struct Switch {
    down: AtomicBool,
    sink: MemorySink,
}

impl Switch {
    fn down() -> Arc<Self> {
        let switch = Arc::new(Switch::default());
        switch.down.store(true, Ordering::SeqCst);
        switch
    }
}

impl ActivitySink for Switch {
    async fn write_batch(&self, batch: &[ActivityEvent]) -> Result<(), SinkError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(SinkError::transient("connection refused"));
        }
        self.sink.write_batch(batch).await
    }
}

fn event(n: usize) -> ActivityEvent {
    ActivityEvent::builder(Action::Create)
        .resource("item", n)
        .build()
        .unwrap()
}

fn recorder(sink: Arc<Switch>, dir: &Path) -> RecorderBuilder<Arc<Switch>> {
    Recorder::builder(sink)
        .spool(Spool::open(dir).unwrap())
        .batch_size(100)
        .flush_interval(Duration::from_millis(5))
        .retry_backoff(Duration::from_millis(2), Duration::from_millis(20))
        .spool_after(Duration::from_millis(20))
}

/// Waits, up to a bound that only a hang reaches, until `done`.
async fn until(mut done: impl FnMut() -> bool) {
    tokio::time::timeout(Duration::from_secs(30), async {
        while !done() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the recorder got there");
}

/// Asserts that `sink` holds each of `events` exactly once, and nothing else.
fn exactly_once(sink: &MemorySink, events: &[ActivityEvent]) {
    let stored = sink.events();
    let ids: HashSet<Uuid> = stored.iter().map(|event| event.id).collect();
    assert_eq!(ids.len(), stored.len(), "no event written twice");
    let wanted: HashSet<Uuid> = events.iter().map(|event| event.id).collect();
    assert_eq!(ids, wanted);
}

#[tokio::test]
async fn an_outage_is_spooled_and_replayed_in_order_once_the_sink_is_back() {
    let dir = tempfile::tempdir().unwrap();
    let switch = Switch::down();
    let recorder = recorder(switch.clone(), dir.path()).spawn();
    let events: Vec<_> = (0..3_000).map(event).collect();
    for event in &events[..2_000] {
        recorder.record(event.clone()).unwrap();
    }
    recorder.flush().await;
    let stats = recorder.stats();
    assert_eq!(stats.spooled, 2_000, "every event is on disk");
    assert!(switch.sink.is_empty());

    switch.down.store(false, Ordering::SeqCst);
    // Events recorded during the replay queue up behind it.
    for event in &events[2_000..] {
        recorder.record(event.clone()).unwrap();
    }
    until(|| switch.sink.len() == 3_000).await;
    let report = recorder.shutdown().await;
    assert_eq!((report.dropped, report.lost), (0, 0));
    exactly_once(&switch.sink, &events);
    let order: Vec<Uuid> = switch.sink.events().iter().map(|event| event.id).collect();
    let wanted: Vec<Uuid> = events.iter().map(|event| event.id).collect();
    assert!(order == wanted, "oldest first, one write at a time");
    assert_eq!(recorder.stats().replayed, report.spooled);
    assert!(Spool::open(dir.path()).unwrap().is_empty());
}

#[tokio::test]
async fn shutdown_with_the_sink_down_spools_and_the_next_recorder_replays() {
    let dir = tempfile::tempdir().unwrap();
    let events: Vec<_> = (0..1_000).map(event).collect();
    let switch = Switch::down();
    let first = recorder(switch.clone(), dir.path())
        .spool_after(Duration::from_secs(3_600))
        .spawn();
    for event in &events {
        first.record(event.clone()).unwrap();
    }
    let report = first.shutdown().await;
    assert_eq!((report.written, report.lost, report.dropped), (0, 0, 0));
    assert_eq!(report.spooled, 1_000);

    let back = Arc::new(Switch::default());
    let second = recorder(back.clone(), dir.path()).spawn();
    until(|| back.sink.len() == 1_000).await;
    let report = second.shutdown().await;
    assert_eq!(report.replayed, 1_000);
    exactly_once(&back.sink, &events);
}

/// Spools 1,050 events in `dir` as two records, of 20 and of 1,030, as an
/// earlier process left them; returns them.
fn spooled_in_two_records(dir: &Path) -> Vec<ActivityEvent> {
    let events: Vec<_> = (0..1_050).map(event).collect();
    let mut spool = Spool::open(dir).unwrap();
    spool.append(&events[..20]).unwrap();
    spool.append(&events[20..]).unwrap();
    spool.sync().unwrap();
    events
}

/// A sink that keeps the size of every batch it is given.
#[derive(Default)]
struct Sizes {
    sizes: std::sync::Mutex<Vec<usize>>,
    sink: MemorySink,
}

impl ActivitySink for Sizes {
    async fn write_batch(&self, batch: &[ActivityEvent]) -> Result<(), SinkError> {
        self.sizes.lock().unwrap().push(batch.len());
        self.sink.write_batch(batch).await
    }
}

#[tokio::test]
async fn a_spooled_record_larger_than_a_batch_is_replayed_in_batches_of_the_batch_size() {
    let dir = tempfile::tempdir().unwrap();
    let events = spooled_in_two_records(dir.path());

    let sink = Arc::new(Sizes::default());
    let recorder = Recorder::builder(sink.clone())
        .spool(Spool::open(dir.path()).unwrap())
        .batch_size(100)
        .spawn();
    until(|| sink.sink.len() == 1_050).await;
    recorder.shutdown().await;
    exactly_once(&sink.sink, &events);
    let order: Vec<Uuid> = sink.sink.events().iter().map(|event| event.id).collect();
    let wanted: Vec<Uuid> = events.iter().map(|event| event.id).collect();
    assert!(order == wanted, "oldest first");
    let sizes = sink.sizes.lock().unwrap().clone();
    assert!(sizes.iter().all(|size| *size <= 100), "{sizes:?}");
    assert_eq!(sizes.len(), 11, "the small record with the next one: {sizes:?}");
}

/// Fails the `nth` write it is given (from 1), once.
struct FailsOnce {
    nth: usize,
    writes: std::sync::atomic::AtomicUsize,
    failed: std::sync::Mutex<Option<Uuid>>,
    sink: MemorySink,
}

impl ActivitySink for FailsOnce {
    async fn write_batch(&self, batch: &[ActivityEvent]) -> Result<(), SinkError> {
        if self.writes.fetch_add(1, Ordering::SeqCst) + 1 == self.nth {
            *self.failed.lock().unwrap() = batch.first().map(|event| event.id);
            return Err(SinkError::transient("connection reset"));
        }
        self.sink.write_batch(batch).await
    }
}

#[tokio::test]
async fn a_replayed_batch_that_fails_is_put_back_and_written_before_those_not_begun() {
    let dir = tempfile::tempdir().unwrap();
    // Its second record holds ten batches and more: its parts wait as put
    // back.
    let events = spooled_in_two_records(dir.path());

    let sink = Arc::new(FailsOnce {
        nth: 3,
        writes: Default::default(),
        failed: Default::default(),
        sink: MemorySink::default(),
    });
    let recorder = Recorder::builder(sink.clone())
        .spool(Spool::open(dir.path()).unwrap())
        .batch_size(100)
        .concurrent_writes(2)
        .retry_backoff(Duration::from_millis(2), Duration::from_millis(20))
        .spawn();
    until(|| sink.sink.len() == 1_050).await;
    let report = recorder.shutdown().await;
    assert_eq!((report.lost, report.dropped), (0, 0));
    exactly_once(&sink.sink, &events);
    assert!(
        Spool::open(dir.path()).unwrap().is_empty(),
        "the file is finished"
    );
    // The failed batch went out again before any batch begun after the one
    // written beside it.
    let failed = sink.failed.lock().unwrap().expect("a write failed");
    let order: Vec<Uuid> = sink.sink.events().iter().map(|event| event.id).collect();
    let position = |id: Uuid| order.iter().position(|stored| *stored == id).unwrap();
    let at = events.iter().position(|event| event.id == failed).unwrap();
    for later in events[at..].chunks(100).skip(2) {
        assert!(position(failed) < position(later[0].id), "retried first");
    }
}

#[tokio::test]
async fn a_torn_spool_tail_is_skipped_and_counted_never_written() {
    let dir = tempfile::tempdir().unwrap();
    let events: Vec<_> = (0..500).map(event).collect();
    let first = recorder(Switch::down(), dir.path()).spawn();
    for event in &events {
        first.record(event.clone()).unwrap();
        if event.resource_id.as_deref() == Some("399") {
            // The last 100 in a record of their own.
            first.flush().await;
        }
    }
    first.shutdown().await;
    // A power loss mid-write: the last record cut short.
    let file = fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| path.extension().is_some_and(|extension| extension == "spool"))
        .unwrap();
    let length = fs::metadata(&file).unwrap().len();
    OpenOptions::new()
        .write(true)
        .open(&file)
        .unwrap()
        .set_len(length - 50)
        .unwrap();

    let back = Arc::new(Switch::default());
    let second = recorder(back.clone(), dir.path()).spawn();
    until(|| second.stats().spool_skipped_records == 1).await;
    second.flush().await;
    let report = second.shutdown().await;
    assert_eq!(report.replayed, 400);
    exactly_once(&back.sink, &events[..400]);
}

#[tokio::test]
async fn without_an_outage_the_spool_is_never_touched() {
    let dir = tempfile::tempdir().unwrap();
    let switch = Arc::new(Switch::default());
    let recorder = recorder(switch.clone(), dir.path()).spawn();
    for n in 0..2_000 {
        recorder.record(event(n)).unwrap();
    }
    let report = recorder.shutdown().await;
    assert_eq!((report.written, report.spooled), (2_000, 0));
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0, "no file made");
}

/// Never finishes a write: a database that stopped answering.
struct Hangs;

impl ActivitySink for Hangs {
    async fn write_batch(&self, _batch: &[ActivityEvent]) -> Result<(), SinkError> {
        std::future::pending().await
    }
}

#[tokio::test]
async fn a_queue_past_its_high_water_mark_spools_while_a_write_hangs_and_shutdown_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let hanging = Recorder::builder(Hangs)
        .spool(Spool::open(dir.path()).unwrap())
        .capacity(1_000)
        .spool_high_water(500)
        .batch_size(100)
        .write_timeout(Duration::from_secs(3_600))
        .spool_after(Duration::from_secs(3_600))
        .shutdown_timeout(Duration::from_millis(200))
        .spawn();
    let events: Vec<_> = (0..5_000).map(event).collect();
    for event in &events {
        hanging
            .record_wait(event.clone(), Duration::from_secs(30))
            .await
            .unwrap();
    }
    let stats = hanging.stats();
    assert_eq!(stats.dropped, 0);
    assert!(stats.spooled >= 3_000, "{stats:?}");
    let report = hanging.shutdown().await;
    assert_eq!((report.lost, report.dropped), (0, 0));
    assert_eq!(report.spooled, 5_000, "the hanging batch too, at the deadline");

    let back = Arc::new(Switch::default());
    let replay = recorder(back.clone(), dir.path()).spawn();
    until(|| back.sink.len() == 5_000).await;
    replay.shutdown().await;
    exactly_once(&back.sink, &events);
}

#[test]
fn spooling_and_replay_are_counted_through_the_metrics_facade() {
    let dir = tempfile::tempdir().unwrap();
    let reported = support::with_metrics(|| async {
        let switch = Switch::down();
        let recorder = recorder(switch.clone(), dir.path()).spawn();
        for n in 0..300 {
            recorder.record(event(n)).unwrap();
        }
        recorder.flush().await;
        switch.down.store(false, Ordering::SeqCst);
        until(|| switch.sink.len() == 300).await;
        recorder.shutdown().await;
    });
    assert_eq!(support::counter(&reported, "activity_spool_events_total"), 300);
    assert_eq!(
        support::counter(&reported, "activity_spool_replayed_events_total"),
        300
    );
    // Each event's id alone takes 16 bytes.
    assert!(support::counter(&reported, "activity_spool_bytes_total") > 300 * 16);
    assert_eq!(
        support::counter(&reported, "activity_spool_skipped_records_total"),
        0
    );
}
