//! Who may read the log, and how much of it: the caller-supplied check run on
//! every request to the log router.

use std::future::Future;

use axum::http::request::Parts;
use axum::response::Response;
use tower_activity::ActivityFilter;

use super::api_error::ApiError;

/// How much of the log a request may read, as decided by an
/// [`AuthorizeLogAccess`] check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogAccess {
    /// Every tenant's events.
    All,
    /// Only this tenant's events: every endpoint is scoped to it, whatever the
    /// query string says.
    Tenant(String),
}

impl LogAccess {
    /// Restricts `filter` to what this access may read. A tenant-scoped
    /// request that asks for another tenant is refused.
    pub(crate) fn scope(&self, filter: &mut ActivityFilter) -> Result<(), ApiError> {
        let LogAccess::Tenant(tenant) = self else {
            return Ok(());
        };
        match &filter.tenant_id {
            Some(asked) if asked != tenant => Err(ApiError::forbidden_tenant()),
            _ => {
                filter.tenant_id = Some(tenant.clone());
                Ok(())
            }
        }
    }

    /// Whether an event of `tenant` may be read.
    pub(crate) fn allows(&self, tenant: Option<&str>) -> bool {
        match self {
            LogAccess::All => true,
            LogAccess::Tenant(allowed) => tenant == Some(allowed.as_str()),
        }
    }
}

/// Decides, for each request to the log router and before the store is
/// touched, whether it may read the log and how much of it.
///
/// `Err` holds the response to send instead, of the implementer's choosing
/// (typically `401` or `403`). It is implemented for closures taking the
/// request head and returning a future; the future cannot borrow the head, so
/// copy out what it needs first:
///
/// ```
/// use axum::http::{StatusCode, request::Parts};
/// use axum::response::{IntoResponse, Response};
/// use axum_activity::router::LogAccess;
///
/// let authorize = |request: &Parts| {
///     let token = request.headers.get("authorization").cloned();
///     async move {
///         match token.as_ref().and_then(|value| value.to_str().ok()) {
///             Some("Bearer auditor") => Ok(LogAccess::All),
///             Some("Bearer acme-admin") => Ok(LogAccess::Tenant("acme".into())),
///             Some(_) => Err(StatusCode::FORBIDDEN.into_response()),
///             None => Err::<_, Response>(StatusCode::UNAUTHORIZED.into_response()),
///         }
///     }
/// };
/// # fn check(_: impl axum_activity::router::AuthorizeLogAccess) {}
/// # check(authorize);
/// ```
pub trait AuthorizeLogAccess: Send + Sync + 'static {
    /// The access `request` has, or the response refusing it.
    fn authorize(&self, request: &Parts) -> impl Future<Output = Result<LogAccess, Response>> + Send;
}

impl<F, Fut> AuthorizeLogAccess for F
where
    F: Fn(&Parts) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<LogAccess, Response>> + Send,
{
    fn authorize(&self, request: &Parts) -> impl Future<Output = Result<LogAccess, Response>> + Send {
        self(request)
    }
}
