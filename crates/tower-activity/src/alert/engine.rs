//! Evaluating rules on events, calling the application back, and the alert
//! events: [`Alerts`].

use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::DateTime;
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use tokio::sync::Semaphore;

use super::keys::KeyTable;
use super::new_ip::SeenIps;
use super::rule::{AlertRule, Detector};
use super::window::SlidingWindow;
use super::{ALERT_ACTION, Alert};
use crate::event::ActivityEvent;
use crate::recorder::metrics as names;

/// How many alert callbacks may run at once unless told otherwise
/// ([`Alerts::max_pending_callbacks`]).
pub const DEFAULT_MAX_PENDING_CALLBACKS: usize = 1_000;

type Callback = dyn Fn(Alert) -> BoxFuture<'static, ()> + Send + Sync;

/// Suspicious-activity rules attached to a [`Recorder`](crate::Recorder) with
/// [`RecorderBuilder::alerts`](crate::RecorderBuilder::alerts), and what to
/// do when one fires.
///
/// The recorder's writer evaluates every rule on each batch it takes from
/// the queue, before writing it: a request never pays for the rules. When a
/// rule fires, its [`security.alert`](crate::ALERT_ACTION) event joins the
/// batch (it takes no room in the queue, so it is never dropped for a full
/// one), and the callback is spawned, so a slow or panicking callback never
/// holds the writer back. Alert events are never counted by rules.
///
/// Each rule tracks at most [`AlertRule::max_keys`] keys. Keys seen only
/// once make way first, so a flood of invented keys (one request from each
/// of a million IPs) cannot push out a key that is being hammered; an
/// attacker would have to repeat more distinct keys, within the window, than
/// four fifths of `max_keys`. Each instance of a service sees only its own
/// events: [`StoreCount`](crate::StoreCount) counts across instances.
///
/// Cloning an `Alerts` shares its rules' state: keep a clone to look at
/// [`tracked_keys`](Self::tracked_keys) and [`stats`](Self::stats).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use tower_activity::{ActivityEvent, AlertRule, Alerts, MemorySink, Outcome, Recorder};
///
/// let alerts = Alerts::new()
///     .rules(AlertRule::builtins())
///     .on_alert(|alert| async move {
///         eprintln!("{} fired for {} ({} events)", alert.rule, alert.key, alert.count);
///     });
/// let sink = MemorySink::new();
/// let recorder = Recorder::builder(sink.clone()).alerts(alerts).spawn();
/// for _ in 0..10 {
///     let failed = ActivityEvent::builder("auth.login.failed")
///         .ip([203, 0, 113, 9].into())
///         .outcome(Outcome::Warning)
///         .build()
///         .unwrap();
///     recorder.record(failed).unwrap();
/// }
/// recorder.shutdown().await;
/// let alert = sink.events().into_iter().find(|event| event.action.as_str() == "security.alert");
/// assert!(alert.is_some());
/// # }
/// ```
#[derive(Clone)]
pub struct Alerts {
    rules: Arc<Mutex<Vec<RuleState>>>,
    callback: Option<Arc<Callback>>,
    pending: Arc<Semaphore>,
    counts: Arc<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    raised: AtomicU64,
    callbacks_skipped: AtomicU64,
    events_lost: AtomicU64,
}

/// Counters of an [`Alerts`] since it was made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AlertStats {
    /// Alerts raised.
    pub raised: u64,
    /// Alerts whose callback was not called because
    /// [`max_pending_callbacks`](Alerts::max_pending_callbacks) were still
    /// running (their events were still recorded).
    pub callbacks_skipped: u64,
    /// Alert events lost with their batch, when the sink still failed at the
    /// shutdown deadline.
    pub events_lost: u64,
}

/// One rule and the keys it is tracking.
struct RuleState {
    rule: AlertRule,
    name: Arc<str>,
    tracker: Tracker,
}

enum Tracker {
    Count(KeyTable<SlidingWindow>),
    NewIp(KeyTable<SeenIps>),
}

impl Default for Alerts {
    fn default() -> Self {
        Alerts::new()
    }
}

impl Alerts {
    /// No rules and no callback: add them with [`rule`](Self::rule) and
    /// [`on_alert`](Self::on_alert). Without a callback, alerts are only
    /// recorded (and logged as `tracing` warnings).
    pub fn new() -> Self {
        Alerts {
            rules: Arc::default(),
            callback: None,
            pending: Arc::new(Semaphore::new(DEFAULT_MAX_PENDING_CALLBACKS)),
            counts: Arc::default(),
        }
    }

    /// Calls `callback` with every alert, in a task of its own.
    pub fn on_alert<F, Fut>(mut self, callback: F) -> Self
    where
        F: Fn(Alert) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.callback = Some(Arc::new(move |alert| callback(alert).boxed()));
        self
    }

    /// Adds `rule`, in place of a rule of the same name if there is one:
    /// `.rules(AlertRule::builtins()).rule(AlertRule::failed_logins_per_ip().threshold(5))`
    /// changes one built-in.
    pub fn rule(self, rule: AlertRule) -> Self {
        let name = Arc::from(rule.name());
        let tracker = match rule.detector {
            Detector::Count { .. } => Tracker::Count(KeyTable::new(rule.max_keys)),
            Detector::NewIp { .. } => Tracker::NewIp(KeyTable::new(rule.max_keys)),
        };
        let state = RuleState { rule, name, tracker };
        let mut rules = self.lock();
        match rules.iter_mut().find(|existing| existing.name == state.name) {
            Some(existing) => *existing = state,
            None => rules.push(state),
        }
        drop(rules);
        self
    }

    /// Adds every rule of `rules`, such as [`AlertRule::builtins`].
    pub fn rules(self, rules: impl IntoIterator<Item = AlertRule>) -> Self {
        rules.into_iter().fold(self, Alerts::rule)
    }

    /// How many callbacks may run at once (at least 1;
    /// [`DEFAULT_MAX_PENDING_CALLBACKS`] unless set). An alert raised while
    /// that many are running is recorded, but its callback is skipped and
    /// counted ([`AlertStats::callbacks_skipped`]).
    pub fn max_pending_callbacks(mut self, max: usize) -> Self {
        self.pending = Arc::new(Semaphore::new(max.clamp(1, Semaphore::MAX_PERMITS)));
        self
    }

    /// Counts `event` in every rule and returns the alerts it raises,
    /// without calling the callback or recording anything: what the writer
    /// does for each event, for events that reach the application some
    /// other way. [`security.alert`](ALERT_ACTION) events are not counted.
    pub fn evaluate(&self, event: &ActivityEvent) -> Vec<Alert> {
        let mut alerts = Vec::new();
        observe(&mut self.lock(), event, &mut alerts);
        alerts
    }

    /// How many keys the rule named `rule` is tracking, or `None` when
    /// there is no such rule.
    pub fn tracked_keys(&self, rule: &str) -> Option<usize> {
        self.lock()
            .iter()
            .find(|state| state.rule.name() == rule)
            .map(|state| match &state.tracker {
                Tracker::Count(keys) => keys.len(),
                Tracker::NewIp(keys) => keys.len(),
            })
    }

    /// The counters.
    pub fn stats(&self) -> AlertStats {
        AlertStats {
            raised: self.counts.raised.load(Ordering::Relaxed),
            callbacks_skipped: self.counts.callbacks_skipped.load(Ordering::Relaxed),
            events_lost: self.counts.events_lost.load(Ordering::Relaxed),
        }
    }

    /// Evaluates the rules on `batch` and adds the events of the alerts
    /// raised to it, calling back for each; returns how many were added.
    pub(crate) fn process(&self, batch: &mut Vec<ActivityEvent>) -> usize {
        let mut alerts = Vec::new();
        // A matcher or key closure of the application's that panics costs
        // this batch its alerts, never the writer.
        let evaluated = std::panic::catch_unwind(AssertUnwindSafe(|| {
            let mut rules = self.lock();
            for event in batch.iter() {
                observe(&mut rules, event, &mut alerts);
            }
        }));
        if let Err(panic) = evaluated {
            let panic = crate::panic_message(panic.as_ref());
            tracing::error!(%panic, events = batch.len(), "an alert rule panicked: the batch's alerts are lost");
            alerts.clear();
        }
        for alert in &alerts {
            tracing::warn!(
                rule = &*alert.rule,
                key = &*alert.key,
                count = alert.count,
                window_seconds = alert.window.as_secs(),
                "security alert"
            );
            self.counts.raised.fetch_add(1, Ordering::Relaxed);
            ::metrics::counter!(names::ALERTS_RAISED, "rule" => alert.rule.to_string()).increment(1);
            batch.push(alert.event());
            self.call_back(alert.clone());
        }
        alerts.len()
    }

    /// Counts alert events lost with their batch.
    pub(crate) fn lost(&self, events: u64) {
        self.counts.events_lost.fetch_add(events, Ordering::Relaxed);
        ::metrics::counter!(names::ALERT_EVENTS_DROPPED).increment(events);
    }

    /// Spawns the callback on `alert`, unless too many are running.
    fn call_back(&self, alert: Alert) {
        let Some(callback) = self.callback.clone() else {
            return;
        };
        let Ok(permit) = self.pending.clone().try_acquire_owned() else {
            self.counts.callbacks_skipped.fetch_add(1, Ordering::Relaxed);
            ::metrics::counter!(names::ALERT_CALLBACKS_SKIPPED).increment(1);
            tracing::warn!(
                rule = &*alert.rule,
                "alert callback skipped: too many still running"
            );
            return;
        };
        tokio::spawn(async move {
            let rule = alert.rule.clone();
            // Called inside the task, so that a panic while making the
            // future is caught too.
            let called = AssertUnwindSafe(async move { callback(alert).await }).catch_unwind();
            if let Err(panic) = called.await {
                let panic = crate::panic_message(panic.as_ref());
                tracing::error!(rule = &*rule, %panic, "alert callback panicked");
            }
            drop(permit);
        });
    }

    fn lock(&self) -> MutexGuard<'_, Vec<RuleState>> {
        // Every change under the lock leaves the rules usable, a panic
        // part-way included.
        self.rules.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl fmt::Debug for Alerts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rules: Vec<_> = self.lock().iter().map(|state| state.rule.clone()).collect();
        f.debug_struct("Alerts")
            .field("rules", &rules)
            .field("callback", &self.callback.is_some())
            .field("stats", &self.stats())
            .finish()
    }
}

/// Counts `event` in every rule, adding the alerts it raises to `alerts`.
fn observe(rules: &mut [RuleState], event: &ActivityEvent, alerts: &mut Vec<Alert>) {
    if event.action.as_str() == ALERT_ACTION {
        return;
    }
    alerts.extend(rules.iter_mut().filter_map(|state| state.observe(event)));
}

impl RuleState {
    /// Counts `event` under the rule; the alert it raises, if any.
    fn observe(&mut self, event: &ActivityEvent) -> Option<Alert> {
        let rule = &self.rule;
        if !rule.matcher.matches(event) {
            return None;
        }
        let key = rule.key.of(event)?;
        let at = event.occurred_at;
        let alert = |count, window, first_entry, ip| Alert {
            rule: self.name.clone(),
            key: key.clone(),
            count,
            window,
            first_entry,
            last_entry: event.id,
            last_at: at,
            ip,
            severity: rule.outcome,
        };
        match (&mut self.tracker, rule.detector) {
            (Tracker::Count(keys), Detector::Count { threshold, window }) => {
                let micros = at.timestamp_micros();
                let span = i64::try_from(window.as_micros()).unwrap_or(i64::MAX);
                let counter = keys.touch(
                    &key,
                    || SlidingWindow::new(micros),
                    |counter| counter.is_cold(micros, span),
                )?;
                let reached = counter.add(micros, event.id, threshold, span)?;
                let mut raised = alert(reached.count, window, reached.first, None);
                raised.last_entry = reached.last;
                raised.last_at = DateTime::from_timestamp_micros(reached.last_at).unwrap_or(at);
                Some(raised)
            }
            (Tracker::NewIp(keys), Detector::NewIp { remembered }) => {
                let ip = event.ip.clone()?;
                let seen = keys.touch(&key, || SeenIps::seeded(ip.clone(), remembered), |_| false)?;
                seen.observe(&ip)
                    .then(|| alert(1, Duration::ZERO, event.id, Some(ip)))
            }
            _ => None,
        }
    }
}
