//! The client IPs one admin has been seen acting from, for the new-IP rule.

use std::collections::VecDeque;
use std::sync::Arc;

/// The last `remembered` distinct IPs a key was seen with, most recent last.
#[derive(Debug)]
pub(super) struct SeenIps {
    ips: VecDeque<Arc<str>>,
    remembered: usize,
}

impl SeenIps {
    /// Seeded with the IP of the key's first event: that one does not alert.
    pub(super) fn seeded(ip: Arc<str>, remembered: usize) -> Self {
        SeenIps {
            ips: VecDeque::from([ip]),
            remembered: remembered.max(1),
        }
    }

    /// Remembers `ip`; returns whether it was new. The least recently seen
    /// IP is forgotten to make room, and alerts again if it comes back.
    pub(super) fn observe(&mut self, ip: &Arc<str>) -> bool {
        if let Some(place) = self.ips.iter().position(|seen| seen == ip) {
            if let Some(seen) = self.ips.remove(place) {
                self.ips.push_back(seen);
            }
            return false;
        }
        if self.ips.len() >= self.remembered {
            self.ips.pop_front();
        }
        self.ips.push_back(ip.clone());
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_ip_not_among_the_remembered_ones_is_new() {
        let ip = |text: &str| Arc::<str>::from(text);
        let mut seen = SeenIps::seeded(ip("10.0.0.1"), 2);
        assert!(!seen.observe(&ip("10.0.0.1")));
        assert!(seen.observe(&ip("10.0.0.2")));
        assert!(!seen.observe(&ip("10.0.0.1")));
        // 10.0.0.2 is now the least recently seen and makes way.
        assert!(seen.observe(&ip("10.0.0.3")));
        assert!(!seen.observe(&ip("10.0.0.1")));
        assert!(seen.observe(&ip("10.0.0.2")));
    }
}
