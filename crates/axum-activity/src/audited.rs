//! The handler wrapper: `audited(handler, action, resource_type)`.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, OnceLock};

use axum::extract::{MatchedPath, Request};
use axum::handler::Handler;
use tower_activity::Action;

use crate::future::AuditedFuture;
use crate::pending_event::PendingEvent;
use crate::resource_id::{IdSource, JsonLocation};

/// The largest response body read for the resource id by default: 1 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

/// Wraps `handler` so that each call records one activity event: `action` on
/// a resource of `resource_type`, with the outcome the response implies.
///
/// The result is still a handler: it goes wherever `handler` went (`post(..)`,
/// `MethodRouter` chains, nested routers, `.with_state(..)`), with whatever
/// extractors `handler` takes. See [`Audited`] for what is recorded and how the
/// resource id is found.
///
/// ```
/// use axum::{Json, Router, extract::Path, http::StatusCode, routing::{delete, post}};
/// use axum_activity::{Action, audited};
/// use serde_json::{Value, json};
///
/// async fn create_user(Json(user): Json<Value>) -> (StatusCode, Json<Value>) {
///     (StatusCode::CREATED, Json(json!({ "id": 7, "name": user["name"] })))
/// }
///
/// async fn delete_user(Path(_user_id): Path<u64>) -> StatusCode {
///     StatusCode::NO_CONTENT
/// }
///
/// let app: Router = Router::new()
///     .route("/users", post(audited(create_user, Action::Create, "user")))
///     .route(
///         "/users/{user_id}",
///         delete(audited(delete_user, Action::Delete, "user").id_from_path("user_id")),
///     );
/// # let _ = app;
/// ```
pub fn audited<H>(handler: H, action: Action, resource_type: impl Into<Arc<str>>) -> Audited<H> {
    Audited {
        handler,
        config: Arc::new(AuditConfig {
            action,
            resource_type: resource_type.into(),
            route: OnceLock::new(),
            id: IdSource::Json(JsonLocation::Field("id".to_owned())),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }),
    }
}

/// A handler that records one activity event per call; made by [`audited`].
///
/// The event carries the action and resource type, the HTTP status, method and
/// matched route, and, from the request's
/// [`ActivityContext`](tower_activity::ActivityContext), the request id, actor,
/// tenant, client IP and user agent. Its outcome follows the response:
///
/// | response | outcome |
/// |---|---|
/// | 1xx, 2xx, 3xx | `success` |
/// | 4xx (denied, not found, invalid input, extractor rejections) | `warning` |
/// | 5xx | `error` |
/// | the handler panicked | `critical`, status 500 |
/// | the request was [cancelled](#cancelled-requests) while the handler ran | `error`, no status |
///
/// The handler can change the outcome, set the resource id and add details
/// through the [`AuditedEvent`](crate::AuditedEvent) extractor; the wrapper
/// still writes one event.
///
/// # The resource id
///
/// In order of precedence: the id the handler set through
/// [`AuditedEvent`](crate::AuditedEvent); otherwise, by the configured source,
///
/// - a field of the JSON response, `"id"` unless [`id_from_json`](Self::id_from_json)
///   names another field or a JSON pointer; strings are kept as they are,
///   numbers take their JSON form;
/// - a path parameter named by [`id_from_path`](Self::id_from_path), for
///   responses without a body (`204`) and for failed requests too;
/// - nothing, after [`id_from_handler`](Self::id_from_handler).
///
/// The response body is read only when the id must come from it: the handler
/// set none, the status is 2xx, the content type is JSON and the body's size is
/// known and at most [`max_body_bytes`](Self::max_body_bytes). Otherwise the
/// response passes through untouched, so streaming bodies and server-sent
/// events are never buffered. Either way the client receives exactly the
/// status, headers and body bytes the handler returned.
///
/// # Cancelled requests
///
/// A server drops the handler's future when the client closes the connection
/// before the answer, and so do timeout layers. The event is then written as
/// the future is dropped, so that a change the handler already made is not
/// left out of the log:
///
/// - while the handler was still running, with outcome `error` (the request
///   did not complete, and the change may or may not have happened), no HTTP
///   status, and `"cancelled": true` added to the details; the resource id
///   and details the handler set through [`AuditedEvent`](crate::AuditedEvent)
///   are kept, the outcome it set is not;
/// - while the response body was being read for the resource id, with the
///   response's status and outcome, and no resource id from the body.
///
/// # Panics
///
/// A panic in the handler is recorded as a `critical` event, marked as
/// recorded on the context so [`ActivityLayer`](tower_activity::ActivityLayer)
/// does not record it again, and then resumed: the layer answers `500`, and
/// without the layer the panic behaves as it would without the wrapper.
///
/// # Without the layer
///
/// The event is still written, to the
/// [global recorder](tower_activity::set_global_recorder), with a fresh
/// request id, the socket peer as IP (from axum's `ConnectInfo<SocketAddr>`,
/// when the server was started with connect info), the method, route and user
/// agent, and an anonymous actor.
pub struct Audited<H> {
    handler: H,
    config: Arc<AuditConfig>,
}

/// What every call of one wrapped handler records.
#[derive(Clone, Debug)]
pub(crate) struct AuditConfig {
    pub(crate) action: Action,
    pub(crate) resource_type: Arc<str>,
    pub(crate) id: IdSource,
    pub(crate) max_body_bytes: usize,
    /// The route the handler was first matched under, shared by the events
    /// of every request to it.
    pub(crate) route: OnceLock<Arc<str>>,
}

impl AuditConfig {
    /// The text of `matched`: the one already made for this handler when it
    /// is the same route (the usual case), otherwise a new one.
    pub(crate) fn route(&self, matched: &MatchedPath) -> Arc<str> {
        let first = self.route.get_or_init(|| Arc::from(matched.as_str()));
        if **first == *matched.as_str() {
            first.clone()
        } else {
            Arc::from(matched.as_str())
        }
    }
}

impl<H> Audited<H> {
    /// Takes the resource id from the JSON response at `location`: a top-level
    /// field name such as `"user_id"`, or a JSON pointer such as `"/data/id"`
    /// (anything starting with `/`).
    pub fn id_from_json(mut self, location: impl Into<String>) -> Self {
        self.config_mut().id = IdSource::Json(JsonLocation::parse(location.into()));
        self
    }

    /// Takes the resource id from the path parameter `name` (as in
    /// `/users/{name}`), whatever the response; the body is never read.
    pub fn id_from_path(mut self, name: impl Into<String>) -> Self {
        self.config_mut().id = IdSource::PathParam(name.into());
        self
    }

    /// Records only the resource id the handler sets through
    /// [`AuditedEvent`](crate::AuditedEvent); the body is never read. For
    /// listings and other responses that carry no single id.
    pub fn id_from_handler(mut self) -> Self {
        self.config_mut().id = IdSource::Handler;
        self
    }

    /// The largest JSON response body read for the resource id; larger ones
    /// pass through unread and the event has no id. The default is
    /// [`DEFAULT_MAX_BODY_BYTES`].
    pub fn max_body_bytes(mut self, limit: usize) -> Self {
        self.config_mut().max_body_bytes = limit;
        self
    }

    fn config_mut(&mut self) -> &mut AuditConfig {
        Arc::make_mut(&mut self.config)
    }
}

impl<H: Clone> Clone for Audited<H> {
    fn clone(&self) -> Self {
        Audited {
            handler: self.handler.clone(),
            config: Arc::clone(&self.config),
        }
    }
}

impl<H> fmt::Debug for Audited<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Audited")
            .field("action", &self.config.action)
            .field("resource_type", &self.config.resource_type)
            .field("id", &self.config.id)
            .field("max_body_bytes", &self.config.max_body_bytes)
            .finish_non_exhaustive()
    }
}

impl<H, T, S> Handler<T, S> for Audited<H>
where
    H: Handler<T, S>,
{
    type Future = AuditedFuture<H::Future>;

    fn call(self, request: Request, state: S) -> Self::Future {
        let (mut parts, body) = request.into_parts();
        let pending = PendingEvent::capture(self.config, &mut parts);
        let request = Request::from_parts(parts, body);
        let handler = self.handler;
        // Extractors run in the handler's future, where its slot is current.
        match catch_unwind(AssertUnwindSafe(move || handler.call(request, state))) {
            Ok(future) => AuditedFuture::handling(future, pending),
            Err(payload) => AuditedFuture::panicked(payload, pending),
        }
    }
}
