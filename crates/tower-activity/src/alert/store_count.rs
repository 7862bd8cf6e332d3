//! Counting a rule's matching events in a store, across every instance that
//! writes to it: [`StoreCount`].

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use super::rule::{AlertRule, Detector, KeyKind, Matcher};
use crate::store::{ActivityFilter, ActivityStore, StoreError, parse_ip_filter};

/// A rule's count for one key, read from an [`ActivityStore`]: the matching
/// events of every instance that writes to the store, where the rules of
/// [`Alerts`](crate::Alerts) see only their own instance's.
///
/// It takes a rule made of filters ([`AlertRule::matching`]) that counts by
/// actor, tenant or client IP, and asks the store for [`counts`](ActivityStore::counts)
/// of each filter narrowed to the key and the window ending at `now` (both
/// ends included). It costs a store query per call: run it when an
/// in-process rule comes close, on a schedule, or for the key of a request
/// that is about to be let through (a login, say).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use chrono::Utc;
/// use tower_activity::{ActivityEvent, ActivitySink, Actor, AlertRule, MemorySink, StoreCount};
///
/// let store = MemorySink::new();
/// let failed: Vec<_> = (0..5)
///     .map(|_| ActivityEvent::builder("auth.login.failed").actor(Actor::user("ada")).build().unwrap())
///     .collect();
/// store.write_batch(&failed).await.unwrap();
///
/// let check = StoreCount::for_rule(&AlertRule::failed_logins_per_actor()).unwrap();
/// assert_eq!(check.count(&store, "ada", Utc::now()).await.unwrap(), 5);
/// assert!(check.reached(&store, "ada", Utc::now()).await.unwrap());
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct StoreCount {
    filters: Vec<ActivityFilter>,
    key: KeyField,
    threshold: usize,
    window: Duration,
}

/// The filter field a key narrows.
#[derive(Clone, Copy, Debug)]
enum KeyField {
    Actor,
    Tenant,
    ClientIp,
}

/// A rule that [`StoreCount`] cannot count in a store.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("rule {rule:?} cannot be counted in a store: {reason}")]
pub struct UnsupportedRule {
    rule: String,
    reason: &'static str,
}

impl StoreCount {
    /// The store count of `rule`. Fails for a rule that matches with a
    /// closure ([`AlertRule::matching_fn`]), counts by a closure's key, or is
    /// not a counting rule (the admin new-IP rule).
    pub fn for_rule(rule: &AlertRule) -> Result<Self, UnsupportedRule> {
        let unsupported = |reason| UnsupportedRule {
            rule: rule.name().to_owned(),
            reason,
        };
        let Detector::Count { threshold, window } = rule.detector else {
            return Err(unsupported("it does not count events (it watches for new IPs)"));
        };
        let Matcher::Filters(filters) = &rule.matcher else {
            return Err(unsupported(
                "it matches with a closure; give it filters with `matching`",
            ));
        };
        let key = match rule.key.0 {
            KeyKind::Actor => KeyField::Actor,
            KeyKind::Tenant => KeyField::Tenant,
            KeyKind::ClientIp => KeyField::ClientIp,
            KeyKind::Custom(_) => return Err(unsupported("it counts by a key of the application's")),
        };
        Ok(StoreCount {
            filters: filters.clone(),
            key,
            threshold,
            window,
        })
    }

    /// How many events in the store match the rule for `key` within the
    /// window ending at `now`. A rule of several filters adds up their
    /// counts.
    ///
    /// A client IP key is the address as stored (or the network
    /// [`IpPrivacy::truncate`](crate::IpPrivacy::truncate) keeps); a keyed
    /// hash cannot be selected by address, and such a key is an error whose
    /// source says so.
    pub async fn count<S: ActivityStore>(
        &self,
        store: &S,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let since = TimeDelta::from_std(self.window)
            .ok()
            .and_then(|window| now.checked_sub_signed(window));
        let until = now.checked_add_signed(TimeDelta::microseconds(1));
        let ip = match self.key {
            KeyField::ClientIp => Some(parse_ip_filter(key).map_err(StoreError::new)?),
            KeyField::Actor | KeyField::Tenant => None,
        };
        let mut total = 0;
        for filter in &self.filters {
            let mut filter = filter.clone();
            match self.key {
                KeyField::Actor => filter.actor_id = Some(key.to_owned()),
                KeyField::Tenant => filter.tenant_id = Some(key.to_owned()),
                KeyField::ClientIp => filter.ip = ip,
            }
            filter.since = since;
            filter.until = until;
            let counts = store.counts(&filter).await?;
            total += counts.iter().map(|count| count.count).sum::<u64>();
        }
        Ok(total)
    }

    /// Whether the store holds at least the rule's threshold of matching
    /// events for `key` within the window ending at `now`.
    pub async fn reached<S: ActivityStore>(
        &self,
        store: &S,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let count = self.count(store, key, now).await?;
        Ok(count >= self.threshold as u64)
    }
}
