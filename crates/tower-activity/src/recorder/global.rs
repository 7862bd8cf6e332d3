//! The global recorder: where events go when their context names none.

use std::sync::RwLock;

use super::Recorder;

static GLOBAL: RwLock<Option<Recorder>> = RwLock::new(None);

/// Sets the recorder used by [`log_activity`](crate::log_activity) when the current context has
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

/// The global recorder, if one is set: what [`log_activity`](crate::log_activity) uses when the
/// current context has no recorder of its own.
pub fn global_recorder() -> Option<Recorder> {
    GLOBAL
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone()
}
