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
/// the look-back window before the newest it has seen, and returns those it
/// has not returned yet; an entry that arrives later than that after newer
/// ones is not followed (listings still show it).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use tower_activity::{Action, ActivityEvent, ActivityFilter, ActivitySink, DEFAULT_LOOKBACK, Follower, MemorySink};
///
/// let store = MemorySink::new();
/// let late = ActivityEvent::builder(Action::Read).build().unwrap();
/// let filter = ActivityFilter::new();
/// let mut follower = Follower::start(&store, filter, DEFAULT_LOOKBACK).await.unwrap();
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
    /// The newest entry returned, or the floor.
    last: Uuid,
    /// The Unix millisecond of the newest entry returned, or of the start.
    high_water: u64,
    lookback: Duration,
    /// Ids returned (or present at the start) within the look-back window.
    seen: HashSet<Uuid>,
    caught_up: bool,
}

impl Follower {
    /// Follows entries that arrive from now on, looking `lookback` back for
    /// late ones. The entries made in the last `lookback` are read once, so
    /// that they are not taken for new.
    pub async fn start<S: ActivityStore>(
        store: &S,
        filter: ActivityFilter,
        lookback: Duration,
    ) -> Result<Follower, StoreError> {
        let now = now_millis();
        let mut follower = Follower {
            filter,
            floor: Uuid::nil(),
            last: Uuid::nil(),
            high_water: now,
            lookback,
            seen: HashSet::new(),
            caught_up: true,
        };
        follower.floor = floor_id(follower.lower_millis());
        follower.last = follower.floor;
        let present = follower.read(store, follower.floor).await?;
        follower.seen.extend(present.iter().map(|event| event.id));
        Ok(follower)
    }

    /// Follows entries after the entry `id`, looking `lookback` back for late
    /// ones: for a client resuming where it stopped. A backlog older than the
    /// look-back is read a page per [`poll`](Self::poll).
    pub fn after(filter: ActivityFilter, id: Uuid, lookback: Duration) -> Follower {
        Follower {
            filter,
            floor: id,
            last: id,
            high_water: millis_of(id),
            lookback,
            seen: HashSet::new(),
            caught_up: false,
        }
    }

    /// Whether the last [`poll`](Self::poll) read up to the present; `false`
    /// while a backlog is being read a page at a time, when polling again at
    /// once makes sense.
    pub fn caught_up(&self) -> bool {
        self.caught_up
    }

    /// Takes `events` as already returned: for entries shown by other means,
    /// such as the latest few listed before following.
    pub fn mark_seen<'a>(&mut self, events: impl IntoIterator<Item = &'a ActivityEvent>) {
        for event in events {
            self.high_water = self.high_water.max(millis_of(event.id));
            self.last = self.last.max(event.id);
            self.seen.insert(event.id);
        }
    }

    /// The entries that arrived since the last poll, oldest first.
    ///
    /// While the newest entry returned is older than the look-back, this
    /// reads one page after it; then it reads the whole look-back window,
    /// whose size is bounded by the rate of entries.
    pub async fn poll<S: ActivityStore>(&mut self, store: &S) -> Result<Vec<ActivityEvent>, StoreError> {
        let lookback = u64::try_from(self.lookback.as_millis()).unwrap_or(u64::MAX);
        let present = floor_id(now_millis().saturating_sub(lookback));
        let mut new = if self.last < present {
            let query = ActivityQuery::new(self.filter.clone())
                .order(Order::OldestFirst)
                .after(Some(Cursor::after_event(self.last)))
                .limit(MAX_PAGE_LIMIT);
            let page = store.list(&query).await?;
            if let Some(last) = page.events.last() {
                self.last = last.id;
            }
            self.caught_up = page.next.is_none();
            page.events
        } else {
            let lower = floor_id(self.lower_millis()).max(self.floor);
            self.caught_up = true;
            self.read(store, lower).await?
        };
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
        let mut follower = Follower::start(&store, ActivityFilter::new(), DEFAULT_LOOKBACK)
            .await
            .unwrap();
        assert!(follower.poll(&store).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn entries_beyond_a_page_are_all_returned_in_order() {
        let store = MemorySink::new();
        let mut follower = Follower::start(&store, ActivityFilter::new(), DEFAULT_LOOKBACK)
            .await
            .unwrap();
        let batch: Vec<_> = (0..2_500).map(|_| event()).collect();
        store.write_batch(&batch).await.unwrap();
        let mut read = follower.poll(&store).await.unwrap();
        while !follower.caught_up() {
            read.extend(follower.poll(&store).await.unwrap());
        }
        assert_eq!(read, batch);
        assert!(follower.poll(&store).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_resumed_follower_starts_after_the_given_entry() {
        let store = MemorySink::new();
        let (seen, unseen) = (event(), event());
        store.write_batch(&[seen.clone(), unseen.clone()]).await.unwrap();
        let mut follower = Follower::after(ActivityFilter::new(), seen.id, DEFAULT_LOOKBACK);
        assert_eq!(follower.poll(&store).await.unwrap(), vec![unseen]);
    }

    #[tokio::test]
    async fn an_old_backlog_is_read_a_page_per_poll() {
        let store = MemorySink::new();
        let resumed = event();
        let backlog: Vec<_> = (0..2 * MAX_PAGE_LIMIT + 10).map(|_| event()).collect();
        store.write_batch(&backlog).await.unwrap();
        let mut follower = Follower::after(ActivityFilter::new(), resumed.id, Duration::ZERO);
        let mut read = Vec::new();
        let mut polls = 0;
        loop {
            let page = follower.poll(&store).await.unwrap();
            polls += 1;
            assert!(page.len() <= MAX_PAGE_LIMIT);
            read.extend(page);
            if follower.caught_up() {
                break;
            }
        }
        assert_eq!(read, backlog);
        assert_eq!(polls, 3);
    }

    #[tokio::test]
    async fn entries_later_than_the_lookback_are_not_followed() {
        let store = MemorySink::new();
        let ancient = {
            let mut event = event();
            event.id = floor_id(millis_of(event.id) - 60_000);
            event
        };
        let mut follower = Follower::start(&store, ActivityFilter::new(), DEFAULT_LOOKBACK)
            .await
            .unwrap();
        store.write_batch(&[ancient]).await.unwrap();
        assert!(follower.poll(&store).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn only_matching_entries_are_followed() {
        let store = MemorySink::new();
        let mut follower = Follower::start(&store, ActivityFilter::new().tenant("acme"), DEFAULT_LOOKBACK)
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
