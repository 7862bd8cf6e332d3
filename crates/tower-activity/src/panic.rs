//! What happens when the inner service panics: one `system.panic` event and an
//! empty `500` response.

use std::any::Any;

use http::{HeaderName, Response, StatusCode};

use crate::action::Action;
use crate::context::ActivityContext;
use crate::event::ActivityEvent;
use crate::outcome::Outcome;

/// The action of the event recorded for a panic.
pub const PANIC_ACTION: &str = "system.panic";

/// The longest panic message kept, in characters.
const MAX_PANIC_MESSAGE_CHARS: usize = 1_024;

/// The text of a panic payload, cut to a bounded length.
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

/// Records a `system.panic` event for the request, unless a handler wrapper
/// already recorded the panic. A failure to record is logged and otherwise
/// ignored: the response is sent either way.
pub(crate) fn record_panic(context: &ActivityContext, payload: &(dyn Any + Send)) {
    if context.panic_recorded() {
        return;
    }
    let message = panic_message(payload);
    tracing::error!(request_id = context.request_id(), panic = %message, "service panicked");
    let event = ActivityEvent::builder(Action::system(PANIC_ACTION))
        .status(StatusCode::INTERNAL_SERVER_ERROR)
        .outcome(Outcome::Critical)
        .detail("panic", message)
        .build();
    if let Ok(event) = event
        && let Err(error) = context.log(event)
    {
        tracing::error!(%error, "could not record the panic");
    }
}

/// An empty `500` carrying the request id.
pub(crate) fn internal_error<B: Default>(context: &ActivityContext, header: &HeaderName) -> Response<B> {
    let mut response = Response::new(B::default());
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response
        .headers_mut()
        .insert(header.clone(), context.request_id_value().clone());
    response
}
