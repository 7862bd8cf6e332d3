//! What a rule is: which events it counts ([`AlertRule::matching`]), what it
//! counts them by ([`AlertKey`]), how many in how long, and how many keys it
//! may track.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::event::{ActivityEvent, Outcome, capped};
use crate::store::ActivityFilter;

/// The most keys a rule tracks unless told otherwise
/// ([`AlertRule::max_keys`]).
pub const DEFAULT_MAX_KEYS: usize = 10_000;

/// The longest key a rule keeps, in characters: longer keys (from a
/// [`AlertKey::with`] closure) are cut, so a key's memory is bounded too.
pub const MAX_KEY_CHARS: usize = 255;

type MatchFn = dyn Fn(&ActivityEvent) -> bool + Send + Sync;
type KeyFn = dyn Fn(&ActivityEvent) -> Option<String> + Send + Sync;

/// What a rule counts events by: the client IP, the actor, the tenant, or a
/// key of the application's choosing. Events without a key (no IP, an actor
/// without an id) are not counted.
#[derive(Clone)]
pub struct AlertKey(pub(super) KeyKind);

#[derive(Clone)]
pub(super) enum KeyKind {
    ClientIp,
    Actor,
    Tenant,
    Custom(Arc<KeyFn>),
}

impl AlertKey {
    /// The event's client IP, as stored: under an
    /// [`IpPrivacy`](crate::IpPrivacy) policy, its truncated prefix or keyed
    /// hash, which still tells one client from another.
    pub fn client_ip() -> Self {
        AlertKey(KeyKind::ClientIp)
    }

    /// The actor's id.
    pub fn actor() -> Self {
        AlertKey(KeyKind::Actor)
    }

    /// The tenant's id.
    pub fn tenant() -> Self {
        AlertKey(KeyKind::Tenant)
    }

    /// A key the application derives from the event; `None` leaves the event
    /// uncounted. Keys longer than [`MAX_KEY_CHARS`] are cut.
    pub fn with(key: impl Fn(&ActivityEvent) -> Option<String> + Send + Sync + 'static) -> Self {
        AlertKey(KeyKind::Custom(Arc::new(key)))
    }

    /// The event's key under this rule.
    pub(super) fn of(&self, event: &ActivityEvent) -> Option<Arc<str>> {
        let key = match &self.0 {
            KeyKind::ClientIp => event.ip.clone(),
            KeyKind::Actor => event.actor.as_ref().and_then(|actor| actor.id.clone()),
            KeyKind::Tenant => event.tenant_id.clone(),
            KeyKind::Custom(key) => key(event).map(Arc::from),
        }?;
        Some(capped(key, MAX_KEY_CHARS))
    }
}

impl fmt::Debug for AlertKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.0 {
            KeyKind::ClientIp => "AlertKey::client_ip",
            KeyKind::Actor => "AlertKey::actor",
            KeyKind::Tenant => "AlertKey::tenant",
            KeyKind::Custom(_) => "AlertKey::with(..)",
        })
    }
}

/// Which events a rule counts: any of a list of filters, or a closure.
#[derive(Clone)]
pub(super) enum Matcher {
    Filters(Vec<ActivityFilter>),
    Custom(Arc<MatchFn>),
}

impl Matcher {
    pub(super) fn matches(&self, event: &ActivityEvent) -> bool {
        match self {
            Matcher::Filters(filters) => filters.iter().any(|filter| filter.matches(event)),
            Matcher::Custom(matches) => matches(event),
        }
    }
}

impl fmt::Debug for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Matcher::Filters(filters) => f.debug_tuple("Filters").field(filters).finish(),
            Matcher::Custom(_) => f.write_str("Custom(..)"),
        }
    }
}

/// How a rule decides to alert.
#[derive(Clone, Copy, Debug)]
pub(super) enum Detector {
    /// `threshold` matching events for one key within `window`.
    Count { threshold: usize, window: Duration },
    /// A key (an admin) acting from a client IP not among the last
    /// `remembered` it was seen with.
    NewIp { remembered: usize },
}

/// A suspicious-activity rule: `threshold` events that pass its matcher, for
/// the same key, within a sliding `window` of their times raise an
/// [`Alert`](crate::Alert). Attach rules to a recorder with
/// [`Alerts`](crate::Alerts).
///
/// Start from a built-in ([`failed_logins_per_ip`](Self::failed_logins_per_ip)
/// and the others) and change what you need, or write one:
///
/// ```
/// use std::time::Duration;
/// use tower_activity::{ActivityFilter, AlertKey, AlertRule};
///
/// // Ten exports by one tenant within an hour.
/// let exports = AlertRule::new("bulk_exports")
///     .matching(ActivityFilter::new().action("export.downloaded".parse().unwrap()))
///     .key(AlertKey::tenant())
///     .threshold(10)
///     .window(Duration::from_secs(3600));
/// assert_eq!(exports.name(), "bulk_exports");
///
/// // Failed logins per IP, stricter than the default.
/// let logins = AlertRule::failed_logins_per_ip().threshold(5);
/// assert_eq!(logins.count_threshold(), Some(5));
/// ```
#[derive(Clone, Debug)]
#[must_use = "a rule does nothing until it is added to `Alerts`"]
pub struct AlertRule {
    pub(super) name: Cow<'static, str>,
    pub(super) matcher: Matcher,
    pub(super) key: AlertKey,
    pub(super) detector: Detector,
    pub(super) max_keys: usize,
    pub(super) outcome: Outcome,
}

impl AlertRule {
    /// A rule named `name` (the `rule` of its alerts) that counts every
    /// event by client IP, alerting at 10 within 5 minutes, until told
    /// otherwise.
    pub fn new(name: impl Into<Cow<'static, str>>) -> Self {
        AlertRule {
            name: name.into(),
            matcher: Matcher::Filters(vec![ActivityFilter::new()]),
            key: AlertKey::client_ip(),
            detector: Detector::Count {
                threshold: 10,
                window: Duration::from_secs(300),
            },
            max_keys: DEFAULT_MAX_KEYS,
            outcome: Outcome::Warning,
        }
    }

    /// Counts only events that pass `filter` (replacing what the rule
    /// matched before). A rule made of filters can also be counted in a
    /// store, across instances ([`StoreCount::for_rule`](crate::StoreCount::for_rule)).
    pub fn matching(mut self, filter: ActivityFilter) -> Self {
        self.matcher = Matcher::Filters(vec![filter]);
        self
    }

    /// Also counts events that pass `filter`. Keep a rule's filters from
    /// overlapping: an event passing two of them is counted once here but
    /// twice by a [`StoreCount`](crate::StoreCount).
    pub fn or_matching(mut self, filter: ActivityFilter) -> Self {
        match &mut self.matcher {
            Matcher::Filters(filters) => filters.push(filter),
            Matcher::Custom(_) => self.matcher = Matcher::Filters(vec![filter]),
        }
        self
    }

    /// Counts only events for which `matches` returns true (replacing what
    /// the rule matched before).
    pub fn matching_fn(mut self, matches: impl Fn(&ActivityEvent) -> bool + Send + Sync + 'static) -> Self {
        self.matcher = Matcher::Custom(Arc::new(matches));
        self
    }

    /// What events are counted by.
    pub fn key(mut self, key: AlertKey) -> Self {
        self.key = key;
        self
    }

    /// How many matching events for one key raise an alert (at least 1).
    /// For a rule that counts; the admin new-IP rule ignores it.
    pub fn threshold(mut self, threshold: usize) -> Self {
        if let Detector::Count {
            threshold: current, ..
        } = &mut self.detector
        {
            *current = threshold.max(1);
        }
        self
    }

    /// How far apart, by their `occurred_at`, the first and the last of
    /// `threshold` events may be (both ends included). For a rule that
    /// counts; the admin new-IP rule ignores it.
    pub fn window(mut self, window: Duration) -> Self {
        if let Detector::Count { window: current, .. } = &mut self.detector {
            *current = window;
        }
        self
    }

    /// The most keys tracked at once (at least 1; [`DEFAULT_MAX_KEYS`]
    /// unless set). See [`Alerts`](crate::Alerts) for which key makes way.
    pub fn max_keys(mut self, max_keys: usize) -> Self {
        self.max_keys = max_keys.max(1);
        self
    }

    /// The outcome of the `security.alert` events this rule records:
    /// [`Outcome::Warning`] or [`Outcome::Critical`] (anything else is taken
    /// as a warning).
    pub fn severity(mut self, outcome: Outcome) -> Self {
        self.outcome = if outcome == Outcome::Critical {
            Outcome::Critical
        } else {
            Outcome::Warning
        };
        self
    }

    /// The rule's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How many matching events raise an alert, for a rule that counts.
    pub fn count_threshold(&self) -> Option<usize> {
        match self.detector {
            Detector::Count { threshold, .. } => Some(threshold),
            Detector::NewIp { .. } => None,
        }
    }

    /// The sliding window, for a rule that counts.
    pub fn count_window(&self) -> Option<Duration> {
        match self.detector {
            Detector::Count { window, .. } => Some(window),
            Detector::NewIp { .. } => None,
        }
    }
}
