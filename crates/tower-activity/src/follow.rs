//! Following the log as it grows: new entries, each once, in id order,
//! including entries that reach the store late.

use std::collections::HashSet;
use std::time::Duration;

use uuid::Uuid;

use crate::event::ActivityEvent;
use crate::store::{ActivityFilter, ActivityQuery, ActivityStore, Cursor, MAX_PAGE_LIMIT, Order, StoreError};

/// How far back a [`Follower`] looks again by default.
pub const DEFAULT_LOOKBACK: Duration = Duration::from_secs(5);

/// Follows a store for new entries matching a filter: each call to
/// [`poll`](Follower::poll) returns the entries that arrived since the last,
/// oldest first, each exactly once.
///
/// Entries do not always reach the store in id order: a recorder writes its
/// batch some time after the events were made, another instance's writer may
/// lag, and an event logged inside a transaction gets its id before the
/// transaction commits. A follower therefore reads again the entries made in
/// the last [`lookback`](Follower::lookback) before the newest it has seen, and
/// returns those it has not returned yet; an entry that arrives later than that
/// after newer ones is not followed (listings still show it).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use tower_activity::{Action, ActivityEvent, ActivityFilter, ActivitySink, Follower, MemorySink};
///
/// let store = MemorySink::new();
/// let late = ActivityEvent::builder(Action::Read).build().unwrap();
/// let mut follower = Follower::start(&store, ActivityFilter::new()).await.unwrap();
///
/// let newer = ActivityEvent::builder(Action::Update).build().unwrap();
/// store.write_batch(&[newer.clone()]).await.unwrap();
/// assert_eq!(follower.poll(&store).await.unwrap(), vec![newer]);
///
/// // Made earlier, written later: still followed, once.
/// store.write_batch(&[late.clone()]).await.unwrap();
/// assert_eq!(follower.poll(&store).await.unwrap(), vec![late]);
/// assert!(follower.poll(&store).await.unwrap().is_empty());
/// # }
/// ```
#[derive(Debug)]
pub struct Follower {
    filter: ActivityFilter,
    /// Nothing at or before this id is returned.
    floor: Uuid,
    /// The Unix millisecond of the newest entry returned, or of the start.
    high_water: u64,
    lookback: Duration,
    /// Ids returned (or present at the start) within the look-back window.
    seen: HashSet<Uuid>,
}

impl Follower {
    /// Follows entries that arrive from now on. The entries made in the last
    /// [`DEFAULT_LOOKBACK`] are read once, so that they are not taken for new.
    pub async fn start<S: ActivityStore>(store: &S, filter: ActivityFilter) -> Result<Follower, StoreError> {
        let now = now_millis();
        let mut follower = Follower {
            filter,
            floor: Uuid::nil(),
            high_water: now,
            lookback: DEFAULT_LOOKBACK,
            seen: HashSet::new(),
        };
        follower.floor = floor_id(follower.lower_millis());
        let present = follower.read(store, follower.floor).await?;
        follower.seen.extend(present.iter().map(|event| event.id));
        Ok(follower)
    }

    /// Follows entries after the entry `id`: for a client resuming where it
    /// stopped.
    pub fn after(filter: ActivityFilter, id: Uuid) -> Follower {
        Follower {
            filter,
            floor: id,
            high_water: millis_of(id),
            lookback: DEFAULT_LOOKBACK,
            seen: HashSet::new(),
        }
    }

    /// How far back before the newest entry returned to look again for late
    /// entries; [`DEFAULT_LOOKBACK`] unless set.
    pub fn lookback(mut self, lookback: Duration) -> Follower {
        self.lookback = lookback;
        self
    }

    /// Takes `events` as already returned: for entries shown by other means,
    /// such as the latest few listed before following.
    pub fn mark_seen<'a>(&mut self, events: impl IntoIterator<Item = &'a ActivityEvent>) {
        for event in events {
            self.high_water = self.high_water.max(millis_of(event.id));
            self.seen.insert(event.id);
        }
    }

    /// The entries that arrived since the last poll, oldest first.
    pub async fn poll<S: ActivityStore>(&mut self, store: &S) -> Result<Vec<ActivityEvent>, StoreError> {
        let lower = floor_id(self.lower_millis()).max(self.floor);
        let mut new = self.read(store, lower).await?;
        new.retain(|event| self.seen.insert(event.id));
        self.mark_seen(&new);
        let window = self.lower_millis();
        self.seen.retain(|id| millis_of(*id) >= window);
        Ok(new)
    }

    /// The Unix millisecond where the look-back window starts.
    fn lower_millis(&self) -> u64 {
        let lookback = u64::try_from(self.lookback.as_millis()).unwrap_or(u64::MAX);
        self.high_water.saturating_sub(lookback)
    }

    /// Every entry matching the filter after `lower`, oldest first.
    async fn read<S: ActivityStore>(&self, store: &S, lower: Uuid) -> Result<Vec<ActivityEvent>, StoreError> {
        let mut events = Vec::new();
        let mut after = Some(Cursor::after_event(lower));
        while after.is_some() {
            let query = ActivityQuery::new(self.filter.clone())
                .order(Order::OldestFirst)
                .after(after)
                .limit(MAX_PAGE_LIMIT);
            let page = store.list(&query).await?;
            events.extend(page.events.into_iter().filter(|event| event.id > self.floor));
            after = page.next;
        }
        Ok(events)
    }
}

/// The Unix millisecond a UUID v7 was made at (its first 48 bits).
fn millis_of(id: Uuid) -> u64 {
    let bytes = id.as_bytes();
    bytes[..6]
        .iter()
        .fold(0, |millis, &byte| (millis << 8) | u64::from(byte))
}

/// The smallest id a UUID v7 made at Unix millisecond `millis` can have.
fn floor_id(millis: u64) -> Uuid {
    let mut bytes = [0; 16];
    bytes[..6].copy_from_slice(&millis.to_be_bytes()[2..]);
    Uuid::from_bytes(bytes)
}

fn now_millis() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Action, ActivitySink, MemorySink};

    fn event() -> ActivityEvent {
        ActivityEvent::builder(Action::Read).build().unwrap()
    }

    #[test]
    fn floor_ids_order_below_every_id_of_their_millisecond() {
        let id = Uuid::now_v7();
        let millis = millis_of(id);
        assert!(floor_id(millis) < id);
        assert!(floor_id(millis + 1) > id);
    }

    #[tokio::test]
    async fn entries_present_at_the_start_are_not_new() {
        let store = MemorySink::new();
        store.write_batch(&[event()]).await.unwrap();
        let mut follower = Follower::start(&store, ActivityFilter::new()).await.unwrap();
        assert!(follower.poll(&store).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn entries_beyond_a_page_are_all_returned_in_order() {
        let store = MemorySink::new();
        let mut follower = Follower::start(&store, ActivityFilter::new()).await.unwrap();
        let batch: Vec<_> = (0..2_500).map(|_| event()).collect();
        store.write_batch(&batch).await.unwrap();
        assert_eq!(follower.poll(&store).await.unwrap(), batch);
    }

    #[tokio::test]
    async fn a_resumed_follower_starts_after_the_given_entry() {
        let store = MemorySink::new();
        let (seen, unseen) = (event(), event());
        store.write_batch(&[seen.clone(), unseen.clone()]).await.unwrap();
        let mut follower = Follower::after(ActivityFilter::new(), seen.id);
        assert_eq!(follower.poll(&store).await.unwrap(), vec![unseen]);
    }

    #[tokio::test]
    async fn entries_later_than_the_lookback_are_not_followed() {
        let store = MemorySink::new();
        let ancient = {
            let mut event = event();
            event.id = floor_id(millis_of(event.id) - 60_000);
            event
        };
        let mut follower = Follower::start(&store, ActivityFilter::new()).await.unwrap();
        store.write_batch(&[ancient]).await.unwrap();
        assert!(follower.poll(&store).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn only_matching_entries_are_followed() {
        let store = MemorySink::new();
        let mut follower = Follower::start(&store, ActivityFilter::new().tenant("acme"))
            .await
            .unwrap();
        let acme = ActivityEvent::builder(Action::Read)
            .tenant("acme")
            .build()
            .unwrap();
        store.write_batch(&[event(), acme.clone()]).await.unwrap();
        assert_eq!(follower.poll(&store).await.unwrap(), vec![acme]);
    }
}
