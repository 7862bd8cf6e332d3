//! Which events to read: [`ActivityFilter`].

use chrono::{DateTime, Utc};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ip_filter::ip_matches;
use crate::event::{Action, ActionPattern, ActionSelector, ActivityEvent, ActorKind, Outcome};

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
    /// Only these actions. With [`action_patterns`](Self::action_patterns),
    /// an event passes when either list takes its action.
    pub actions: Vec<Action>,
    /// Only events of these categories (see
    /// [`ActivityEvent::category`]); events without one match none.
    #[serde(default)]
    pub categories: Vec<String>,
    /// Only actions these patterns cover: `auth.*` takes `auth.login.failed`.
    /// With [`actions`](Self::actions), an event passes when either list
    /// takes its action.
    #[serde(default)]
    pub action_patterns: Vec<ActionPattern>,
    /// Only these outcomes.
    pub outcomes: Vec<Outcome>,
    /// Only events on this resource type.
    pub resource_type: Option<String>,
    /// Only events on the resource with this id.
    pub resource_id: Option<String>,
    /// Only events of this request.
    pub request_id: Option<String>,
    /// Only events from this client address (a network of one address) or
    /// network. See [`ActivityFilter::ip`] for what a stored hash or
    /// truncated address matches.
    #[serde(default)]
    pub ip: Option<IpNet>,
    /// Only events whose details hold each of these top-level keys with this
    /// string value.
    #[serde(default)]
    pub detail_values: Vec<(String, String)>,
    /// Only events whose resource id, actor label or a value in their
    /// details contains this text, case included (see
    /// [`ActivityFilter::text`]).
    #[serde(default)]
    pub text: Option<String>,
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

    /// Also matches the actions `pattern` covers: `"auth.*".parse()` takes
    /// every action under `auth`.
    ///
    /// ```
    /// use tower_activity::{ActivityEvent, ActivityFilter};
    ///
    /// let auth = ActivityFilter::new().action_pattern("auth.*".parse().unwrap());
    /// let failed = ActivityEvent::builder("auth.login.failed").build().unwrap();
    /// let checked = ActivityEvent::builder("authz.checked").build().unwrap();
    /// assert!(auth.matches(&failed));
    /// assert!(!auth.matches(&checked));
    /// ```
    pub fn action_pattern(mut self, pattern: ActionPattern) -> Self {
        self.action_patterns.push(pattern);
        self
    }

    /// Also matches what `selector` names: the action, or every action
    /// under the namespace (see [`action`](Self::action) and
    /// [`action_pattern`](Self::action_pattern)).
    pub fn select_action(self, selector: ActionSelector) -> Self {
        match selector {
            ActionSelector::Action(action) => self.action(action),
            ActionSelector::Namespace(pattern) => self.action_pattern(pattern),
        }
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

    /// Only events from the client address or network `ip`: an
    /// [`IpAddr`](std::net::IpAddr) or an [`IpNet`] such as `10.0.0.0/8`.
    ///
    /// The stored IP is text. An address matches when its stored text is
    /// the address as the library writes it (`IpAddr`'s text: `10.0.0.1`,
    /// `2001:db8::1`) and it lies in the network; a row stored as a network
    /// under [`IpPrivacy::truncate`](crate::IpPrivacy::truncate) matches a
    /// filter for that very network (`203.0.113.0/24`). A keyed hash
    /// ([`IpPrivacy::keyed_hash`](crate::IpPrivacy::keyed_hash)) matches
    /// nothing, nor does an IPv4-mapped IPv6 text (`::ffff:10.0.0.1`, which
    /// the layer stores as `10.0.0.1`). Stores check a network on the text,
    /// without casts, so no stored text can fail a query; text that is an
    /// address written in another form than the library's (`2001:0db8::1`,
    /// `10.0.0.01`), which only a hand-made row holds, may be selected by a
    /// network in the database while this method rejects it.
    ///
    /// ```
    /// use std::net::IpAddr;
    /// use ipnet::IpNet;
    /// use tower_activity::ActivityFilter;
    ///
    /// let one = ActivityFilter::new().ip("203.0.113.7".parse::<IpAddr>().unwrap());
    /// let private = ActivityFilter::new().ip("10.0.0.0/8".parse::<IpNet>().unwrap());
    /// # let _ = (one, private);
    /// ```
    pub fn ip(mut self, ip: impl Into<IpNet>) -> Self {
        self.ip = Some(ip.into());
        self
    }

    /// Only events whose details hold the top-level `key` with the string
    /// `value`; each call adds a key that must match too. A number or a
    /// boolean never matches: log the value as a string to filter on it.
    ///
    /// ```
    /// use tower_activity::{ActivityEvent, ActivityFilter};
    ///
    /// let filter = ActivityFilter::new().detail("reason", "bad_password");
    /// let event = ActivityEvent::builder("auth.login.failed")
    ///     .detail("reason", "bad_password")
    ///     .build()
    ///     .unwrap();
    /// assert!(filter.matches(&event));
    /// ```
    pub fn detail(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.detail_values.push((key.into(), value.into()));
        self
    }

    /// Only events whose resource id, actor label or a value anywhere in
    /// their details (not a key) contains `text`, case included: a string is
    /// searched as its characters, a number, `true`, `false` or `null` as its
    /// JSON text. A number written with an exponent or trailing zeros may
    /// read differently on PostgreSQL and SQLite (`1e2` as `100`, `1.50` as
    /// `1.5`); the library writes numbers without them. No index serves
    /// this filter: each event read is searched.
    pub fn text(mut self, text: impl Into<String>) -> Self {
        self.text = Some(text.into());
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
            && self.action_matches(&event.action)
            && (self.categories.is_empty()
                || event
                    .category
                    .as_deref()
                    .is_some_and(|category| self.categories.iter().any(|wanted| wanted == category)))
            && (self.outcomes.is_empty() || self.outcomes.contains(&event.outcome))
            && same(&self.resource_type, event.resource_type.as_deref())
            && same(&self.resource_id, event.resource_id.as_deref())
            && same(&self.request_id, event.request_id.as_deref())
            && self
                .ip
                .is_none_or(|net| event.ip.as_deref().is_some_and(|ip| ip_matches(&net, ip)))
            && self.detail_values.iter().all(|(key, value)| {
                event
                    .details
                    .as_ref()
                    .and_then(|details| details.get(key))
                    .is_some_and(|found| found.as_str() == Some(value))
            })
            && self.text.as_deref().is_none_or(|text| text_matches(event, text))
            && self.since.is_none_or(|since| event.occurred_at >= since)
            && self.until.is_none_or(|until| event.occurred_at < until)
    }

    /// Whether `action` passes the action lists.
    fn action_matches(&self, action: &Action) -> bool {
        (self.actions.is_empty() && self.action_patterns.is_empty())
            || self.actions.contains(action)
            || self
                .action_patterns
                .iter()
                .any(|pattern| pattern.covers(action.as_str()))
    }
}

/// Whether `text` is part of the event's resource id, actor label or a value
/// in its details: a string's characters, or a number's, `true`'s, `false`'s
/// or `null`'s JSON text.
fn text_matches(event: &ActivityEvent, text: &str) -> bool {
    fn in_values(value: &Value, text: &str) -> bool {
        match value {
            Value::String(string) => string.contains(text),
            Value::Array(values) => values.iter().any(|value| in_values(value, text)),
            Value::Object(map) => map.values().any(|value| in_values(value, text)),
            scalar => scalar.to_string().contains(text),
        }
    }
    event.resource_id.as_deref().is_some_and(|id| id.contains(text))
        || event
            .actor
            .as_ref()
            .and_then(|actor| actor.label.as_deref())
            .is_some_and(|label| label.contains(text))
        || event
            .details
            .as_ref()
            .is_some_and(|details| in_values(&details.as_value(), text))
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

    #[test]
    fn the_text_filters_match_their_fields() {
        let event = ActivityEvent::builder("auth.login.failed")
            .resource("session", "s_50%")
            .actor(crate::Actor::user("u1").with_label("Alice"))
            .ip("10.1.2.3".parse().unwrap())
            .details(serde_json::json!({"reason": "bad_password", "n": 3, "deep": [{"x": true}]}))
            .build()
            .unwrap();
        let pattern = |text: &str| ActivityFilter::new().action_pattern(text.parse().unwrap());
        let ip = |text: &str| ActivityFilter::new().ip(crate::parse_ip_filter(text).unwrap());
        for (filter, passes) in [
            (pattern("auth.*"), true),
            (pattern("auth.login"), true),
            (pattern("aut.*"), false),
            (pattern("billing.*").action(Action::Create), false),
            (pattern("billing.*").action(event.action.clone()), true),
            (ip("10.0.0.0/8"), true),
            (ip("10.1.2.3"), true),
            (ip("10.1.2.4"), false),
            (ip("2001:db8::/32"), false),
            (ActivityFilter::new().detail("reason", "bad_password"), true),
            (ActivityFilter::new().detail("n", "3"), false),
            (
                ActivityFilter::new()
                    .detail("reason", "bad_password")
                    .detail("x", "y"),
                false,
            ),
            (ActivityFilter::new().text("50%"), true),
            (ActivityFilter::new().text("Alice"), true),
            (ActivityFilter::new().text("alice"), false),
            (ActivityFilter::new().text("_pass"), true),
            (ActivityFilter::new().text("true"), true),
            (ActivityFilter::new().text("reason"), false),
        ] {
            assert_eq!(filter.matches(&event), passes, "{filter:?}");
        }
    }

    #[test]
    fn filters_round_trip_and_older_ones_read_with_empty_new_fields() {
        let filter = ActivityFilter::new()
            .action_pattern("auth.*".parse().unwrap())
            .ip(crate::parse_ip_filter("10.0.0.0/8").unwrap())
            .detail("reason", "bad_password")
            .text("x");
        let text = serde_json::to_string(&filter).unwrap();
        assert_eq!(serde_json::from_str::<ActivityFilter>(&text).unwrap(), filter);
        let older = r#"{"tenant_id":"a","actor_id":null,"actions":[],"outcomes":[],"resource_type":null,
            "resource_id":null,"request_id":null,"since":null,"until":null}"#;
        assert_eq!(
            serde_json::from_str::<ActivityFilter>(older).unwrap(),
            ActivityFilter::new().tenant("a")
        );
        let bad = text.replace("auth", "Auth");
        assert!(serde_json::from_str::<ActivityFilter>(&bad).is_err());
    }
}
