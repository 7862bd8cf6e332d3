//! `log_activity`: logging an event by hand.

use crate::catalogue::CatalogueViolation;
use crate::context::ActivityContext;
use crate::event::{ActivityEvent, EventPolicy};
use crate::recorder::{LogError, global_recorder};

/// Logs `event` without waiting: fills what it leaves empty (actor, tenant,
/// request id, IP, user agent, method, route) from the current
/// [`ActivityContext`], redacts and caps it under the recorder's
/// [`EventPolicy`], and queues it on the context's recorder, or the global one.
///
/// Outside any request it still works: the event is the system's, and goes to
/// the [global recorder](crate::set_global_recorder). It never waits on the sink; when
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
        None => global_recorder().ok_or(LogError::NoRecorder)?.submit(event, None),
    }
}

/// Fills `event` from the current context and applies the current recorder's
/// catalogue and policy (or the default policy when there is no recorder),
/// without queueing it: the same preparation [`log_activity`] gives an
/// event, for code that writes the event itself, such as a transactional
/// write inside the caller's database transaction. Fails when the
/// recorder's catalogue is strict and refuses the event.
#[doc(hidden)]
pub fn prepare_event(mut event: ActivityEvent) -> Result<ActivityEvent, CatalogueViolation> {
    let context = ActivityContext::current();
    let recorder = context
        .as_ref()
        .and_then(|context| context.recorder().cloned())
        .or_else(global_recorder);
    let origin = context.map(|context| context.origin());
    match &recorder {
        Some(recorder) => {
            recorder.admit(&mut event)?;
            recorder.policy().prepare(&mut event, origin);
        }
        None => EventPolicy::default().prepare(&mut event, origin),
    }
    Ok(event)
}
