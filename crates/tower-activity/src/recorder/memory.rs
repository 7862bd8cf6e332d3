//! An in-memory sink and store, for tests, examples and development.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use uuid::Uuid;

use super::{ActivitySink, SinkError};
use crate::event::ActivityEvent;
use crate::store::{
    ActivityCount, ActivityFilter, ActivityPage, ActivityQuery, ActivityStore, Order, StoreError,
};

/// Keeps every written event in memory, ordered by id; cloning it shares the
/// same events. It is both a sink and a store.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use tower_activity::{Action, ActivityEvent, ActivitySink, MemorySink};
///
/// let sink = MemorySink::new();
/// let event = ActivityEvent::builder(Action::Create).build().unwrap();
/// sink.write_batch(&[event.clone(), event]).await.unwrap();
/// assert_eq!(sink.events().len(), 1, "writing an event twice keeps one copy");
/// # }
/// ```
#[derive(Clone, Debug, Default)]
pub struct MemorySink {
    events: Arc<Mutex<BTreeMap<Uuid, ActivityEvent>>>,
}

impl MemorySink {
    /// An empty sink.
    pub fn new() -> Self {
        MemorySink::default()
    }

    /// Every event written so far, oldest first.
    pub fn events(&self) -> Vec<ActivityEvent> {
        self.lock().values().cloned().collect()
    }

    /// How many events have been written.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether nothing has been written.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<Uuid, ActivityEvent>> {
        // A panic elsewhere while holding the lock cannot leave the map half
        // written: every change is a single insert.
        self.events
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl ActivitySink for MemorySink {
    async fn write_batch(&self, batch: &[ActivityEvent]) -> Result<(), SinkError> {
        let mut events = self.lock();
        for event in batch {
            events.insert(event.id, event.clone());
        }
        Ok(())
    }
}

impl ActivityStore for MemorySink {
    async fn list(&self, query: &ActivityQuery) -> Result<ActivityPage, StoreError> {
        let events = self.lock();
        let size = query.page_size();
        let matching =
            |event: &&ActivityEvent| query.is_after_cursor(event.id) && query.filter.matches(event);
        let page: Vec<_> = match query.order {
            Order::NewestFirst => events
                .values()
                .rev()
                .filter(matching)
                .take(size + 1)
                .cloned()
                .collect(),
            Order::OldestFirst => events.values().filter(matching).take(size + 1).cloned().collect(),
        };
        Ok(ActivityPage::from_overfetch(page, size))
    }

    async fn get(&self, id: Uuid) -> Result<Option<ActivityEvent>, StoreError> {
        Ok(self.lock().get(&id).cloned())
    }

    async fn counts(&self, filter: &ActivityFilter) -> Result<Vec<ActivityCount>, StoreError> {
        let events = self.lock();
        let counts = events
            .values()
            .filter(|event| filter.matches(event))
            .map(|event| ActivityCount {
                day: event.occurred_at.date_naive(),
                action: event.action.clone(),
                outcome: event.outcome,
                count: 1,
            });
        Ok(ActivityCount::tally(counts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Action, Outcome};

    async fn filled(n: usize) -> MemorySink {
        let sink = MemorySink::new();
        let batch: Vec<_> = (0..n)
            .map(|i| {
                ActivityEvent::builder(if i % 2 == 0 {
                    Action::Create
                } else {
                    Action::Delete
                })
                .tenant(if i % 3 == 0 { "a" } else { "b" })
                .build()
                .unwrap()
            })
            .collect();
        sink.write_batch(&batch).await.unwrap();
        sink
    }

    #[tokio::test]
    async fn pages_visit_every_matching_event_once_in_both_orders() {
        let sink = filled(95).await;
        for order in [Order::NewestFirst, Order::OldestFirst] {
            let mut seen = Vec::new();
            let mut cursor = None;
            loop {
                let query = ActivityQuery::new(ActivityFilter::new().tenant("b"))
                    .order(order)
                    .after(cursor)
                    .limit(7);
                let page = sink.list(&query).await.unwrap();
                seen.extend(page.events.iter().map(|event| event.id));
                let Some(next) = page.next else { break };
                cursor = Some(next);
            }
            let mut expected: Vec<_> = sink
                .events()
                .into_iter()
                .filter(|event| event.tenant_id.as_deref() == Some("b"))
                .map(|event| event.id)
                .collect();
            if order == Order::NewestFirst {
                expected.reverse();
            }
            assert_eq!(seen, expected);
        }
    }

    #[tokio::test]
    async fn counts_group_by_day_action_and_outcome() {
        let sink = filled(10).await;
        let counts = sink.counts(&ActivityFilter::new()).await.unwrap();
        let total: u64 = counts.iter().map(|count| count.count).sum();
        assert_eq!(total, 10);
        let creates = counts
            .iter()
            .find(|count| count.action == Action::Create)
            .unwrap();
        assert_eq!((creates.count, creates.outcome), (5, Outcome::Success));
    }
}
