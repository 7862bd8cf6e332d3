//! Making an event: [`ActivityEventBuilder`].

use std::net::IpAddr;
use std::sync::Arc;

use chrono::{DateTime, SubsecRound, Utc};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::{Action, ActivityEvent, Actor, CHANGES_KEY, Changes, Details, InvalidAction, Outcome};

/// Builds an [`ActivityEvent`]; made by [`ActivityEvent::builder`].
#[derive(Debug)]
#[must_use = "an event builder does nothing until `build` is called"]
pub struct ActivityEventBuilder {
    action: Result<Action, InvalidAction>,
    id: Option<Uuid>,
    occurred_at: Option<DateTime<Utc>>,
    outcome: Option<Outcome>,
    /// The event so far; its id, time, action and outcome are set by
    /// [`build`](Self::build).
    event: ActivityEvent,
}

impl ActivityEventBuilder {
    #[inline]
    pub(super) fn new(action: Result<Action, InvalidAction>) -> Self {
        ActivityEventBuilder {
            action,
            id: None,
            occurred_at: None,
            outcome: None,
            event: ActivityEvent {
                id: Uuid::nil(),
                occurred_at: DateTime::UNIX_EPOCH,
                action: Action::Read,
                category: None,
                resource_type: None,
                resource_id: None,
                actor: None,
                tenant_id: None,
                outcome: Outcome::Success,
                http_status: None,
                request_id: None,
                ip: None,
                user_agent: None,
                method: None,
                route: None,
                details: None,
            },
        }
    }

    /// Sets the category instead of taking it from the recorder's
    /// [`Catalogue`](crate::Catalogue); cut to
    /// [`MAX_CATEGORY_LEN`](crate::MAX_CATEGORY_LEN).
    #[inline]
    pub fn category(mut self, category: impl Into<Arc<str>>) -> Self {
        self.event.category = Some(category.into());
        self
    }

    /// Sets the resource's type and id.
    #[inline]
    pub fn resource(self, resource_type: impl Into<Arc<str>>, id: impl ToString) -> Self {
        self.resource_type(resource_type).resource_id(id)
    }

    /// Sets the resource's type.
    #[inline]
    pub fn resource_type(mut self, resource_type: impl Into<Arc<str>>) -> Self {
        self.event.resource_type = Some(resource_type.into());
        self
    }

    /// Sets the resource's id; numbers and UUIDs become their string form.
    #[inline]
    pub fn resource_id(mut self, id: impl ToString) -> Self {
        self.event.resource_id = Some(id.to_string().into());
        self
    }

    /// Sets the actor instead of taking it from the context.
    #[inline]
    pub fn actor(mut self, actor: Actor) -> Self {
        self.event.actor = Some(actor);
        self
    }

    /// Sets the tenant instead of taking it from the context.
    #[inline]
    pub fn tenant(mut self, tenant_id: impl Into<Arc<str>>) -> Self {
        self.event.tenant_id = Some(tenant_id.into());
        self
    }

    /// Sets the outcome; the default is [`Outcome::Success`], or the one the HTTP
    /// status implies when [`status`](Self::status) is set.
    #[inline]
    pub fn outcome(mut self, outcome: Outcome) -> Self {
        self.outcome = Some(outcome);
        self
    }

    /// Sets the HTTP status.
    #[inline]
    pub fn status(mut self, status: http::StatusCode) -> Self {
        self.event.http_status = Some(status.as_u16());
        self
    }

    /// Sets the request id instead of taking it from the context.
    #[inline]
    pub fn request_id(mut self, request_id: impl Into<Arc<str>>) -> Self {
        self.event.request_id = Some(request_id.into());
        self
    }

    /// Sets the client IP instead of taking it from the context.
    #[inline]
    pub fn ip(mut self, ip: IpAddr) -> Self {
        self.event.ip = Some(ip.to_string().into());
        self
    }

    /// Sets the user agent instead of taking it from the context.
    #[inline]
    pub fn user_agent(mut self, user_agent: impl Into<Arc<str>>) -> Self {
        self.event.user_agent = Some(user_agent.into());
        self
    }

    /// Sets the HTTP method instead of taking it from the context.
    #[inline]
    pub fn method(mut self, method: impl Into<Arc<str>>) -> Self {
        self.event.method = Some(method.into());
        self
    }

    /// Sets the route instead of taking it from the context.
    #[inline]
    pub fn route(mut self, route: impl Into<Arc<str>>) -> Self {
        self.event.route = Some(route.into());
        self
    }

    /// Replaces the details with `details`.
    #[inline]
    pub fn details(mut self, details: impl Into<Details>) -> Self {
        self.event.details = Some(details.into());
        self
    }

    /// Adds one key to the details object (turning the details into an object
    /// if they were another JSON value, which is then kept under `"value"`).
    #[inline]
    pub fn detail(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.event
            .details
            .get_or_insert_with(|| Details::new(Value::Object(Map::new())))
            .insert(key.into(), value.into());
        self
    }

    /// Adds what changed (see [`changes`](crate::changes)) to the details,
    /// under [`CHANGES_KEY`](crate::CHANGES_KEY); no changes add nothing.
    pub fn changes(self, changes: Changes) -> Self {
        if changes.is_empty() {
            self
        } else {
            self.detail(CHANGES_KEY, changes)
        }
    }

    /// Sets the event's id instead of a fresh UUID v7: for events carried
    /// over from elsewhere, whose id must survive (a write of the same id is
    /// kept once).
    #[inline]
    pub fn id(mut self, id: Uuid) -> Self {
        self.id = Some(id);
        self
    }

    /// Sets when it happened instead of now; cut to microseconds.
    #[inline]
    pub fn occurred_at(mut self, occurred_at: DateTime<Utc>) -> Self {
        self.occurred_at = Some(occurred_at.trunc_subsecs(6));
        self
    }

    /// Finishes the event, giving it a UUID v7 id and the current time unless
    /// they were set.
    ///
    /// Fails when the action given to [`ActivityEvent::builder`] was an invalid
    /// name.
    #[inline]
    pub fn build(self) -> Result<ActivityEvent, InvalidAction> {
        let mut event = self.event;
        event.action = self.action?;
        event.outcome = self.outcome.unwrap_or_else(|| {
            event
                .http_status
                .and_then(|code| http::StatusCode::from_u16(code).ok())
                .map_or(Outcome::Success, Outcome::from_status)
        });
        let (id, occurred_at) = match (self.id, self.occurred_at) {
            (Some(id), Some(occurred_at)) => (id, occurred_at),
            (id, occurred_at) => {
                let (new_id, now) = super::stamp();
                (id.unwrap_or(new_id), occurred_at.unwrap_or(now))
            }
        };
        event.id = id;
        event.occurred_at = occurred_at;
        Ok(event)
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
        assert_eq!(event.details.unwrap(), json!({"value": 7, "field": "email"}));
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
        assert_eq!(uuid.resource_id.as_deref(), Some(id.to_string().as_str()));
    }

    #[test]
    fn a_set_id_and_time_are_kept() {
        let id = Uuid::now_v7();
        let at: DateTime<Utc> = "2025-03-04T05:06:07.123456789Z".parse().unwrap();
        let event = ActivityEvent::builder(Action::Read)
            .id(id)
            .occurred_at(at)
            .build()
            .unwrap();
        assert_eq!(event.id, id);
        assert_eq!(event.occurred_at, at.trunc_subsecs(6));
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
