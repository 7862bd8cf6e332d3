//! A page of the log: order, size, cursor; and counts by day.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{ActivityFilter, Cursor};
use crate::event::{Action, ActivityEvent, Outcome};

/// The page size when none is asked for.
pub const DEFAULT_PAGE_LIMIT: usize = 50;

/// The largest page a store returns.
pub const MAX_PAGE_LIMIT: usize = 1_000;

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
            (Some(cursor), Order::NewestFirst) => id < cursor.event_id(),
            (Some(cursor), Order::OldestFirst) => id > cursor.event_id(),
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
            events.last().map(|event| Cursor::after_event(event.id))
        } else {
            None
        };
        ActivityPage { events, next }
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
    /// action and outcome: how stores report [`ActivityStore::counts`](crate::ActivityStore::counts).
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

#[cfg(test)]
mod tests {
    use super::*;

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
