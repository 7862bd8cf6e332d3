//! Poison isolation: events a sink refuses for good are found by splitting
//! their batch, set aside and reported; the rest of the batch is written.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tower_activity::{Action, ActivityEvent, ActivitySink, MemorySink, REJECTED_ACTION, Recorder, SinkError};

/// Refuses, for good, every batch holding an event on the resource
/// "poison", as a database constraint would; stores the others.
#[derive(Default)]
struct Picky {
    sink: MemorySink,
    calls: AtomicUsize,
}

impl ActivitySink for Picky {
    async fn write_batch(&self, batch: &[ActivityEvent]) -> Result<(), SinkError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if batch
            .iter()
            .any(|event| event.resource_type.as_deref() == Some("poison"))
        {
            return Err(SinkError::permanent("check constraint \"no_poison\" violated"));
        }
        self.sink.write_batch(batch).await
    }
}

fn event(n: usize) -> ActivityEvent {
    let resource = if n % 4_000 == 1_234 { "poison" } else { "item" };
    ActivityEvent::builder(Action::Create)
        .resource(resource, n)
        .build()
        .unwrap()
}

#[test]
fn sink_errors_say_whether_retrying_can_help() {
    assert!(SinkError::permanent("constraint").is_permanent());
    assert!(!SinkError::transient("connection reset").is_permanent());
    assert!(!SinkError::new("connection reset").is_permanent());
}

#[tokio::test]
async fn poisoned_events_are_set_aside_and_the_rest_of_their_batch_is_written() {
    let picky = Arc::new(Picky::default());
    let recorder = Recorder::builder(picky.clone())
        .batch_size(500)
        .retry_backoff(Duration::from_millis(1), Duration::from_millis(2))
        .spawn();
    let events: Vec<ActivityEvent> = (0..10_000).map(event).collect();
    let poisoned: Vec<_> = events
        .iter()
        .filter(|event| event.resource_type.as_deref() == Some("poison"))
        .map(|event| event.id)
        .collect();
    assert_eq!(poisoned.len(), 3);
    for event in &events {
        recorder
            .record_wait(event.clone(), Duration::from_secs(60))
            .await
            .unwrap();
    }
    let report = recorder.shutdown().await;
    let stats = recorder.stats();
    assert_eq!(stats.rejected, 3);
    assert_eq!((report.dropped, report.lost), (0, 0));

    let stored = picky.sink.events();
    let (reports, written): (Vec<_>, Vec<_>) = stored
        .iter()
        .partition(|event| event.action.as_str() == REJECTED_ACTION);
    let mut expected: Vec<_> = events
        .iter()
        .filter(|event| !poisoned.contains(&event.id))
        .map(|event| event.id)
        .collect();
    let mut ids: Vec<_> = written.iter().map(|event| event.id).collect();
    expected.sort();
    ids.sort();
    assert_eq!(ids, expected, "every good event written once, no poisoned one");

    let reported: u64 = reports
        .iter()
        .map(|report| {
            report.details.as_ref().unwrap().to_value()["count"]
                .as_u64()
                .unwrap()
        })
        .sum();
    assert_eq!(reported, 3);
    let reason = reports[0].details.as_ref().unwrap().to_value()["reason"].clone();
    assert_eq!(reason, "check constraint \"no_poison\" violated");
    assert_eq!(report.written, stored.len() as u64);
    // A poisoned batch of 500 costs two writes per halving (about 20), not
    // one per event (500): the three of them well under 3 × 500 writes.
    let calls = picky.calls.load(Ordering::SeqCst);
    assert!(calls < 200, "{calls} writes");
}

#[tokio::test]
async fn a_batch_of_one_refused_event_is_rejected_without_retries() {
    let picky = Arc::new(Picky::default());
    let recorder = Recorder::builder(picky.clone())
        .retry_backoff(Duration::from_secs(60), Duration::from_secs(60))
        .spawn();
    let poison = ActivityEvent::builder(Action::Create)
        .resource("poison", 1)
        .build()
        .unwrap();
    recorder.record(poison).unwrap();
    recorder.flush().await;
    assert_eq!(recorder.stats().rejected, 1);
    recorder.shutdown().await;
    // Refused once, not retried (the minute-long backoff never ran), then
    // the report written.
    assert_eq!(picky.calls.load(Ordering::SeqCst), 2);
    let stored = picky.sink.events();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].action.as_str(), REJECTED_ACTION);
}
