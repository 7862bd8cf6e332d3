//! Suspicious-activity rules: `threshold` matching events for one key (client
//! IP, actor, tenant) within a sliding window raise an [`Alert`], evaluated by
//! the recorder's writer as batches pass through it.
//!
//! `rule.rs` is what a rule is, `builtin.rs` the ready-made ones, `window.rs`
//! the sliding-window counter of one key, `new_ip.rs` the IPs seen per admin,
//! `keys.rs` the bounded table of keys per rule, `engine.rs` the evaluation,
//! the callback and the alert events, and `store_count.rs` the count across
//! instances in a store.

mod builtin;
mod engine;
mod keys;
mod new_ip;
mod rule;
mod store_count;
mod window;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;

pub use self::builtin::{DEFAULT_REMEMBERED_IPS, FAILED_LOGIN_ACTION};
pub use self::engine::{AlertStats, Alerts, DEFAULT_MAX_PENDING_CALLBACKS};
pub use self::rule::{AlertKey, AlertRule, DEFAULT_MAX_KEYS, MAX_KEY_CHARS};
pub use self::store_count::{StoreCount, UnsupportedRule};
use crate::event::{Action, ActivityEvent, Actor, Outcome};

/// The action of the event an alert records.
pub const ALERT_ACTION: &str = "security.alert";

/// The actor id of the events alerts record (an actor of kind `system`).
pub const ALERT_ACTOR: &str = "activity-alerts";

/// A rule that fired: what the application's callback receives, and what
/// the [`security.alert`](ALERT_ACTION) event records.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Alert {
    /// The rule's name.
    pub rule: Arc<str>,
    /// The key it fired for: the client IP (as stored), the actor's id, the
    /// tenant's id, or the application's key.
    pub key: Arc<str>,
    /// How many matching events were counted (the threshold; 1 for a new IP).
    pub count: usize,
    /// The rule's window (zero for a new IP).
    pub window: Duration,
    /// The id of the first matching event counted.
    pub first_entry: Uuid,
    /// The id of the last matching event counted, the one that fired it.
    pub last_entry: Uuid,
    /// When the last matching event happened.
    pub last_at: DateTime<Utc>,
    /// The new client IP, for the admin new-IP rule.
    pub ip: Option<Arc<str>>,
    /// [`Outcome::Warning`] or [`Outcome::Critical`], from the rule.
    pub severity: Outcome,
}

impl Alert {
    /// The [`security.alert`](ALERT_ACTION) event that records it: actor
    /// `system` [`activity-alerts`](ALERT_ACTOR), the severity as outcome,
    /// and details `rule`, `key`, `count`, `window` (seconds), `first_entry`
    /// and `last_entry` (event ids), and `ip` for a new IP. It has no
    /// tenant: alerts are the operator's, not shown to a reader scoped to
    /// one tenant.
    pub fn event(&self) -> ActivityEvent {
        let mut event = ActivityEvent::builder(Action::system(ALERT_ACTION))
            .actor(Actor::system(ALERT_ACTOR))
            .outcome(self.severity)
            .detail("rule", &*self.rule)
            .detail("key", &*self.key)
            .detail("count", self.count)
            .detail("window", self.window.as_secs())
            .detail("first_entry", self.first_entry.to_string())
            .detail("last_entry", self.last_entry.to_string());
        if let Some(ip) = &self.ip {
            event = event.detail("ip", &**ip);
        }
        event.build().unwrap_or_else(|invalid| unreachable!("{invalid}"))
    }
}
