//! The activity event and its builder.

use std::net::IpAddr;

use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::action::{Action, IntoAction, InvalidAction};
use crate::actor::Actor;
use crate::outcome::Outcome;

/// One audit record: who did what to which resource, when, from where, for
/// which tenant, and whether it worked.
///
/// It is the same record in memory, in every sink and in exports. Fields left
/// empty are filled from the request context when the event is logged (see
/// [`log_activity`](crate::log_activity)), then secrets are redacted and
/// over-long values cut (see [`EventPolicy`](crate::EventPolicy)).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActivityEvent {
    /// UUID v7: unique and time-ordered, so it is also the pagination key.
    pub id: Uuid,
    /// When it happened, UTC, microsecond precision.
    pub occurred_at: DateTime<Utc>,
    /// What was done.
    pub action: Action,
    /// The kind of resource acted on (`user`, `invoice`).
    pub resource_type: Option<String>,
    /// The resource's id, as a string whatever its type in the application.
    pub resource_id: Option<String>,
    /// Who did it. Empty until the event is logged; then the context's actor, or
    /// the system.
    pub actor: Option<Actor>,
    /// The organisation or tenant it happened in.
    pub tenant_id: Option<String>,
    /// Whether it worked.
    pub outcome: Outcome,
    /// The HTTP status of the response, when there was one.
    pub http_status: Option<u16>,
    /// The request's id, shared by every event of one request.
    pub request_id: Option<String>,
    /// The client's IP address, or its keyed hash or truncated prefix under an
    /// [`IpPrivacy`](crate::IpPrivacy) policy.
    pub ip: Option<String>,
    /// The client's user agent, cut and cleaned of control characters.
    pub user_agent: Option<String>,
    /// The HTTP method.
    pub method: Option<String>,
    /// The matched route template (`/users/{id}`), or the path when no route
    /// matched.
    pub route: Option<String>,
    /// Free-form JSON metadata, scrubbed of secrets and capped in size.
    pub details: Option<Value>,
}

impl ActivityEvent {
    /// Starts an event for `action`: an [`Action`] or a name such as
    /// `"auth.login.failed"`, checked by [`ActivityEventBuilder::build`].
    ///
    /// ```
    /// use tower_activity::{Action, ActivityEvent, Outcome};
    ///
    /// let event = ActivityEvent::builder(Action::Update)
    ///     .resource("invoice", "inv_2041")
    ///     .detail("field", "due_date")
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(event.outcome, Outcome::Success);
    ///
    /// let bad = ActivityEvent::builder("Login Failed").build();
    /// assert!(bad.is_err());
    /// ```
    pub fn builder(action: impl IntoAction) -> ActivityEventBuilder {
        ActivityEventBuilder {
            action: action.into_action(),
            event: Fields::default(),
        }
    }

    /// A new event id: UUID v7.
    pub fn new_id() -> Uuid {
        Uuid::now_v7()
    }

    /// The current time at the precision events keep (microseconds).
    pub fn now() -> DateTime<Utc> {
        Utc::now().trunc_subsecs(6)
    }
}

#[derive(Debug, Default)]
struct Fields {
    resource_type: Option<String>,
    resource_id: Option<String>,
    actor: Option<Actor>,
    tenant_id: Option<String>,
    outcome: Option<Outcome>,
    http_status: Option<u16>,
    request_id: Option<String>,
    ip: Option<String>,
    user_agent: Option<String>,
    method: Option<String>,
    route: Option<String>,
    details: Option<Value>,
}

/// Builds an [`ActivityEvent`]; made by [`ActivityEvent::builder`].
#[derive(Debug)]
#[must_use = "an event builder does nothing until `build` is called"]
pub struct ActivityEventBuilder {
    action: Result<Action, InvalidAction>,
    event: Fields,
}

impl ActivityEventBuilder {
    /// Sets the resource's type and id.
    pub fn resource(self, resource_type: impl Into<String>, id: impl ToString) -> Self {
        self.resource_type(resource_type).resource_id(id)
    }

    /// Sets the resource's type.
    pub fn resource_type(mut self, resource_type: impl Into<String>) -> Self {
        self.event.resource_type = Some(resource_type.into());
        self
    }

    /// Sets the resource's id; numbers and UUIDs become their string form.
    pub fn resource_id(mut self, id: impl ToString) -> Self {
        self.event.resource_id = Some(id.to_string());
        self
    }

    /// Sets the actor instead of taking it from the context.
    pub fn actor(mut self, actor: Actor) -> Self {
        self.event.actor = Some(actor);
        self
    }

    /// Sets the tenant instead of taking it from the context.
    pub fn tenant(mut self, tenant_id: impl Into<String>) -> Self {
        self.event.tenant_id = Some(tenant_id.into());
        self
    }

    /// Sets the outcome; the default is [`Outcome::Success`], or the one the HTTP
    /// status implies when [`status`](Self::status) is set.
    pub fn outcome(mut self, outcome: Outcome) -> Self {
        self.event.outcome = Some(outcome);
        self
    }

    /// Sets the HTTP status.
    pub fn status(mut self, status: http::StatusCode) -> Self {
        self.event.http_status = Some(status.as_u16());
        self
    }

    /// Sets the request id instead of taking it from the context.
    pub fn request_id(mut self, request_id: impl Into<String>) -> Self {
        self.event.request_id = Some(request_id.into());
        self
    }

    /// Sets the client IP instead of taking it from the context.
    pub fn ip(mut self, ip: IpAddr) -> Self {
        self.event.ip = Some(ip.to_string());
        self
    }

    /// Sets the user agent instead of taking it from the context.
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.event.user_agent = Some(user_agent.into());
        self
    }

    /// Sets the HTTP method instead of taking it from the context.
    pub fn method(mut self, method: impl Into<String>) -> Self {
        self.event.method = Some(method.into());
        self
    }

    /// Sets the route instead of taking it from the context.
    pub fn route(mut self, route: impl Into<String>) -> Self {
        self.event.route = Some(route.into());
        self
    }

    /// Replaces the details with `details`.
    pub fn details(mut self, details: Value) -> Self {
        self.event.details = Some(details);
        self
    }

    /// Adds one key to the details object (turning the details into an object
    /// if they were another JSON value, which is then kept under `"value"`).
    pub fn detail(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        let details = self
            .event
            .details
            .get_or_insert_with(|| Value::Object(Map::new()));
        if !details.is_object() {
            let previous = details.take();
            *details = Value::Object(Map::from_iter([("value".to_owned(), previous)]));
        }
        if let Value::Object(map) = details {
            map.insert(key.into(), value.into());
        }
        self
    }

    /// Finishes the event, giving it a UUID v7 id and the current time.
    ///
    /// Fails when the action given to [`ActivityEvent::builder`] was an invalid
    /// name.
    pub fn build(self) -> Result<ActivityEvent, InvalidAction> {
        let action = self.action?;
        let fields = self.event;
        let outcome = fields.outcome.unwrap_or_else(|| {
            fields
                .http_status
                .and_then(|code| http::StatusCode::from_u16(code).ok())
                .map_or(Outcome::Success, Outcome::from_status)
        });
        Ok(ActivityEvent {
            id: ActivityEvent::new_id(),
            occurred_at: ActivityEvent::now(),
            action,
            resource_type: fields.resource_type,
            resource_id: fields.resource_id,
            actor: fields.actor,
            tenant_id: fields.tenant_id,
            outcome,
            http_status: fields.http_status,
            request_id: fields.request_id,
            ip: fields.ip,
            user_agent: fields.user_agent,
            method: fields.method,
            route: fields.route,
            details: fields.details,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn build_assigns_time_ordered_ids_and_microsecond_times() {
        let first = ActivityEvent::builder(Action::Read).build().unwrap();
        let second = ActivityEvent::builder(Action::Read).build().unwrap();
        assert!(first.id < second.id);
        assert_eq!(first.id.get_version_num(), 7);
        assert_eq!(first.occurred_at.timestamp_subsec_nanos() % 1_000, 0);
    }

    #[test]
    fn invalid_action_name_fails_the_build() {
        let err = ActivityEvent::builder("not valid").build().unwrap_err();
        assert!(err.to_string().contains("invalid action name"));
    }

    #[test]
    fn status_implies_outcome_unless_set() {
        let denied = ActivityEvent::builder(Action::Delete)
            .status(http::StatusCode::FORBIDDEN)
            .build()
            .unwrap();
        assert_eq!(denied.outcome, Outcome::Warning);
        assert_eq!(denied.http_status, Some(403));
        let critical = ActivityEvent::builder(Action::Delete)
            .status(http::StatusCode::INTERNAL_SERVER_ERROR)
            .outcome(Outcome::Critical)
            .build()
            .unwrap();
        assert_eq!(critical.outcome, Outcome::Critical);
    }

    #[test]
    fn detail_builds_an_object_and_keeps_a_previous_scalar() {
        let event = ActivityEvent::builder(Action::Update)
            .details(json!(7))
            .detail("field", "email")
            .build()
            .unwrap();
        assert_eq!(event.details, Some(json!({"value": 7, "field": "email"})));
    }

    #[test]
    fn resource_ids_of_any_display_type_become_strings() {
        let numeric = ActivityEvent::builder(Action::Read)
            .resource("order", 42)
            .build()
            .unwrap();
        assert_eq!(numeric.resource_id.as_deref(), Some("42"));
        let id = Uuid::nil();
        let uuid = ActivityEvent::builder(Action::Read)
            .resource("order", id)
            .build()
            .unwrap();
        assert_eq!(uuid.resource_id, Some(id.to_string()));
    }

    #[test]
    fn event_round_trips_through_json() {
        let event = ActivityEvent::builder("auth.login.failed")
            .actor(Actor::user("u1").with_label("Ada"))
            .tenant("acme")
            .status(http::StatusCode::UNAUTHORIZED)
            .detail("attempts", 3)
            .build()
            .unwrap();
        let json = serde_json::to_string(&event).unwrap();
        assert_eq!(serde_json::from_str::<ActivityEvent>(&json).unwrap(), event);
    }
}
