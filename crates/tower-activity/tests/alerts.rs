//! Alerts through the recorder: the alert event, the callback, no storms, a
//! panicking callback, metrics, and the count across instances in a store.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::mpsc;
use tower_activity::{
    ALERT_ACTION, ActivityEvent, ActivityFilter, ActivitySink, Actor, ActorKind, Alert, AlertKey, AlertRule,
    Alerts, MemorySink, Outcome, Recorder, StoreCount,
};

mod support;
use support::{counter, with_metrics};

fn start() -> DateTime<Utc> {
    DateTime::from_timestamp(1_767_225_600, 0).unwrap()
}

fn failed_login(ip: [u8; 4], at: DateTime<Utc>) -> ActivityEvent {
    ActivityEvent::builder("auth.login.failed")
        .ip(IpAddr::from(ip))
        .actor(Actor::anonymous())
        .outcome(Outcome::Warning)
        .occurred_at(at)
        .build()
        .unwrap()
}

fn alert_events(sink: &MemorySink) -> Vec<ActivityEvent> {
    sink.events()
        .into_iter()
        .filter(|event| event.action.as_str() == ALERT_ACTION)
        .collect()
}

/// Alerts that send every alert to the returned receiver.
fn reporting(rule: AlertRule) -> (Alerts, mpsc::UnboundedReceiver<Alert>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let alerts = Alerts::new().rule(rule).on_alert(move |alert| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(alert);
        }
    });
    (alerts, rx)
}

#[tokio::test]
async fn a_brute_force_alerts_exactly_once_with_its_event_and_callback() {
    let (alerts, mut called) = reporting(AlertRule::failed_logins_per_ip());
    let sink = MemorySink::new();
    let recorder = Recorder::builder(sink.clone())
        .batch_size(7)
        .alerts(alerts)
        .spawn();
    let attempts: Vec<_> = (0..50)
        .map(|n| failed_login([203, 0, 113, 9], start() + TimeDelta::seconds(n)))
        .collect();
    for attempt in &attempts {
        recorder.record(attempt.clone()).unwrap();
    }
    let report = recorder.shutdown().await;
    assert_eq!(report.written, 51, "fifty attempts and one alert");

    let recorded = alert_events(&sink);
    assert_eq!(recorded.len(), 1);
    let event = &recorded[0];
    assert_eq!(event.outcome, Outcome::Warning);
    let actor = event.actor.as_ref().unwrap();
    assert_eq!(
        (actor.kind, actor.id.as_deref()),
        (ActorKind::System, Some("activity-alerts"))
    );
    let details = event.details.as_ref().unwrap().to_value();
    assert_eq!(details["rule"], "failed_logins_per_ip");
    assert_eq!(details["key"], "203.0.113.9");
    assert_eq!(details["count"], 10);
    assert_eq!(details["window"], 300);
    assert_eq!(details["first_entry"], attempts[0].id.to_string());
    assert_eq!(details["last_entry"], attempts[9].id.to_string());

    let alert = tokio::time::timeout(Duration::from_secs(5), called.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (&*alert.rule, &*alert.key, alert.count),
        ("failed_logins_per_ip", "203.0.113.9", 10)
    );
    assert_eq!(
        (alert.first_entry, alert.last_entry),
        (attempts[0].id, attempts[9].id)
    );
    assert_eq!(alert.last_at, attempts[9].occurred_at);
    assert!(called.recv().await.is_none(), "one call only");
}

#[tokio::test]
async fn a_hot_key_stays_quiet_and_alerts_again_after_a_whole_quiet_window() {
    let (alerts, _called) = reporting(
        AlertRule::failed_logins_per_ip()
            .threshold(3)
            .window(Duration::from_secs(60)),
    );
    let sink = MemorySink::new();
    let recorder = Recorder::builder(sink.clone()).alerts(alerts.clone()).spawn();
    // Attempts every 25 s for an hour: the window never cools.
    for n in 0..144 {
        recorder
            .record(failed_login(
                [198, 51, 100, 7],
                start() + TimeDelta::seconds(n * 25),
            ))
            .unwrap();
    }
    recorder.flush().await;
    assert_eq!(
        alert_events(&sink).len(),
        1,
        "no alert storm while the window stays hot"
    );
    // 61 s after the last attempt, a new burst is a new alert.
    let later = start() + TimeDelta::seconds(143 * 25 + 61);
    for n in 0..3 {
        recorder
            .record(failed_login([198, 51, 100, 7], later + TimeDelta::seconds(n)))
            .unwrap();
    }
    recorder.shutdown().await;
    assert_eq!(alert_events(&sink).len(), 2);
    assert_eq!(alerts.stats().raised, 2);
}

#[tokio::test]
async fn a_panicking_callback_does_not_stop_recording_or_later_alerts() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let alerts = Alerts::new()
        .rule(AlertRule::failed_logins_per_ip().threshold(2))
        .on_alert(move |_alert| {
            counted.fetch_add(1, Ordering::SeqCst);
            async { panic!("the pager is down") }
        });
    let sink = MemorySink::new();
    let recorder = Recorder::builder(sink.clone()).alerts(alerts).spawn();
    for ip in 1..=3u8 {
        for n in 0..2 {
            recorder
                .record(failed_login([192, 0, 2, ip], start() + TimeDelta::seconds(n)))
                .unwrap();
        }
        recorder.flush().await;
        tokio::task::yield_now().await;
    }
    let report = recorder.shutdown().await;
    assert_eq!(report.written, 9, "six attempts and three alerts");
    assert_eq!(alert_events(&sink).len(), 3);
    // The callbacks were spawned; let the last one run.
    for _ in 0..100 {
        if calls.load(Ordering::SeqCst) == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_panicking_rule_costs_its_batch_the_alerts_but_not_the_events() {
    let fragile = AlertRule::new("fragile")
        .matching_fn(|event| event.ip.as_deref() != Some("192.0.2.66") || panic!("a bug in the rule"))
        .threshold(1);
    let alerts = Alerts::new().rule(fragile);
    let sink = MemorySink::new();
    let recorder = Recorder::builder(sink.clone()).alerts(alerts.clone()).spawn();
    recorder.record(failed_login([192, 0, 2, 66], start())).unwrap();
    recorder.flush().await;
    recorder.record(failed_login([192, 0, 2, 1], start())).unwrap();
    let report = recorder.shutdown().await;
    assert_eq!(report.written, 3, "both attempts and the second one's alert");
    assert_eq!(alert_events(&sink).len(), 1);
}

#[tokio::test]
async fn alert_events_are_not_counted_by_rules() {
    // A rule that would alert on any event by the alert actor.
    let everything = AlertRule::new("everything").key(AlertKey::actor()).threshold(1);
    let alerts = Alerts::new()
        .rule(everything)
        .rule(AlertRule::failed_logins_per_ip().threshold(1));
    let sink = MemorySink::new();
    let recorder = Recorder::builder(sink.clone()).alerts(alerts.clone()).spawn();
    recorder.record(failed_login([192, 0, 2, 1], start())).unwrap();
    recorder.flush().await;
    let first = alert_events(&sink);
    assert_eq!(first.len(), 1, "the attempt's; its actor has no id");
    // The alert event, recorded again (say by an application relaying it).
    recorder.record(first[0].clone()).unwrap();
    recorder.shutdown().await;
    assert_eq!(alert_events(&sink).len(), 1);
    assert!(alerts.evaluate(&first[0]).is_empty());
}

#[test]
fn raised_alerts_are_counted_in_metrics() {
    let reported = with_metrics(|| async {
        let alerts = Alerts::new().rule(AlertRule::failed_logins_per_ip().threshold(2));
        let recorder = Recorder::builder(MemorySink::new()).alerts(alerts).spawn();
        for ip in 1..=2u8 {
            for n in 0..2 {
                recorder
                    .record(failed_login([192, 0, 2, ip], start() + TimeDelta::seconds(n)))
                    .unwrap();
            }
        }
        recorder.shutdown().await;
    });
    assert_eq!(counter(&reported, tower_activity::metrics::ALERTS_RAISED), 2);
}

#[tokio::test]
async fn a_store_count_adds_up_every_instance_within_the_window() {
    let store = MemorySink::new();
    let now = start() + TimeDelta::minutes(30);
    let by = |actor: &str, minutes_ago: i64, action: &str, outcome: Outcome| {
        ActivityEvent::builder(action.parse::<tower_activity::Action>().unwrap())
            .actor(Actor::user(actor))
            .outcome(outcome)
            .occurred_at(now - TimeDelta::minutes(minutes_ago))
            .build()
            .unwrap()
    };
    // Two instances wrote ada's failures; one is older than the window.
    let batch = [
        by("ada", 1, "auth.login.failed", Outcome::Warning),
        by("ada", 5, "auth.login", Outcome::Warning),
        by("ada", 15, "auth.login.failed", Outcome::Warning),
        by("ada", 16, "auth.login.failed", Outcome::Warning),
        by("ada", 2, "auth.login", Outcome::Success),
        by("bob", 1, "auth.login.failed", Outcome::Warning),
    ];
    store.write_batch(&batch).await.unwrap();
    let check = StoreCount::for_rule(&AlertRule::failed_logins_per_actor().threshold(3)).unwrap();
    assert_eq!(
        check.count(&store, "ada", now).await.unwrap(),
        3,
        "15 minutes ago is inside"
    );
    assert!(check.reached(&store, "ada", now).await.unwrap());
    assert_eq!(check.count(&store, "bob", now).await.unwrap(), 1);
    assert!(!check.reached(&store, "bob", now).await.unwrap());

    let tenants = AlertRule::new("tenant_deletes")
        .matching(ActivityFilter::new().action(tower_activity::Action::Delete))
        .key(AlertKey::tenant());
    assert!(StoreCount::for_rule(&tenants).is_ok());
}

#[test]
fn a_store_count_refuses_what_a_store_cannot_select_by_name() {
    let refused = |rule: AlertRule| StoreCount::for_rule(&rule).unwrap_err().to_string();
    assert!(refused(AlertRule::forbidden_per_actor()).contains("forbidden_per_actor"));
    assert!(refused(AlertRule::forbidden_per_actor()).contains("closure"));
    assert!(refused(AlertRule::admin_new_ip()).contains("new IPs"));
}

#[tokio::test]
async fn a_store_count_by_client_ip_selects_the_stored_address() {
    let store = MemorySink::new();
    let now = start() + TimeDelta::minutes(30);
    let from = |ip: [u8; 4], minutes_ago: i64| {
        ActivityEvent::builder("auth.login.failed")
            .ip(ip.into())
            .outcome(Outcome::Warning)
            .occurred_at(now - TimeDelta::minutes(minutes_ago))
            .build()
            .unwrap()
    };
    let batch = [
        from([203, 0, 113, 9], 1),
        from([203, 0, 113, 9], 4),
        from([203, 0, 113, 9], 6),
        from([203, 0, 113, 10], 1),
    ];
    store.write_batch(&batch).await.unwrap();
    let check = StoreCount::for_rule(&AlertRule::failed_logins_per_ip().threshold(2)).unwrap();
    assert_eq!(
        check.count(&store, "203.0.113.9", now).await.unwrap(),
        2,
        "6 minutes ago is outside"
    );
    assert!(check.reached(&store, "203.0.113.9", now).await.unwrap());
    assert_eq!(check.count(&store, "203.0.113.10", now).await.unwrap(), 1);
    let hashed = check.count(&store, "3f2a9c", now).await.unwrap_err();
    let source = std::error::Error::source(&hashed).unwrap().to_string();
    assert!(source.contains("3f2a9c"), "{source}");
}
