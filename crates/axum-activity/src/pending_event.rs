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
use tower_activity::client_ip::peer_addr;
use tower_activity::user_agent::sanitize_user_agent;
use tower_activity::{ActivityContext, ActivityEvent, Actor, LogError, Outcome, log_activity, panic_message};

use crate::audited::AuditConfig;
use crate::audited_event::{Enrichment, EventSlot};
use crate::resource_id::{IdSource, is_json};

/// What the wrapper keeps from the request until it writes the event.
pub(crate) struct PendingEvent {
    config: Arc<AuditConfig>,
    slot: EventSlot,
    enrichment: Option<Enrichment>,
    method: Method,
    matched_path: Option<MatchedPath>,
    /// The request path, kept only when no route matched.
    uri_path: Option<String>,
    path_id: Option<String>,
    user_agent: Option<HeaderValue>,
    peer: Option<IpAddr>,
    route_published: bool,
}

impl PendingEvent {
    /// Takes what the event needs from the request head.
    pub(crate) fn capture(config: Arc<AuditConfig>, parts: &mut Parts) -> Self {
        let path_id = match &config.id {
            IdSource::PathParam(name) => path_param(parts, name),
            IdSource::Json(_) | IdSource::Handler => None,
        };
        let matched_path = parts.extensions.get::<MatchedPath>().cloned();
        let uri_path = match matched_path {
            Some(_) => None,
            None => Some(parts.uri.path().to_owned()),
        };
        PendingEvent {
            config,
            slot: EventSlot::default(),
            enrichment: None,
            method: parts.method.clone(),
            matched_path,
            uri_path,
            path_id,
            user_agent: parts.headers.get(USER_AGENT).cloned(),
            peer: peer_addr(&parts.extensions),
            route_published: false,
        }
    }

    /// Sets the matched route on the request's context, once, so events the
    /// handler logs by hand carry the route too.
    pub(crate) fn publish_route(&mut self) {
        if self.route_published {
            return;
        }
        self.route_published = true;
        if let (Some(matched), Some(context)) = (&self.matched_path, ActivityContext::current()) {
            context.set_matched_path(matched);
        }
    }

    /// The slot the [`AuditedEvent`](crate::AuditedEvent) extractor finds
    /// while the handler runs.
    pub(crate) fn slot(&self) -> &EventSlot {
        &self.slot
    }

    /// Takes what the handler set through `AuditedEvent`; called once the
    /// handler has returned or panicked.
    pub(crate) fn handler_finished(&mut self) {
        self.enrichment = Some(self.slot.take());
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
    pub(crate) fn id_from_body(&self, body: &[u8]) -> Option<String> {
        match &self.config.id {
            IdSource::Json(location) => location.find_in(body),
            IdSource::PathParam(_) | IdSource::Handler => None,
        }
    }

    /// Writes the event for a response with `status`.
    pub(crate) fn record_response(&mut self, status: StatusCode, body_id: Option<String>) {
        let enrichment = self.enrichment.take().unwrap_or_default();
        let outcome = enrichment.outcome.unwrap_or_else(|| Outcome::from_status(status));
        let details = (!enrichment.details.is_empty()).then_some(Value::Object(enrichment.details));
        let resource_id = enrichment.resource_id.or_else(|| self.path_id.take()).or(body_id);
        if let Err(error) = self.log(Some(status), outcome, resource_id, details) {
            report(error);
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
            report(error);
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
                if let Some(context) = ActivityContext::current() {
                    context.mark_panic_recorded();
                }
            }
            Err(error) => report(error),
        }
    }

    fn log(
        &mut self,
        status: Option<StatusCode>,
        outcome: Outcome,
        resource_id: Option<String>,
        details: Option<Value>,
    ) -> Result<(), LogError> {
        // With the layer, the context gives the route: one the application
        // set, else the matched one published here.
        self.publish_route();
        let mut event = ActivityEvent {
            id: ActivityEvent::new_id(),
            occurred_at: ActivityEvent::now(),
            action: self.config.action.clone(),
            resource_type: Some(self.config.resource_type.clone()),
            resource_id,
            actor: None,
            tenant_id: None,
            outcome,
            http_status: status.map(|status| status.as_u16()),
            request_id: None,
            ip: None,
            user_agent: None,
            method: None,
            route: None,
            details,
        };
        if ActivityContext::current().is_none() {
            // Without the layer, fill what the request itself tells.
            event.request_id = Some(ActivityEvent::new_id().to_string());
            event.actor = Some(Actor::anonymous());
            event.ip = self.peer.map(|ip| ip.to_string());
            event.user_agent = self
                .user_agent
                .as_ref()
                .map(|value| sanitize_user_agent(value.as_bytes()));
            event.method = Some(self.method.as_str().to_owned());
            event.route = match &self.matched_path {
                Some(matched) => Some(matched.as_str().to_owned()),
                None => self.uri_path.take(),
            };
        }
        log_activity(event)
    }
}

/// Reads one path parameter. `RawPathParams` only reads the router's
/// extensions, so its future is ready at once.
fn path_param(parts: &mut Parts, name: &str) -> Option<String> {
    let params = RawPathParams::from_request_parts(parts, &())
        .now_or_never()?
        .ok()?;
    params
        .iter()
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

/// Logging failures never touch the response; a missing recorder is a
/// configuration error worth a warning, while a full queue is already counted
/// and reported by the recorder.
fn report(error: LogError) {
    match error {
        LogError::NoRecorder => tracing::warn!(%error, "audited handler could not record its event"),
        LogError::QueueFull | LogError::Closed => {
            tracing::debug!(%error, "audited handler could not record its event");
        }
    }
}
