//! Extractors for the request's activity context and for logging events by
//! hand from a handler.

use std::convert::Infallible;
use std::ops::Deref;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use tower_activity::{ActivityContext, ActivityEvent, LogError, global_recorder, log_activity};

use crate::rejection::ActivityRejection;

/// The request's [`ActivityContext`], as made by
/// [`ActivityLayer`](tower_activity::ActivityLayer): read the request id,
/// client IP and user agent, and set the actor and tenant once authentication
/// knows them, so every event of the request carries them.
///
/// Without the layer it is rejected with a `500` that says to add it; extract
/// `Option<CurrentActivity>` in code that must also run without the layer.
///
/// ```
/// use axum::{Router, routing::post};
/// use axum_activity::{Actor, CurrentActivity};
///
/// async fn sign_in(activity: CurrentActivity) -> String {
///     // ... check the credentials, then:
///     activity.set_actor(Actor::user("u_42").with_label("ada@example.com"));
///     activity.set_tenant("acme");
///     format!("signed in, request {}", activity.request_id())
/// }
///
/// let app: Router = Router::new()
///     .route("/sessions", post(sign_in))
///     .layer(axum_activity::layer());
/// # let _ = app;
/// ```
#[derive(Clone, Debug)]
pub struct CurrentActivity(pub ActivityContext);

impl Deref for CurrentActivity {
    type Target = ActivityContext;

    fn deref(&self) -> &ActivityContext {
        &self.0
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CurrentActivity {
    type Rejection = ActivityRejection;

    async fn from_request_parts(_parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        ActivityContext::current()
            .map(CurrentActivity)
            .ok_or(ActivityRejection::MissingContext)
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for CurrentActivity {
    type Rejection = Infallible;

    async fn from_request_parts(_parts: &mut Parts, _state: &S) -> Result<Option<Self>, Self::Rejection> {
        Ok(ActivityContext::current().map(CurrentActivity))
    }
}

/// Logs events by hand from a handler, prefilled from the request's context:
/// actor, tenant, request id, client IP, user agent, method and route.
///
/// The logger keeps the context, so it can be moved into a spawned task and
/// its events still belong to the request. Logging never waits: see
/// [`log_activity`].
///
/// Extracting it without [`ActivityLayer`](tower_activity::ActivityLayer), or
/// with no recorder (neither the layer's nor a global one), is rejected with a
/// `500` that says what to add.
///
/// ```
/// use axum::{Router, routing::post};
/// use axum_activity::{ActivityEvent, ActivityLogger, MemorySink, Recorder};
///
/// async fn export_invoices(logger: ActivityLogger) -> &'static str {
///     let event = ActivityEvent::builder("export.downloaded")
///         .resource_type("invoice")
///         .detail("format", "csv")
///         .build()
///         .expect("a valid action name");
///     // A full queue drops the event (counted and reported): the request goes on.
///     let _ = logger.log(event);
///     "ok"
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let recorder = Recorder::builder(MemorySink::new()).spawn();
/// let app: Router = Router::new()
///     .route("/invoices/export", post(export_invoices))
///     .layer(axum_activity::layer().recorder(recorder));
/// # let _ = app;
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct ActivityLogger {
    context: ActivityContext,
}

impl ActivityLogger {
    /// Logs `event` without waiting, filling what it leaves empty from the
    /// request's context. See [`log_activity`] for what an error means.
    pub fn log(&self, event: ActivityEvent) -> Result<(), LogError> {
        self.context.clone().sync_scope(|| log_activity(event))
    }

    /// The request's context.
    pub fn context(&self) -> &ActivityContext {
        &self.context
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ActivityLogger {
    type Rejection = ActivityRejection;

    async fn from_request_parts(_parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let context = ActivityContext::current().ok_or(ActivityRejection::MissingContext)?;
        if context.recorder().is_none() && global_recorder().is_none() {
            return Err(ActivityRejection::MissingRecorder);
        }
        Ok(ActivityLogger { context })
    }
}
