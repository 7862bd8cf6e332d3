//! The log router's error responses: JSON that names the offending parameter,
//! and store failures that reveal nothing of the store.

use std::borrow::Cow;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tower_activity::StoreError;

/// The longest parameter name echoed back in an error.
const MAX_ECHOED_NAME_CHARS: usize = 64;

/// An error answered as `{"error": "...", "parameter": "..."}`.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    body: ErrorBody,
}

#[derive(Debug, Serialize)]
struct ErrorBody {
    error: Cow<'static, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parameter: Option<String>,
}

impl ApiError {
    fn new(status: StatusCode, parameter: Option<&str>, error: impl Into<Cow<'static, str>>) -> Self {
        ApiError {
            status,
            body: ErrorBody {
                error: error.into(),
                parameter: parameter.map(|name| name.chars().take(MAX_ECHOED_NAME_CHARS).collect()),
            },
        }
    }

    /// `400`: the parameter `name` is wrong, and `error` says how.
    pub(crate) fn bad_parameter(name: &str, error: impl Into<Cow<'static, str>>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, Some(name), error)
    }

    /// `403`: a tenant-scoped request asked for another tenant.
    pub(crate) fn forbidden_tenant() -> Self {
        ApiError::new(
            StatusCode::FORBIDDEN,
            Some("tenant"),
            "this access is limited to one tenant; omit `tenant` or ask for that tenant",
        )
    }

    /// `403`: a tenant-scoped request asked for what covers every tenant.
    #[cfg(feature = "seal")]
    pub(crate) fn forbidden_all_tenants(what: &'static str) -> Self {
        ApiError::new(StatusCode::FORBIDDEN, None, what)
    }

    /// `404`: nothing sealed yet, or no sealed entry with this id (or none
    /// this access may read).
    #[cfg(feature = "seal")]
    pub(crate) fn not_sealed(what: &'static str) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, None, what)
    }

    /// `404`: no entry with this id (or none this access may read).
    pub(crate) fn entry_not_found() -> Self {
        ApiError::new(StatusCode::NOT_FOUND, None, "no activity entry with this id")
    }

    /// `500`: the store failed. The cause is logged, never sent.
    pub(crate) fn store(error: &StoreError) -> Self {
        tracing::error!(
            error = error as &dyn std::error::Error,
            "activity log router: the store failed"
        );
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            None,
            "the activity log could not be read; the cause is in the server's logs",
        )
    }
}

#[cfg(test)]
impl ApiError {
    /// The parameter named (empty when none is) and the message.
    pub(crate) fn parts(&self) -> (&str, &str) {
        (
            self.body.parameter.as_deref().unwrap_or_default(),
            &self.body.error,
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}
