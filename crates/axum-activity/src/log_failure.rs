//! What to do when an event the crate writes itself could not be queued.

use tower_activity::LogError;

/// Reports a logging failure without touching the response: a missing
/// recorder, or an event a strict catalogue refuses, is a configuration
/// error worth a warning, while a full queue is already counted and
/// reported by the recorder. `by` says who could not
/// record.
pub(crate) fn report(error: LogError, by: &'static str) {
    match error {
        LogError::NoRecorder | LogError::Catalogue(_) => {
            tracing::warn!(%error, by, "could not record an activity event")
        }
        LogError::QueueFull | LogError::Closed => {
            tracing::debug!(%error, by, "could not record an activity event");
        }
    }
}
