//! Alert rules evaluated event by event: thresholds, windows, bounded keys,
//! and each built-in rule.

use std::net::IpAddr;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tower_activity::{Action, ActivityEvent, Actor, Alert, AlertRule, Alerts, Outcome};

fn start() -> DateTime<Utc> {
    DateTime::from_timestamp(1_767_225_600, 0).unwrap()
}

fn at(seconds: i64) -> DateTime<Utc> {
    start() + TimeDelta::seconds(seconds)
}

fn failed_login(ip: IpAddr, at: DateTime<Utc>) -> ActivityEvent {
    ActivityEvent::builder("auth.login.failed")
        .ip(ip)
        .outcome(Outcome::Warning)
        .occurred_at(at)
        .build()
        .unwrap()
}

fn event_by(actor: Actor, action: Action, at: DateTime<Utc>) -> ActivityEvent {
    ActivityEvent::builder(action)
        .actor(actor)
        .occurred_at(at)
        .build()
        .unwrap()
}

fn evaluate_all(alerts: &Alerts, events: impl IntoIterator<Item = ActivityEvent>) -> Vec<Alert> {
    events
        .into_iter()
        .flat_map(|event| alerts.evaluate(&event))
        .collect()
}

#[test]
fn traffic_just_under_the_threshold_never_alerts() {
    let alerts = Alerts::new().rule(AlertRule::failed_logins_per_ip());
    let ip = IpAddr::from([203, 0, 113, 5]);
    // Every 34 s: nine attempts span 272 s, ten span 306 s, more than the
    // five-minute window. For three hours.
    let raised = evaluate_all(&alerts, (0..320).map(|n| failed_login(ip, at(n * 34))));
    assert!(raised.is_empty(), "{raised:?}");
    // The same pace, one second faster, reaches ten within the window.
    let faster = Alerts::new().rule(AlertRule::failed_logins_per_ip());
    let raised = evaluate_all(&faster, (0..10).map(|n| failed_login(ip, at(n * 33))));
    assert_eq!(raised.len(), 1);
}

#[test]
fn a_million_distinct_ips_keep_the_keys_bounded_and_a_brute_force_still_alerts() {
    let alerts = Alerts::new().rule(AlertRule::failed_logins_per_ip());
    let attacker = IpAddr::from([198, 51, 100, 66]);
    let template = failed_login(attacker, start());
    let mut raised = Vec::new();
    for n in 0u32..1_000_000 {
        let mut event = template.clone();
        event.occurred_at = start() + TimeDelta::microseconds(i64::from(n) * 100);
        // One attempt from each invented IP, and the attacker's every 1,000.
        if n % 1_000 != 0 {
            event.ip = Some(IpAddr::from((0x0a00_0000 + n).to_be_bytes()).to_string().into());
        }
        raised.extend(alerts.evaluate(&event));
        if n % 100_000 == 0 {
            assert!(alerts.tracked_keys("failed_logins_per_ip").unwrap() <= 10_000);
        }
    }
    assert_eq!(alerts.tracked_keys("failed_logins_per_ip"), Some(10_000));
    assert_eq!(raised.len(), 1, "{raised:?}");
    assert_eq!(&*raised[0].key, "198.51.100.66");
}

#[test]
fn max_keys_sets_the_bound() {
    let alerts = Alerts::new().rule(AlertRule::failed_logins_per_ip().max_keys(50));
    for n in 0u32..1_000 {
        alerts.evaluate(&failed_login(IpAddr::from(n.to_be_bytes()), at(0)));
    }
    assert_eq!(alerts.tracked_keys("failed_logins_per_ip"), Some(50));
    assert_eq!(alerts.tracked_keys("no_such_rule"), None);
}

#[test]
fn failed_logins_per_ip_counts_failed_and_refused_logins_only() {
    let alerts = Alerts::new().rule(AlertRule::failed_logins_per_ip().threshold(3));
    let ip = IpAddr::from([203, 0, 113, 1]);
    let login = |outcome, n| {
        ActivityEvent::builder("auth.login")
            .ip(ip)
            .outcome(outcome)
            .occurred_at(at(n))
            .build()
            .unwrap()
    };
    assert!(evaluate_all(&alerts, (0..5).map(|n| login(Outcome::Success, n))).is_empty());
    let raised = evaluate_all(
        &alerts,
        [
            login(Outcome::Warning, 10),
            failed_login(ip, at(11)),
            login(Outcome::Error, 12),
        ],
    );
    assert_eq!(raised.len(), 1);
    assert_eq!(raised[0].severity, Outcome::Warning);
}

#[test]
fn failed_logins_per_actor_counts_across_ips() {
    let alerts = Alerts::new().rule(AlertRule::failed_logins_per_actor());
    let attempt = |n: u8| {
        ActivityEvent::builder("auth.login.failed")
            .actor(Actor::user("ada"))
            .ip(IpAddr::from([192, 0, 2, n]))
            .occurred_at(at(i64::from(n) * 60))
            .build()
            .unwrap()
    };
    let raised = evaluate_all(&alerts, (0..5).map(attempt));
    assert_eq!(raised.len(), 1);
    assert_eq!(
        (&*raised[0].rule, &*raised[0].key, raised[0].count),
        ("failed_logins_per_actor", "ada", 5)
    );
    assert_eq!(raised[0].window, Duration::from_secs(900));
}

#[test]
fn forbidden_per_actor_counts_403s() {
    let alerts = Alerts::new().rule(AlertRule::forbidden_per_actor());
    let answered = |status: u16, n| {
        ActivityEvent::builder(Action::Read)
            .actor(Actor::user("mallory"))
            .status(http::StatusCode::from_u16(status).unwrap())
            .occurred_at(at(n))
            .build()
            .unwrap()
    };
    assert!(evaluate_all(&alerts, (0..40).map(|n| answered(404, n))).is_empty());
    assert!(evaluate_all(&alerts, (0..19).map(|n| answered(403, 100 + n))).is_empty());
    let raised = evaluate_all(&alerts, [answered(403, 200)]);
    assert_eq!(raised.len(), 1);
    assert_eq!(&*raised[0].key, "mallory");
}

#[test]
fn mass_deletes_per_actor_counts_successful_deletes_as_critical() {
    let alerts = Alerts::new().rule(AlertRule::mass_deletes_per_actor());
    let deleted = |n| event_by(Actor::user("intern"), Action::Delete, at(n));
    let mut refused = deleted(0);
    refused.outcome = Outcome::Warning;
    assert!(evaluate_all(&alerts, std::iter::repeat_n(refused, 100)).is_empty());
    let raised = evaluate_all(&alerts, (0..50).map(deleted));
    assert_eq!(raised.len(), 1);
    assert_eq!((raised[0].count, raised[0].severity), (50, Outcome::Critical));
}

#[test]
fn admin_new_ip_alerts_on_an_unseen_ip_but_not_the_first() {
    let alerts = Alerts::new().rule(AlertRule::admin_new_ip());
    let acting = |actor: Actor, ip: [u8; 4], n| {
        ActivityEvent::builder(Action::Update)
            .actor(actor)
            .ip(IpAddr::from(ip))
            .occurred_at(at(n))
            .build()
            .unwrap()
    };
    let root = || Actor::admin("root");
    assert!(
        alerts.evaluate(&acting(root(), [10, 0, 0, 1], 0)).is_empty(),
        "the first IP seeds"
    );
    assert!(alerts.evaluate(&acting(root(), [10, 0, 0, 1], 1)).is_empty());
    assert!(
        alerts
            .evaluate(&acting(Actor::user("ada"), [10, 9, 9, 9], 2))
            .is_empty(),
        "not an admin"
    );
    let new = acting(root(), [203, 0, 113, 50], 3);
    let raised = alerts.evaluate(&new);
    assert_eq!(raised.len(), 1);
    assert_eq!(
        (&*raised[0].key, raised[0].ip.as_deref()),
        ("root", Some("203.0.113.50"))
    );
    assert_eq!((raised[0].first_entry, raised[0].last_entry), (new.id, new.id));
    let details = raised[0].event().details.unwrap().to_value();
    assert_eq!(details["ip"], "203.0.113.50");
    assert!(
        alerts.evaluate(&acting(root(), [203, 0, 113, 50], 4)).is_empty(),
        "now seen"
    );
}

#[test]
fn builtins_take_overrides() {
    let ip = IpAddr::from([203, 0, 113, 2]);
    let rule = AlertRule::failed_logins_per_ip()
        .threshold(2)
        .window(Duration::from_secs(10));
    assert_eq!(
        (rule.count_threshold(), rule.count_window()),
        (Some(2), Some(Duration::from_secs(10)))
    );
    let alerts = Alerts::new().rule(rule);
    assert!(evaluate_all(&alerts, [failed_login(ip, at(0)), failed_login(ip, at(11))]).is_empty());
    assert_eq!(evaluate_all(&alerts, [failed_login(ip, at(12))]).len(), 1);

    let only_failed = AlertRule::failed_logins_per_ip()
        .threshold(1)
        .matching_fn(|event| event.action.as_str() == "auth.login.failed");
    let alerts = Alerts::new().rule(only_failed);
    let refused = ActivityEvent::builder("auth.login")
        .ip(ip)
        .outcome(Outcome::Warning)
        .build()
        .unwrap();
    assert!(alerts.evaluate(&refused).is_empty());
    assert_eq!(AlertRule::builtins().len(), 5);
}

#[test]
fn a_rule_replaces_the_one_of_the_same_name() {
    let ip = IpAddr::from([203, 0, 113, 3]);
    let alerts = Alerts::new()
        .rules(AlertRule::builtins())
        .rule(AlertRule::failed_logins_per_ip().threshold(2));
    let raised = evaluate_all(&alerts, [failed_login(ip, at(0)), failed_login(ip, at(1))]);
    assert_eq!(raised.len(), 1, "{raised:?}");
    assert_eq!(raised[0].count, 2);
}
