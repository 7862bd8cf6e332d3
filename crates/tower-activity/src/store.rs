//! Reading the log back: filters, keyset pagination and counts, and the trait
//! that stores implement.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::action::Action;
use crate::event::ActivityEvent;
use crate::outcome::Outcome;
use crate::sink::BoxError;

/// The page size when none is asked for.
pub const DEFAULT_PAGE_LIMIT: usize = 50;

/// The largest page a store returns.
pub const MAX_PAGE_LIMIT: usize = 1_000;

/// A store the log can be read from.
///
/// Pages are keyset-paginated on the event id (a UUID v7, so time-ordered):
/// paging while new events arrive neither repeats nor skips an entry.
pub trait ActivityStore: Send + Sync + 'static {
    /// One page of events matching `query`.
    fn list(&self, query: &ActivityQuery) -> impl Future<Output = Result<ActivityPage, StoreError>> + Send;

    /// The event with `id`, if there is one.
    fn get(&self, id: Uuid) -> impl Future<Output = Result<Option<ActivityEvent>, StoreError>> + Send;

    /// Counts of the events matching `filter`, by UTC day, action and outcome.
    fn counts(
        &self,
        filter: &ActivityFilter,
    ) -> impl Future<Output = Result<Vec<ActivityCount>, StoreError>> + Send;
}

/// Which events to read. Empty fields do not filter; lists match any of their
/// entries.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ActivityFilter {
    /// Only this tenant's events.
    pub tenant_id: Option<String>,
    /// Only events by the actor with this id.
    pub actor_id: Option<String>,
    /// Only these actions.
    pub actions: Vec<Action>,
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

    /// Also matches `action`.
    pub fn action(mut self, action: Action) -> Self {
        self.actions.push(action);
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
            && (self.actions.is_empty() || self.actions.contains(&event.action))
            && (self.outcomes.is_empty() || self.outcomes.contains(&event.outcome))
            && same(&self.resource_type, event.resource_type.as_deref())
            && same(&self.resource_id, event.resource_id.as_deref())
            && same(&self.request_id, event.request_id.as_deref())
            && self.since.is_none_or(|since| event.occurred_at >= since)
            && self.until.is_none_or(|until| event.occurred_at < until)
    }
}

/// The order of a listing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Order {
    /// Newest first (the default).
    #[default]
    NewestFirst,
    /// Oldest first: for following the log as it grows.
    OldestFirst,
}

/// A page request: a filter, an order, where to continue, and how many.
#[derive(Clone, Debug, PartialEq)]
pub struct ActivityQuery {
    /// Which events.
    pub filter: ActivityFilter,
    /// In which order.
    pub order: Order,
    /// Continue after this position (from [`ActivityPage::next`]).
    pub after: Option<Cursor>,
    /// The page size, at most [`MAX_PAGE_LIMIT`].
    pub limit: usize,
}

impl ActivityQuery {
    /// The first page, newest first, of [`DEFAULT_PAGE_LIMIT`] events matching
    /// `filter`.
    pub fn new(filter: ActivityFilter) -> Self {
        ActivityQuery {
            filter,
            order: Order::NewestFirst,
            after: None,
            limit: DEFAULT_PAGE_LIMIT,
        }
    }

    /// Sets the order.
    pub fn order(mut self, order: Order) -> Self {
        self.order = order;
        self
    }

    /// Continues after `cursor`.
    pub fn after(mut self, cursor: Option<Cursor>) -> Self {
        self.after = cursor;
        self
    }

    /// Sets the page size, clamped to 1..=[`MAX_PAGE_LIMIT`].
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit.clamp(1, MAX_PAGE_LIMIT);
        self
    }

    /// The page size a store should read: [`limit`](Self::limit) clamped to
    /// 1..=[`MAX_PAGE_LIMIT`], whatever was written into the field.
    pub fn page_size(&self) -> usize {
        self.limit.clamp(1, MAX_PAGE_LIMIT)
    }

    /// Whether `id` comes after the cursor in this query's order.
    pub fn is_after_cursor(&self, id: Uuid) -> bool {
        match (&self.after, self.order) {
            (None, _) => true,
            (Some(cursor), Order::NewestFirst) => id < cursor.0,
            (Some(cursor), Order::OldestFirst) => id > cursor.0,
        }
    }
}

/// One page of events, and where the next one starts.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ActivityPage {
    /// The events, in the query's order.
    pub events: Vec<ActivityEvent>,
    /// The cursor for the next page; `None` on the last page.
    pub next: Option<Cursor>,
}

impl ActivityPage {
    /// A page from up to `size + 1` events read in order: the extra event, if
    /// present, only tells that there is a next page.
    pub fn from_overfetch(mut events: Vec<ActivityEvent>, size: usize) -> Self {
        let next = if events.len() > size {
            events.truncate(size);
            events.last().map(|event| Cursor(event.id))
        } else {
            None
        };
        ActivityPage { events, next }
    }
}

/// An opaque position in a listing. Its text form is stable and safe in URLs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Cursor(Uuid);

impl Cursor {
    /// The position just past the event `id`.
    pub fn after_event(id: Uuid) -> Self {
        Cursor(id)
    }

    /// The id of the last event before this position.
    pub fn event_id(&self) -> Uuid {
        self.0
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "c1{}", self.0.simple())
    }
}

/// Text that is not a cursor.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid cursor: pass back the `next` value of a previous page unchanged")]
pub struct InvalidCursor;

impl FromStr for Cursor {
    type Err = InvalidCursor;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let hex = text.strip_prefix("c1").ok_or(InvalidCursor)?;
        if hex.len() != 32 {
            return Err(InvalidCursor);
        }
        Uuid::try_parse(hex).map(Cursor).map_err(|_| InvalidCursor)
    }
}

impl Serialize for Cursor {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Cursor {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// How many events of one action and outcome happened on one UTC day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityCount {
    /// The UTC day.
    pub day: NaiveDate,
    /// The action.
    pub action: Action,
    /// The outcome.
    pub outcome: Outcome,
    /// How many.
    pub count: u64,
}

impl ActivityCount {
    /// Adds up `counts` of the same day, action and outcome, sorted by day,
    /// action and outcome: how stores report [`ActivityStore::counts`].
    pub fn tally(counts: impl IntoIterator<Item = ActivityCount>) -> Vec<ActivityCount> {
        let mut sums = BTreeMap::new();
        for count in counts {
            *sums.entry((count.day, count.action, count.outcome)).or_insert(0) += count.count;
        }
        sums.into_iter()
            .map(|((day, action, outcome), count)| ActivityCount {
                day,
                action,
                outcome,
                count,
            })
            .collect()
    }
}

/// A store that could not answer. Its message is this layer's only: the
/// underlying error is its [`source`](std::error::Error::source).
#[derive(Debug, thiserror::Error)]
#[error("activity store failed")]
pub struct StoreError(#[source] BoxError);

impl StoreError {
    /// Wraps the underlying error.
    pub fn new(error: impl Into<BoxError>) -> Self {
        StoreError(error.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_rejects_tampering() {
        let cursor = Cursor::after_event(Uuid::now_v7());
        assert_eq!(cursor.to_string().parse::<Cursor>().unwrap(), cursor);
        for bad in [
            "",
            "c1",
            "c1zz",
            "x1",
            "c1' OR 1=1 --",
            &format!("c2{}", cursor.0.simple()),
        ] {
            assert_eq!(bad.parse::<Cursor>(), Err(InvalidCursor), "{bad}");
        }
    }

    #[test]
    fn limits_are_clamped() {
        assert_eq!(ActivityQuery::new(ActivityFilter::new()).limit(0).limit, 1);
        assert_eq!(
            ActivityQuery::new(ActivityFilter::new()).limit(1_000_000).limit,
            MAX_PAGE_LIMIT
        );
        let mut query = ActivityQuery::new(ActivityFilter::new());
        query.limit = 5_000;
        assert_eq!(query.page_size(), MAX_PAGE_LIMIT);
    }

    #[test]
    fn filter_matches_every_field() {
        let event = ActivityEvent::builder(Action::Delete)
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
        assert!(!ActivityFilter::new().action(Action::Create).matches(&event));
        assert!(!ActivityFilter::new().outcome(Outcome::Error).matches(&event));
        assert!(!ActivityFilter::new().resource("user", "8").matches(&event));
        assert!(!ActivityFilter::new().request_id("r2").matches(&event));
        assert!(!ActivityFilter::new().until(event.occurred_at).matches(&event));
    }

    #[test]
    fn overfetch_tells_whether_there_is_a_next_page() {
        let events: Vec<_> = (0..3)
            .map(|_| ActivityEvent::builder(Action::Read).build().unwrap())
            .collect();
        let page = ActivityPage::from_overfetch(events.clone(), 2);
        assert_eq!(page.events.len(), 2);
        assert_eq!(page.next, Some(Cursor::after_event(events[1].id)));
        let last = ActivityPage::from_overfetch(events, 3);
        assert_eq!(last.next, None);
    }
}
