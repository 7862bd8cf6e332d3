//! The global recorder: where events go outside any request. It is process
//! state, so these tests live in a binary of their own and take turns.

use std::time::Duration;

use tokio::sync::Mutex;
use tower_activity::{Action, ActivityEvent, ActorKind, LogError, MemorySink, Recorder, log_activity};

static GLOBAL: Mutex<()> = Mutex::const_new(());

#[tokio::test]
async fn log_activity_outside_any_request_uses_the_global_recorder_as_the_system() {
    let _turn = GLOBAL.lock().await;
    let sink = MemorySink::new();
    let recorder = Recorder::builder(sink.clone())
        .flush_interval(Duration::from_millis(5))
        .spawn();
    tower_activity::set_global_recorder(recorder.clone());
    log_activity(
        ActivityEvent::builder("maintenance.vacuum.finished")
            .build()
            .unwrap(),
    )
    .unwrap();
    tower_activity::clear_global_recorder();
    assert_eq!(
        log_activity(ActivityEvent::builder(Action::Read).build().unwrap()),
        Err(LogError::NoRecorder)
    );
    recorder.flush().await;
    let events = sink.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].actor.as_ref().unwrap().kind, ActorKind::System);
    assert_eq!(events[0].request_id, None);
}

#[tokio::test]
async fn prepare_event_outside_any_request_uses_the_global_recorders_policy() {
    let _turn = GLOBAL.lock().await;
    let policy = tower_activity::EventPolicy::new().ip_privacy(tower_activity::IpPrivacy::truncate(8, 16));
    let recorder = Recorder::builder(MemorySink::new()).policy(policy).spawn();
    let event = || {
        ActivityEvent::builder(Action::Read)
            .ip("192.0.2.77".parse().unwrap())
            .build()
            .unwrap()
    };
    assert_eq!(
        tower_activity::prepare_event(event()).unwrap().ip.as_deref(),
        Some("192.0.2.77")
    );
    tower_activity::set_global_recorder(recorder);
    let prepared = tower_activity::prepare_event(event()).unwrap();
    tower_activity::clear_global_recorder();
    assert_eq!(prepared.ip.as_deref(), Some("192.0.0.0/8"));
    assert_eq!(prepared.actor.unwrap().kind, ActorKind::System);
}
