//! Why an activity extractor could not be made: a missing layer, recorder or
//! wrapper. Each is a configuration error, answered with a `500` that says
//! what to add.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// The rejection of the activity extractors ([`CurrentActivity`](crate::CurrentActivity),
/// [`ActivityLogger`](crate::ActivityLogger), [`AuditedEvent`](crate::AuditedEvent)).
///
/// It becomes a `500 Internal Server Error` whose plain-text body says what
/// the application is missing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ActivityRejection {
    /// The request has no activity context.
    #[error(
        "no activity context for this request: add `ActivityLayer` to the router, \
         as in `.layer(axum_activity::layer().recorder(recorder))`"
    )]
    MissingContext,
    /// Neither the request's context nor the process has a recorder.
    #[error(
        "no activity recorder: give the layer one with `axum_activity::layer().recorder(recorder)`, \
         or call `axum_activity::set_global_recorder(recorder)` at startup"
    )]
    MissingRecorder,
    /// `AuditedEvent` was extracted in a handler that is not wrapped.
    #[error(
        "`AuditedEvent` is only available in handlers wrapped by `audited(..)`: \
         wrap the handler, as in `post(audited(handler, Action::Create, \"user\"))`, \
         or remove the extractor"
    )]
    NotAudited,
}

impl IntoResponse for ActivityRejection {
    fn into_response(self) -> Response {
        (StatusCode::INTERNAL_SERVER_ERROR, self.to_string()).into_response()
    }
}
