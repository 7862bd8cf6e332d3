//! The wrapper's event while the request runs: what it takes from the request
//! before the handler consumes it, and how it writes the event at the end.

use std::any::Any;
use std::net::IpAddr;
use std::sync::Arc;

use axum::body::{Body, HttpBody};
use axum::extract::{FromRequestParts, MatchedPath, RawPathParams};
use axum::http::header::USER_AGENT;
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, Response, StatusCode};
use futures_util::FutureExt;
use serde_json::Value;
use tower_activity::{
    ActivityContext, ActivityEvent, Actor, Details, LogError, Outcome, log_activity, panic_message,
    sanitize_user_agent,
};

use crate::audited::AuditConfig;
use crate::audited_event::{Enrichment, EventSlot, SlotCell};
use crate::layer::connect_info_peer;
use crate::log_failure::report;
use crate::resource_id::IdSource;
use crate::response_body::is_json;

/// Who reports the wrapper's logging failures.
const WRAPPER: &str = "audited handler";

/// What the wrapper keeps from the request until it writes the event.
pub(crate) struct PendingEvent {
    config: Arc<AuditConfig>,
    /// The request's context, when the layer made one.
    context: Option<ActivityContext>,
    enrichment: Option<Enrichment>,
    method: Method,
    /// The route matched, else the request path.
    route: Arc<str>,
    matched: bool,
    path_id: Option<Arc<str>>,
    /// The user agent and the client, kept only without the layer.
    user_agent: Option<HeaderValue>,
    peer: Option<IpAddr>,
    route_published: bool,
}

impl PendingEvent {
    /// Takes what the event needs from the request head.
    pub(crate) fn capture(config: Arc<AuditConfig>, parts: &mut Parts) -> Self {
        // Under the layer, the context knows the user agent and the client.
        let context = ActivityContext::current();
        let without_layer = context.is_none();
        let path_id = match &config.id {
            IdSource::PathParam(name) => path_param(parts, name),
            IdSource::Json(_) | IdSource::Handler => None,
        };
        let matched = parts.extensions.get::<MatchedPath>();
        let route = match matched {
            Some(matched) => config.route(matched),
            None => Arc::from(parts.uri.path()),
        };
        PendingEvent {
            config,
            context,
            enrichment: None,
            method: parts.method.clone(),
            matched: matched.is_some(),
            route,
            path_id,
            user_agent: without_layer
                .then(|| parts.headers.get(USER_AGENT).cloned())
                .flatten(),
            peer: without_layer
                .then(|| connect_info_peer(&parts.extensions))
                .flatten(),
            route_published: false,
        }
    }

    /// Sets the matched route on the request's context, once, so events the
    /// handler logs by hand carry the route too.
    pub(crate) fn publish_route(&mut self) {
        if !self.route_published {
            self.route_published = true;
            if self.matched
                && let Some(context) = &self.context
            {
                context.tell_route(self.route.clone());
            }
        }
    }

    /// Takes what the handler set through `AuditedEvent` in the slot `cell`
    /// (the one its future made current); called once the handler has
    /// returned, panicked or been dropped. Only the first call counts.
    pub(crate) fn handler_finished(&mut self, cell: Option<SlotCell>) {
        if self.enrichment.is_none() {
            self.enrichment = Some(EventSlot::take_from(cell));
        }
    }

    /// Whether the id must be read from the response body: the handler set
    /// none, the source is the JSON body, the status is 2xx, the body is JSON
    /// and its size is known, non-zero and within the cap.
    pub(crate) fn wants_body(&self, response: &Response<Body>) -> bool {
        let IdSource::Json(_) = &self.config.id else {
            return false;
        };
        let handler_set_id = self
            .enrichment
            .as_ref()
            .is_some_and(|enrichment| enrichment.resource_id.is_some());
        !handler_set_id
            && response.status().is_success()
            && response.body().size_hint().exact().is_some_and(|size| {
                size > 0 && usize::try_from(size).is_ok_and(|size| size <= self.config.max_body_bytes)
            })
            && is_json(response.headers())
    }

    /// The id in a JSON body read because [`wants_body`](Self::wants_body)
    /// said so.
    pub(crate) fn id_from_body(&self, body: &[u8]) -> Option<Arc<str>> {
        match &self.config.id {
            IdSource::Json(location) => location.find_in(body),
            IdSource::PathParam(_) | IdSource::Handler => None,
        }
    }

    /// Writes the event for a response with `status`.
    pub(crate) fn record_response(&mut self, status: StatusCode, body_id: Option<Arc<str>>) {
        let enrichment = self.enrichment.take().unwrap_or_default();
        let outcome = enrichment.outcome.unwrap_or_else(|| Outcome::from_status(status));
        let details = (!enrichment.details.is_empty()).then_some(Value::Object(enrichment.details));
        let resource_id = enrichment.resource_id.or_else(|| self.path_id.take()).or(body_id);
        if let Err(error) = self.log(Some(status), outcome, resource_id, details) {
            report(error, WRAPPER);
        }
    }

    /// Writes the event of a request dropped while its handler ran: `error`,
    /// since the change may or may not have happened, without a status (none
    /// was sent), marked `"cancelled": true`.
    pub(crate) fn record_cancelled(&mut self) {
        let mut enrichment = self.enrichment.take().unwrap_or_default();
        enrichment
            .details
            .insert("cancelled".to_owned(), Value::Bool(true));
        let resource_id = enrichment.resource_id.or_else(|| self.path_id.take());
        let details = Some(Value::Object(enrichment.details));
        if let Err(error) = self.log(None, Outcome::Error, resource_id, details) {
            report(error, WRAPPER);
        }
    }

    /// Writes the `critical` event for a handler that panicked, and tells the
    /// layer (if any) that the panic is recorded.
    pub(crate) fn record_panic(&mut self, payload: &(dyn Any + Send)) {
        let mut enrichment = self.enrichment.take().unwrap_or_default();
        enrichment
            .details
            .insert("panic".to_owned(), Value::String(panic_message(payload)));
        let resource_id = enrichment.resource_id.or_else(|| self.path_id.take());
        let status = Some(StatusCode::INTERNAL_SERVER_ERROR);
        let details = Some(Value::Object(enrichment.details));
        match self.log(status, Outcome::Critical, resource_id, details) {
            Ok(()) => {
                if let Some(context) = &self.context {
                    context.mark_panic_recorded();
                }
            }
            Err(error) => report(error, WRAPPER),
        }
    }

    fn log(
        &mut self,
        status: Option<StatusCode>,
        outcome: Outcome,
        resource_id: Option<Arc<str>>,
        details: Option<Value>,
    ) -> Result<(), LogError> {
        // The wrapper's action is an `Action`, already valid: the build
        // cannot fail. The fields are set on the built event rather than
        // through the builder, which would move the event at every step.
        let Ok(mut event) = ActivityEvent::builder(self.config.action.clone()).build() else {
            unreachable!("an `Action` is a valid action")
        };
        event.resource_type = Some(self.config.resource_type.clone());
        event.resource_id = resource_id;
        event.outcome = outcome;
        event.http_status = status.map(|status| status.as_u16());
        event.details = details.map(Details::new);
        if self.context.is_none() {
            // Without the layer, what the request itself tells.
            event.request_id = Some(Arc::from(ActivityEvent::new_id().to_string()));
            event.actor = Some(Actor::anonymous());
            event.method = Some(Arc::from(self.method.as_str()));
            event.route = Some(self.route.clone());
            event.ip = self.peer.map(|peer| Arc::from(peer.to_string()));
            event.user_agent = self
                .user_agent
                .as_ref()
                .map(|agent| Arc::from(sanitize_user_agent(agent.as_bytes())));
        }
        // The context gives the route: one the application set, else the
        // matched one published here.
        self.publish_route();
        match &self.context {
            Some(context) => context.log(event),
            None => log_activity(event),
        }
    }
}

/// Reads one path parameter. `RawPathParams` only reads the router's
/// extensions, so its future is ready at once.
fn path_param(parts: &mut Parts, name: &str) -> Option<Arc<str>> {
    let params = RawPathParams::from_request_parts(parts, &())
        .now_or_never()?
        .ok()?;
    params
        .iter()
        .find(|(key, _)| *key == name)
        .map(|(_, value)| Arc::from(value))
}
