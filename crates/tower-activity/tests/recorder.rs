//! The recorder: batching, retries, drops, shutdown, metrics.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use metrics_util::debugging::DebugValue;
use serde_json::json;
use tokio::sync::Semaphore;
use tower_activity::{
    Action, ActivityEvent, ActivitySink, DROPPED_ACTION, EventPolicy, IpPrivacy, LogError, MemorySink,
    Outcome, Recorder, SinkError,
};

mod support;
use support::{counter, with_metrics};

fn event(n: usize) -> ActivityEvent {
    ActivityEvent::builder(Action::Create)
        .resource("item", n)
        .build()
        .unwrap()
}

/// Fails its first `failures` writes, then stores batches in a memory sink.
struct Flaky {
    failures: usize,
    calls: AtomicUsize,
    sink: MemorySink,
}

impl ActivitySink for Flaky {
    async fn write_batch(&self, batch: &[ActivityEvent]) -> Result<(), SinkError> {
        if self.calls.fetch_add(1, Ordering::SeqCst) < self.failures {
            return Err(SinkError::new("database unavailable"));
        }
        self.sink.write_batch(batch).await
    }
}

/// Waits for a permit before each write: a stalled database.
struct Gated {
    gate: Arc<Semaphore>,
    sink: MemorySink,
}

impl ActivitySink for Gated {
    async fn write_batch(&self, batch: &[ActivityEvent]) -> Result<(), SinkError> {
        let _permit = self.gate.acquire().await.map_err(SinkError::new)?;
        self.sink.write_batch(batch).await
    }
}

/// Never finishes a write.
struct Hangs;

impl ActivitySink for Hangs {
    async fn write_batch(&self, _batch: &[ActivityEvent]) -> Result<(), SinkError> {
        std::future::pending().await
    }
}

#[tokio::test]
async fn batches_are_bounded_by_the_batch_size() {
    struct Sizes(std::sync::Mutex<Vec<usize>>);
    impl ActivitySink for Sizes {
        async fn write_batch(&self, batch: &[ActivityEvent]) -> Result<(), SinkError> {
            self.0.lock().unwrap().push(batch.len());
            Ok(())
        }
    }
    let sizes = Arc::new(Sizes(Default::default()));
    let recorder = Recorder::builder(sizes.clone())
        .batch_size(64)
        .flush_interval(Duration::from_secs(60))
        .spawn();
    for n in 0..1_000 {
        recorder.record(event(n)).unwrap();
    }
    recorder.shutdown().await;
    let sizes = sizes.0.lock().unwrap().clone();
    assert!(sizes.iter().all(|&size| size <= 64), "{sizes:?}");
    assert_eq!(sizes.iter().sum::<usize>(), 1_000);
}

#[tokio::test]
async fn a_partial_batch_is_written_after_the_flush_interval() {
    let sink = MemorySink::new();
    let recorder = Recorder::builder(sink.clone())
        .batch_size(1_000)
        .flush_interval(Duration::from_millis(20))
        .spawn();
    recorder.record(event(1)).unwrap();
    tokio::time::timeout(Duration::from_secs(5), async {
        while sink.is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the batch was written without a flush or shutdown");
}

#[tokio::test]
async fn a_sink_that_fails_five_times_then_recovers_loses_nothing() {
    let flaky = Arc::new(Flaky {
        failures: 5,
        calls: AtomicUsize::new(0),
        sink: MemorySink::new(),
    });
    let recorder = Recorder::builder(flaky.clone())
        .batch_size(1_000)
        .retry_backoff(Duration::from_millis(1), Duration::from_millis(4))
        .spawn();
    for n in 0..250 {
        recorder.record(event(n)).unwrap();
    }
    let report = recorder.shutdown().await;
    assert_eq!(report.written, 250);
    assert_eq!(report.dropped, 0);
    assert_eq!(report.lost, 0);
    assert_eq!(recorder.stats().failed_batches, 5);
    let written = flaky.sink.events();
    assert_eq!(written.len(), 250);
    let ids: Vec<_> = written
        .iter()
        .map(|event| event.resource_id.as_deref().unwrap().to_owned())
        .collect();
    let mut expected: Vec<_> = (0..250).map(|n| n.to_string()).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    expected.sort();
    assert_eq!(sorted, expected);
}

#[tokio::test]
async fn a_hanging_sink_never_blocks_recording() {
    let recorder = Recorder::builder(Hangs)
        .capacity(100)
        .write_timeout(Duration::from_millis(50))
        .shutdown_timeout(Duration::from_millis(200))
        .spawn();
    let started = std::time::Instant::now();
    let mut accepted = 0;
    for n in 0..10_000 {
        if recorder.record(event(n)).is_ok() {
            accepted += 1;
        }
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "recording waited on the sink"
    );
    assert!(accepted >= 100);
    let report = recorder.shutdown().await;
    assert_eq!(report.written, 0);
    assert_eq!(
        report.dropped, 10_000,
        "every event is dropped or lost, none silently"
    );
    assert_eq!(report.lost, accepted);
}

#[tokio::test]
async fn a_full_queue_drops_newest_counts_exactly_and_reports_once_recovered() {
    let gate = Arc::new(Semaphore::new(0));
    let sink = MemorySink::new();
    let recorder = Recorder::builder(Gated {
        gate: gate.clone(),
        sink: sink.clone(),
    })
    .capacity(10)
    .batch_size(5)
    .flush_interval(Duration::from_millis(1))
    .spawn();

    let mut refused = Vec::new();
    for n in 0..200 {
        match recorder.record(event(n)) {
            Ok(()) => {}
            Err(LogError::QueueFull) => refused.push(n.to_string()),
            Err(other) => panic!("unexpected {other}"),
        }
        tokio::task::yield_now().await;
    }
    assert!(!refused.is_empty());
    assert_eq!(recorder.stats().dropped, refused.len() as u64);

    gate.add_permits(1_000);
    recorder.shutdown().await;
    let events = sink.events();
    let mut kept: Vec<String> = events
        .iter()
        .filter(|event| event.action == Action::Create)
        .map(|event| event.resource_id.as_deref().unwrap().to_owned())
        .collect();
    kept.sort_by_key(|id| id.parse::<usize>().unwrap());
    let accepted: Vec<String> = (0..200)
        .map(|n| n.to_string())
        .filter(|id| !refused.contains(id))
        .collect();
    assert_eq!(kept, accepted, "exactly the accepted events are written");
    let reports: Vec<_> = events
        .iter()
        .filter(|event| event.action.as_str() == DROPPED_ACTION)
        .collect();
    let reported: u64 = reports
        .iter()
        .map(|event| {
            event
                .details
                .as_ref()
                .unwrap()
                .get("count")
                .unwrap()
                .as_u64()
                .unwrap()
        })
        .sum();
    assert_eq!(reported, refused.len() as u64);
    assert!(reports.iter().all(|report| report.outcome == Outcome::Warning));
}

#[tokio::test]
async fn record_wait_waits_for_room_up_to_its_bound() {
    let gate = Arc::new(Semaphore::new(0));
    let sink = MemorySink::new();
    let recorder = Recorder::builder(Gated {
        gate: gate.clone(),
        sink: sink.clone(),
    })
    .capacity(1)
    .batch_size(1)
    .spawn();
    // One event is taken by the writer (stuck at the gate), one fills the queue.
    recorder.record(event(0)).unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    recorder.record(event(1)).unwrap();
    assert_eq!(
        recorder.record_wait(event(2), Duration::from_millis(20)).await,
        Err(LogError::QueueFull)
    );
    let waiting = {
        let recorder = recorder.clone();
        tokio::spawn(async move { recorder.record_wait(event(3), Duration::from_secs(10)).await })
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    gate.add_permits(100);
    assert_eq!(waiting.await.unwrap(), Ok(()));
    recorder.shutdown().await;
    assert_eq!(
        sink.events()
            .iter()
            .filter(|e| e.action == Action::Create)
            .count(),
        3
    );
}

#[tokio::test]
async fn shutdown_writes_every_event_in_flight() {
    let gate = Arc::new(Semaphore::new(0));
    let sink = MemorySink::new();
    let recorder = Recorder::builder(Gated {
        gate: gate.clone(),
        sink: sink.clone(),
    })
    .capacity(20_000)
    .batch_size(100)
    .spawn();
    for n in 0..10_000 {
        recorder.record(event(n)).unwrap();
    }
    assert!(sink.is_empty());
    let shutdown = {
        let recorder = recorder.clone();
        tokio::spawn(async move { recorder.shutdown().await })
    };
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(recorder.record(event(0)), Err(LogError::Closed));
    gate.add_permits(1_000);
    let report = shutdown.await.unwrap();
    assert_eq!(report.written, 10_000);
    assert_eq!(report.dropped, 1, "only the event recorded after shutdown began");
    assert_eq!(sink.len(), 10_000);
    // A second shutdown waits for nothing and reports the same.
    assert_eq!(recorder.shutdown().await, report);
}

#[tokio::test]
async fn flush_waits_for_everything_recorded_before_it() {
    let sink = MemorySink::new();
    let recorder = Recorder::builder(sink.clone())
        .flush_interval(Duration::from_secs(3_600))
        .spawn();
    for n in 0..10 {
        recorder.record(event(n)).unwrap();
    }
    tokio::time::timeout(Duration::from_secs(5), recorder.flush())
        .await
        .expect("flush does not wait for the flush interval");
    assert_eq!(sink.len(), 10);
}

#[tokio::test]
async fn the_policy_applies_before_the_sink_sees_the_event() {
    let sink = MemorySink::new();
    let recorder = Recorder::builder(sink.clone())
        .policy(EventPolicy::new().ip_privacy(IpPrivacy::truncate(24, 48)))
        .spawn();
    let event = ActivityEvent::builder(Action::Update)
        .ip("203.0.113.99".parse().unwrap())
        .details(json!({
            "user": {"password": "hunter2", "profile": {"Authorization": "Bearer t"}},
            "blob": "x".repeat(1024 * 1024)
        }))
        .build()
        .unwrap();
    recorder.record(event).unwrap();
    let small = ActivityEvent::builder(Action::Update)
        .details(json!({"form": [{"new_password": "p", "name": "ok"}]}))
        .build()
        .unwrap();
    recorder.record(small).unwrap();
    recorder.shutdown().await;
    let events = sink.events();
    assert_eq!(events[0].ip.as_deref(), Some("203.0.113.0/24"));
    let omitted = events[0]
        .details
        .as_ref()
        .unwrap()
        .get("details_omitted")
        .unwrap();
    assert!(omitted["bytes"].as_u64().unwrap() > 1024 * 1024);
    assert_eq!(omitted["limit"], 16 * 1024);
    assert_eq!(
        events[1].details.as_ref().unwrap(),
        &json!({"form": [{"new_password": "[REDACTED]", "name": "ok"}]})
    );
}

#[test]
fn counters_and_gauges_are_reported_through_the_metrics_facade() {
    let reported = with_metrics(|| async {
        let flaky = Flaky {
            failures: 2,
            calls: AtomicUsize::new(0),
            sink: MemorySink::new(),
        };
        let recorder = Recorder::builder(flaky)
            .capacity(5)
            .retry_backoff(Duration::from_millis(1), Duration::from_millis(1))
            .spawn();
        for n in 0..8 {
            let _ = recorder.record(event(n));
        }
        recorder.shutdown().await;
    });
    let counter = |name: &str| counter(&reported, name);
    let value = |name: &str| {
        reported
            .iter()
            .find(|metric| metric.name == name)
            .map(|metric| &metric.value)
    };
    assert_eq!(counter(tower_activity::metrics::EVENTS_RECORDED), 5);
    assert_eq!(counter(tower_activity::metrics::EVENTS_DROPPED), 3);
    assert_eq!(
        counter(tower_activity::metrics::EVENTS_WRITTEN),
        6,
        "five events and the drop report"
    );
    assert_eq!(counter(tower_activity::metrics::BATCHES_FAILED), 2);
    assert!(matches!(
        value(tower_activity::metrics::QUEUE_DEPTH),
        Some(DebugValue::Gauge(_))
    ));
    assert!(matches!(
        value(tower_activity::metrics::BATCH_WRITE_SECONDS),
        Some(DebugValue::Histogram(samples)) if !samples.is_empty()
    ));
}

#[tokio::test]
async fn a_sink_that_panics_is_retried_like_a_failing_one() {
    struct PanicsOnce {
        calls: AtomicUsize,
        sink: MemorySink,
    }
    impl ActivitySink for PanicsOnce {
        async fn write_batch(&self, batch: &[ActivityEvent]) -> Result<(), SinkError> {
            if self.calls.fetch_add(1, Ordering::SeqCst) == 0 {
                panic!("driver bug");
            }
            self.sink.write_batch(batch).await
        }
    }
    let sink = Arc::new(PanicsOnce {
        calls: AtomicUsize::new(0),
        sink: MemorySink::new(),
    });
    let recorder = Recorder::builder(sink.clone())
        .retry_backoff(Duration::from_millis(1), Duration::from_millis(1))
        .spawn();
    for n in 0..3 {
        recorder.record(event(n)).unwrap();
    }
    recorder.flush().await;
    recorder.record(event(3)).unwrap();
    let report = recorder.shutdown().await;
    assert_eq!(report.written, 4);
    assert_eq!(recorder.stats().failed_batches, 1);
    assert_eq!(sink.sink.len(), 4);
}

#[tokio::test]
async fn extreme_durations_do_not_break_the_writer() {
    let sink = MemorySink::new();
    let recorder = Recorder::builder(sink.clone())
        .flush_interval(Duration::MAX)
        .write_timeout(Duration::MAX)
        .retry_backoff(Duration::MAX, Duration::MAX)
        .shutdown_timeout(Duration::MAX)
        .spawn();
    recorder.record(event(1)).unwrap();
    let report = tokio::time::timeout(Duration::from_secs(10), recorder.shutdown())
        .await
        .expect("shutdown finishes");
    assert_eq!(report.written, 1);
    assert_eq!(sink.len(), 1);
}

#[tokio::test]
async fn a_cancelled_shutdown_leaves_the_next_one_to_wait_for_the_writer() {
    let gate = Arc::new(Semaphore::new(0));
    let sink = MemorySink::new();
    let recorder = Recorder::builder(Gated {
        gate: gate.clone(),
        sink: sink.clone(),
    })
    .spawn();
    for n in 0..50 {
        recorder.record(event(n)).unwrap();
    }
    let cancelled = tokio::time::timeout(Duration::from_millis(50), recorder.shutdown()).await;
    assert!(cancelled.is_err(), "the gated writer cannot finish yet");
    gate.add_permits(1_000);
    let report = recorder.shutdown().await;
    assert_eq!(report.written, 50);
    assert_eq!(sink.len(), 50);
}

/// Counts how many writes are under way at once, each waiting at a gate.
struct Concurrent {
    allowed: usize,
    now: AtomicUsize,
    most: AtomicUsize,
    gate: Arc<Semaphore>,
    sink: MemorySink,
}

impl ActivitySink for Concurrent {
    async fn write_batch(&self, batch: &[ActivityEvent]) -> Result<(), SinkError> {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        let _permit = self.gate.acquire().await.map_err(SinkError::new)?;
        self.now.fetch_sub(1, Ordering::SeqCst);
        self.sink.write_batch(batch).await
    }

    fn max_concurrent_writes(&self) -> usize {
        self.allowed
    }
}

#[tokio::test]
async fn batches_are_written_concurrently_up_to_what_the_sink_allows() {
    for allowed in [1, 3] {
        let sink = Arc::new(Concurrent {
            allowed,
            now: AtomicUsize::new(0),
            most: AtomicUsize::new(0),
            gate: Arc::new(Semaphore::new(0)),
            sink: MemorySink::new(),
        });
        let recorder = Recorder::builder(sink.clone()).batch_size(10).spawn();
        for n in 0..100 {
            recorder.record(event(n)).unwrap();
        }
        tokio::time::timeout(Duration::from_secs(10), async {
            while sink.now.load(Ordering::SeqCst) < allowed {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .expect("the writer starts as many writes as allowed");
        sink.gate.add_permits(1_000);
        let report = recorder.shutdown().await;
        assert_eq!(report.written, 100);
        assert_eq!(sink.sink.len(), 100);
        assert_eq!(
            sink.most.load(Ordering::SeqCst),
            allowed,
            "never more writes at once"
        );
    }
}

/// Holds its first write at a gate; later writes go straight through.
struct HoldFirst {
    held: std::sync::atomic::AtomicBool,
    gate: Semaphore,
    sink: MemorySink,
}

impl ActivitySink for HoldFirst {
    async fn write_batch(&self, batch: &[ActivityEvent]) -> Result<(), SinkError> {
        if !self.held.swap(true, Ordering::SeqCst) {
            let _permit = self.gate.acquire().await.map_err(SinkError::new)?;
        }
        self.sink.write_batch(batch).await
    }

    fn max_concurrent_writes(&self) -> usize {
        2
    }
}

#[tokio::test]
async fn flush_waits_for_earlier_events_when_later_batches_finish_first() {
    let sink = Arc::new(HoldFirst {
        held: std::sync::atomic::AtomicBool::new(false),
        gate: Semaphore::new(0),
        sink: MemorySink::new(),
    });
    let recorder = Recorder::builder(sink.clone()).batch_size(10).spawn();
    for n in 0..20 {
        recorder.record(event(n)).unwrap();
    }
    let flush = tokio::spawn({
        let recorder = recorder.clone();
        async move { recorder.flush().await }
    });
    // Lets the flush take its target (this test's runtime has one thread).
    tokio::task::yield_now().await;
    // Events recorded after the flush, written while the first batch is held:
    // as many events finish as the flush waits for, but not the right ones.
    for n in 20..30 {
        recorder.record(event(n)).unwrap();
    }
    tokio::time::timeout(Duration::from_secs(10), async {
        while sink.sink.len() < 20 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the batches after the held one are written");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !flush.is_finished(),
        "flush returned while its first batch was unwritten"
    );
    sink.gate.add_permits(1);
    tokio::time::timeout(Duration::from_secs(10), flush)
        .await
        .expect("flush returns once every earlier event is written")
        .unwrap();
    let written: Vec<_> = sink
        .sink
        .events()
        .into_iter()
        .map(|event| event.resource_id)
        .collect();
    for n in 0..20 {
        assert!(
            written.contains(&Some(n.to_string().into())),
            "event {n} written before flush returned"
        );
    }
    recorder.shutdown().await;
}
