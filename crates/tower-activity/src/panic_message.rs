//! The text of a panic payload, for events and logs.

use std::any::Any;

/// The longest panic message kept, in characters.
const MAX_PANIC_MESSAGE_CHARS: usize = 1_024;

/// The text of a panic payload, cut to a bounded length.
#[doc(hidden)]
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    let message = if let Some(text) = payload.downcast_ref::<&str>() {
        text
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.as_str()
    } else {
        "panic with a non-text payload"
    };
    message.chars().take(MAX_PANIC_MESSAGE_CHARS).collect()
}
