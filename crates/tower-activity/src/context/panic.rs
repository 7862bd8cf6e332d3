//! What happens when the inner service panics: one `system.panic` event and an
//! empty `500` response.

use std::any::Any;

use http::{HeaderName, Response, StatusCode};

use super::ActivityContext;
use crate::event::{Action, ActivityEvent, Outcome};
use crate::panic_message::panic_message;

/// The action of the event recorded for a panic.
pub const PANIC_ACTION: &str = "system.panic";

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
