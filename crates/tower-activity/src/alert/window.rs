//! The sliding-window counter one key of a counting rule keeps.

use std::collections::VecDeque;

use uuid::Uuid;

/// The times (microseconds since the epoch) and ids of a key's most recent
/// matching events: at most `threshold` of them, all within `window` of the
/// newest. Once it has alerted, the key stays quiet until a whole window
/// passes with no matching event for it.
#[derive(Debug)]
pub(super) struct SlidingWindow {
    /// Oldest first, in time order.
    recent: VecDeque<(i64, Uuid)>,
    /// The newest matching event's time.
    last_seen: i64,
    /// Whether it has alerted and the window has stayed hot since.
    alerted: bool,
}

/// A window that has just reached its threshold.
#[derive(Debug, PartialEq)]
pub(super) struct Reached {
    pub(super) count: usize,
    pub(super) first: Uuid,
    pub(super) last: Uuid,
    pub(super) last_at: i64,
}

impl SlidingWindow {
    pub(super) fn new(at: i64) -> Self {
        SlidingWindow {
            recent: VecDeque::new(),
            last_seen: at,
            alerted: false,
        }
    }

    /// Whether nothing has matched within `window` before `now`.
    pub(super) fn is_cold(&self, now: i64, window: i64) -> bool {
        now.saturating_sub(self.last_seen) > window
    }

    /// Counts a matching event; returns what to alert on when it brings the
    /// window to `threshold` and the key has not alerted while hot.
    pub(super) fn add(&mut self, at: i64, id: Uuid, threshold: usize, window: i64) -> Option<Reached> {
        if self.is_cold(at, window) {
            // A whole window without a match: the key starts afresh.
            self.recent.clear();
            self.alerted = false;
        }
        self.last_seen = self.last_seen.max(at);
        if self.alerted {
            return None;
        }
        // Events mostly arrive in time order; a late one takes its place.
        let place = self.recent.partition_point(|&(time, _)| time <= at);
        self.recent.insert(place, (at, id));
        let newest = self.recent.back().map_or(at, |&(time, _)| time);
        while self
            .recent
            .front()
            .is_some_and(|&(time, _)| newest.saturating_sub(time) > window)
        {
            self.recent.pop_front();
        }
        while self.recent.len() > threshold {
            self.recent.pop_front();
        }
        if self.recent.len() < threshold {
            return None;
        }
        let (&(_, first), &(last_at, last)) = (self.recent.front()?, self.recent.back()?);
        let reached = Reached {
            count: self.recent.len(),
            first,
            last,
            last_at,
        };
        self.alerted = true;
        self.recent.clear();
        Some(reached)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(second: i64) -> i64 {
        (1_700_000_000 + second) * 1_000_000
    }

    const MINUTE: i64 = 60_000_000;

    #[test]
    fn reaches_the_threshold_within_the_window_once_while_hot() {
        let mut window = SlidingWindow::new(at(0));
        let ids: Vec<_> = (0..6).map(|_| Uuid::now_v7()).collect();
        assert_eq!(window.add(at(0), ids[0], 3, MINUTE), None);
        assert_eq!(window.add(at(10), ids[1], 3, MINUTE), None);
        let reached = window.add(at(60), ids[2], 3, MINUTE).unwrap();
        assert_eq!((reached.count, reached.first, reached.last), (3, ids[0], ids[2]));
        // Hot: matches within a window of each other stay quiet.
        assert_eq!(window.add(at(100), ids[3], 3, MINUTE), None);
        assert_eq!(window.add(at(150), ids[4], 3, MINUTE), None);
        assert_eq!(window.add(at(200), ids[5], 3, MINUTE), None);
    }

    #[test]
    fn events_further_apart_than_the_window_never_reach_it() {
        let mut window = SlidingWindow::new(at(0));
        for i in 0..100 {
            assert_eq!(window.add(at(i * 31), Uuid::now_v7(), 3, MINUTE), None);
        }
    }

    #[test]
    fn a_window_that_went_cold_alerts_again() {
        let mut window = SlidingWindow::new(at(0));
        assert_eq!(window.add(at(0), Uuid::now_v7(), 2, MINUTE), None);
        assert!(window.add(at(1), Uuid::now_v7(), 2, MINUTE).is_some());
        assert_eq!(window.add(at(60), Uuid::now_v7(), 2, MINUTE), None, "still hot");
        // More than a window after the last match: a fresh count.
        assert!(window.is_cold(at(121), MINUTE));
        assert_eq!(window.add(at(121), Uuid::now_v7(), 2, MINUTE), None);
        assert!(window.add(at(122), Uuid::now_v7(), 2, MINUTE).is_some());
    }

    #[test]
    fn a_late_event_is_placed_by_its_time() {
        let mut window = SlidingWindow::new(at(0));
        let (early, late) = (Uuid::now_v7(), Uuid::now_v7());
        assert_eq!(window.add(at(30), late, 2, MINUTE), None);
        let reached = window.add(at(0), early, 2, MINUTE).unwrap();
        assert_eq!((reached.first, reached.last), (early, late));
    }
}
