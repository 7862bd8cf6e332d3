//! The log router's test readers: the access each role has.

use std::future::Ready;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_activity::router::LogAccess;

/// `auditor` reads everything, `tenant-<id>` one tenant; another role is
/// refused with `403`, no role with `401`, each the application's own
/// response; ready at once, as an authorization check's answer.
pub(crate) fn access(role: Option<&str>) -> Ready<Result<LogAccess, Response>> {
    std::future::ready(match role {
        Some("auditor") => Ok(LogAccess::All),
        Some(role) if role.starts_with("tenant-") => {
            Ok(LogAccess::Tenant(role["tenant-".len()..].to_owned()))
        }
        Some(_) => Err((StatusCode::FORBIDDEN, "auditors only").into_response()),
        None => Err((
            StatusCode::UNAUTHORIZED,
            [("www-authenticate", "Bearer")],
            "sign in",
        )
            .into_response()),
    })
}
