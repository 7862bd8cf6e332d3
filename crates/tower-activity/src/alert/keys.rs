//! The keys one rule tracks, at most `max_keys` of them however many an
//! attacker invents: a segmented least-recently-used table.
//!
//! A key seen once waits in the probation segment; seen again, it moves to
//! the protected one (at most four fifths of the table). A new key makes way
//! by evicting, in this order: the least recently seen protected key if it
//! has gone cold, else the least recently seen probation key, else the least
//! recently seen protected key. So a flood of keys seen once each (one
//! request per invented IP) only churns the probation segment and cannot
//! push out a key that is being hammered; to flush a hot key an attacker
//! must repeat more distinct keys than the protected segment holds.

use std::sync::Arc;

use hashlink::LinkedHashMap;

#[derive(Debug)]
pub(super) struct KeyTable<V> {
    /// Keys seen once, least recently seen first.
    probation: LinkedHashMap<Arc<str>, V>,
    /// Keys seen more than once, least recently seen first.
    protected: LinkedHashMap<Arc<str>, V>,
    max_keys: usize,
}

impl<V> KeyTable<V> {
    pub(super) fn new(max_keys: usize) -> Self {
        KeyTable {
            probation: LinkedHashMap::new(),
            protected: LinkedHashMap::new(),
            max_keys: max_keys.max(1),
        }
    }

    /// How many keys are tracked.
    pub(super) fn len(&self) -> usize {
        self.probation.len() + self.protected.len()
    }

    fn protected_max(&self) -> usize {
        (self.max_keys / 5 * 4).max(1)
    }

    /// The state of `key`, marked as just seen; made by `make` when the key
    /// is not tracked, after making way for it. `is_cold` tells whether a
    /// protected key's state has gone cold and may go first.
    pub(super) fn touch(
        &mut self,
        key: &Arc<str>,
        make: impl FnOnce() -> V,
        is_cold: impl Fn(&V) -> bool,
    ) -> Option<&mut V> {
        if self.protected.contains_key(key) {
            return self.protected.to_back(key);
        }
        if let Some(state) = self.probation.remove(key) {
            self.protected.insert(key.clone(), state);
            if self.protected.len() > self.protected_max()
                && let Some((demoted, state)) = self.protected.pop_front()
            {
                self.probation.insert(demoted, state);
            }
            return self.protected.get_mut(key);
        }
        if self.len() >= self.max_keys {
            let cold_protected = self.protected.front().is_some_and(|(_, state)| is_cold(state));
            if cold_protected || self.probation.is_empty() {
                self.protected.pop_front();
            } else {
                self.probation.pop_front();
            }
        }
        self.probation.insert(key.clone(), make());
        self.probation.get_mut(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: usize) -> Arc<str> {
        Arc::from(n.to_string())
    }

    #[test]
    fn never_holds_more_than_max_keys() {
        let mut table = KeyTable::new(100);
        for n in 0..10_000 {
            *table.touch(&key(n), || 0, |_| false).unwrap() += 1;
            *table.touch(&key(n / 2), || 0, |_| false).unwrap() += 1;
            assert!(table.len() <= 100);
        }
        assert_eq!(table.len(), 100);
    }

    #[test]
    fn a_repeated_key_outlives_a_flood_of_keys_seen_once() {
        let mut table = KeyTable::new(100);
        let hot = Arc::from("hot");
        *table.touch(&hot, || 0, |_| false).unwrap() += 1;
        *table.touch(&hot, || 0, |_| false).unwrap() += 1;
        for n in 0..100_000 {
            table.touch(&key(n), || 0, |_| false);
        }
        assert_eq!(table.touch(&hot, || 0, |_| false).copied(), Some(2));
    }

    #[test]
    fn a_cold_protected_key_makes_way_first() {
        let mut table = KeyTable::new(5);
        for n in 0..5 {
            table.touch(&key(n), || n, |_| false);
            table.touch(&key(n), || n, |_| false);
        }
        // 0 was demoted to probation by 4; 1 is the least recently seen
        // protected key, and cold: it goes rather than 0.
        table.touch(&key(99), || 99, |&state| state == 1);
        assert_eq!(table.len(), 5);
        assert_eq!(table.touch(&key(0), || 1_000, |_| false).copied(), Some(0));
        assert_eq!(table.touch(&key(1), || 1_000, |_| false).copied(), Some(1_000));
    }
}
