//! `log_activity`: logging an event by hand, and the global recorder.

use std::sync::RwLock;

use crate::context::ActivityContext;
use crate::event::ActivityEvent;
use crate::policy::EventPolicy;
use crate::recorder::{LogError, Recorder};

static GLOBAL: RwLock<Option<Recorder>> = RwLock::new(None);

/// Logs `event` without waiting: fills what it leaves empty (actor, tenant,
/// request id, IP, user agent, method, route) from the current
/// [`ActivityContext`], redacts and caps it under the recorder's
/// [`EventPolicy`], and queues it on the context's recorder, or the global one.
///
/// Outside any request it still works: the event is the system's, and goes to
/// the [global recorder](set_global_recorder). It never waits on the sink; when
/// the queue is full the event is dropped, counted and later reported, and
/// `Err` says so. Most callers ignore the result.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use tower_activity::{log_activity, ActivityContext, ActivityEvent, MemorySink, Recorder};
///
/// let sink = MemorySink::new();
/// let recorder = Recorder::builder(sink.clone()).spawn();
/// let job = ActivityContext::system("billing").with_recorder(recorder.clone());
///
/// job.scope(async {
///     let event = ActivityEvent::builder("billing.invoice.sent")
///         .resource("invoice", "inv_1")
///         .build()
///         .unwrap();
///     log_activity(event).unwrap();
/// })
/// .await;
///
/// recorder.shutdown().await;
/// assert_eq!(sink.events()[0].actor.as_ref().unwrap().id.as_deref(), Some("billing"));
/// # }
/// ```
pub fn log_activity(event: ActivityEvent) -> Result<(), LogError> {
    match ActivityContext::current() {
        Some(context) => context.log(event),
        None => global_recorder().ok_or(LogError::NoRecorder)?.record(event),
    }
}

/// Fills `event` from the current context and applies the current recorder's
/// policy (or the default policy when there is no recorder), without queueing
/// it: for sinks that write an event themselves, such as a transactional write
/// inside the caller's database transaction.
pub fn prepare_event(mut event: ActivityEvent) -> ActivityEvent {
    ActivityContext::fill_from_current(&mut event);
    let recorder = ActivityContext::current()
        .and_then(|context| context.recorder().cloned())
        .or_else(global_recorder);
    match recorder {
        Some(recorder) => recorder.policy().apply(&mut event),
        None => EventPolicy::default().apply(&mut event),
    }
    event
}

/// Sets the recorder used by [`log_activity`] when the current context has
/// none (or there is no context), returning the previous one.
pub fn set_global_recorder(recorder: Recorder) -> Option<Recorder> {
    write_global(Some(recorder))
}

/// Removes the global recorder, returning it.
pub fn clear_global_recorder() -> Option<Recorder> {
    write_global(None)
}

fn write_global(recorder: Option<Recorder>) -> Option<Recorder> {
    let mut global = GLOBAL.write().unwrap_or_else(|poisoned| poisoned.into_inner());
    std::mem::replace(&mut global, recorder)
}

/// The global recorder, if one is set: what [`log_activity`] uses when the
/// current context has no recorder of its own.
pub fn global_recorder() -> Option<Recorder> {
    GLOBAL
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone()
}
