//! Which events to read: [`ActivityFilter`].

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::event::{Action, ActivityEvent, ActorKind, Outcome};

/// Which events to read. Empty fields do not filter; lists match any of their
/// entries.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ActivityFilter {
    /// Only this tenant's events.
    pub tenant_id: Option<String>,
    /// Only events by the actor with this id.
    pub actor_id: Option<String>,
    /// Only events by actors of these kinds.
    #[serde(default)]
    pub actor_kinds: Vec<ActorKind>,
    /// Only these actions.
    pub actions: Vec<Action>,
    /// Only events of these categories (see
    /// [`ActivityEvent::category`]); events without one match none.
    #[serde(default)]
    pub categories: Vec<String>,
    /// Only these outcomes.
    pub outcomes: Vec<Outcome>,
    /// Only events on this resource type.
    pub resource_type: Option<String>,
    /// Only events on the resource with this id.
    pub resource_id: Option<String>,
    /// Only events of this request.
    pub request_id: Option<String>,
    /// Only events at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only events before this time.
    pub until: Option<DateTime<Utc>>,
}

impl ActivityFilter {
    /// A filter that matches every event.
    pub fn new() -> Self {
        ActivityFilter::default()
    }

    /// Only `tenant_id`'s events.
    pub fn tenant(mut self, tenant_id: impl Into<String>) -> Self {
        self.tenant_id = Some(tenant_id.into());
        self
    }

    /// Only events by the actor with `actor_id`.
    pub fn actor(mut self, actor_id: impl Into<String>) -> Self {
        self.actor_id = Some(actor_id.into());
        self
    }

    /// Also matches events by actors of `kind`.
    pub fn actor_kind(mut self, kind: ActorKind) -> Self {
        self.actor_kinds.push(kind);
        self
    }

    /// Also matches `action`.
    pub fn action(mut self, action: Action) -> Self {
        self.actions.push(action);
        self
    }

    /// Also matches events of `category`.
    pub fn category(mut self, category: impl Into<String>) -> Self {
        self.categories.push(category.into());
        self
    }

    /// Also matches `outcome`.
    pub fn outcome(mut self, outcome: Outcome) -> Self {
        self.outcomes.push(outcome);
        self
    }

    /// Only events on `resource_type`.
    pub fn resource_type(mut self, resource_type: impl Into<String>) -> Self {
        self.resource_type = Some(resource_type.into());
        self
    }

    /// Only events on the resource `resource_type` / `resource_id`.
    pub fn resource(mut self, resource_type: impl Into<String>, resource_id: impl Into<String>) -> Self {
        self.resource_type = Some(resource_type.into());
        self.resource_id = Some(resource_id.into());
        self
    }

    /// Only events of the request `request_id`.
    pub fn request_id(mut self, request_id: impl Into<String>) -> Self {
        self.request_id = Some(request_id.into());
        self
    }

    /// Only events at or after `since`.
    pub fn since(mut self, since: DateTime<Utc>) -> Self {
        self.since = Some(since);
        self
    }

    /// Only events before `until`.
    pub fn until(mut self, until: DateTime<Utc>) -> Self {
        self.until = Some(until);
        self
    }

    /// Whether `event` passes the filter.
    pub fn matches(&self, event: &ActivityEvent) -> bool {
        fn same(wanted: &Option<String>, actual: Option<&str>) -> bool {
            wanted.as_deref().is_none_or(|wanted| actual == Some(wanted))
        }
        same(&self.tenant_id, event.tenant_id.as_deref())
            && same(
                &self.actor_id,
                event.actor.as_ref().and_then(|actor| actor.id.as_deref()),
            )
            && (self.actor_kinds.is_empty()
                || event
                    .actor
                    .as_ref()
                    .is_some_and(|actor| self.actor_kinds.contains(&actor.kind)))
            && (self.actions.is_empty() || self.actions.contains(&event.action))
            && (self.categories.is_empty()
                || event
                    .category
                    .as_deref()
                    .is_some_and(|category| self.categories.iter().any(|wanted| wanted == category)))
            && (self.outcomes.is_empty() || self.outcomes.contains(&event.outcome))
            && same(&self.resource_type, event.resource_type.as_deref())
            && same(&self.resource_id, event.resource_id.as_deref())
            && same(&self.request_id, event.request_id.as_deref())
            && self.since.is_none_or(|since| event.occurred_at >= since)
            && self.until.is_none_or(|until| event.occurred_at < until)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_matches_every_field() {
        let event = ActivityEvent::builder(Action::Delete)
            .category("users")
            .resource("user", "7")
            .tenant("acme")
            .actor(crate::Actor::admin("root"))
            .request_id("r1")
            .build()
            .unwrap();
        assert!(ActivityFilter::new().matches(&event));
        let all = ActivityFilter::new()
            .tenant("acme")
            .actor("root")
            .action(Action::Read)
            .action(Action::Delete)
            .outcome(Outcome::Success)
            .resource("user", "7")
            .request_id("r1")
            .since(event.occurred_at)
            .until(event.occurred_at + chrono::Duration::microseconds(1));
        assert!(all.matches(&event));
        assert!(!ActivityFilter::new().tenant("other").matches(&event));
        assert!(!ActivityFilter::new().actor("u2").matches(&event));
        assert!(
            ActivityFilter::new()
                .actor_kind(crate::ActorKind::Admin)
                .matches(&event)
        );
        assert!(
            !ActivityFilter::new()
                .actor_kind(crate::ActorKind::User)
                .matches(&event)
        );
        assert!(!ActivityFilter::new().action(Action::Create).matches(&event));
        assert!(
            ActivityFilter::new()
                .category("auth")
                .category("users")
                .matches(&event)
        );
        assert!(!ActivityFilter::new().category("auth").matches(&event));
        let uncategorized = ActivityEvent::builder(Action::Delete).build().unwrap();
        assert!(!ActivityFilter::new().category("users").matches(&uncategorized));
        assert!(!ActivityFilter::new().outcome(Outcome::Error).matches(&event));
        assert!(!ActivityFilter::new().resource("user", "8").matches(&event));
        assert!(!ActivityFilter::new().request_id("r2").matches(&event));
        assert!(!ActivityFilter::new().until(event.occurred_at).matches(&event));
    }
}
