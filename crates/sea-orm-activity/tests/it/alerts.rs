//! Alert rules across instances: each instance's rules see only its own
//! events, a `StoreCount` sees them all in the shared store.

use chrono::TimeDelta;
use tower_activity::{
    ALERT_ACTION, ActivityEvent, ActivityFilter, ActivityStore, Actor, AlertRule, Alerts, Outcome, Recorder,
    StoreCount,
};

use crate::support::each_backend;

#[tokio::test]
async fn a_store_count_sees_what_no_single_instance_does() {
    each_backend(async |test| {
        let store = test.store();
        let now = ActivityEvent::now();
        let rule = || AlertRule::failed_logins_per_actor();
        // Two instances behind a load balancer, three attempts each.
        let instances: Vec<_> = (0..2)
            .map(|_| {
                let alerts = Alerts::new().rule(rule());
                (
                    Recorder::builder(store.clone()).alerts(alerts.clone()).spawn(),
                    alerts,
                )
            })
            .collect();
        for (n, (recorder, _)) in instances.iter().enumerate() {
            for attempt in 0..3 {
                let failed = ActivityEvent::builder("auth.login.failed")
                    .actor(Actor::user("ada"))
                    .outcome(Outcome::Warning)
                    .occurred_at(now - TimeDelta::seconds(10 * attempt + n as i64))
                    .build()
                    .unwrap();
                recorder.record(failed).unwrap();
            }
        }
        // An attempt older than the window, and another account's.
        let old = ActivityEvent::builder("auth.login.failed")
            .actor(Actor::user("ada"))
            .occurred_at(now - TimeDelta::minutes(16))
            .build()
            .unwrap();
        let other = ActivityEvent::builder("auth.login.failed")
            .actor(Actor::user("bob"))
            .build()
            .unwrap();
        instances[0].0.record(old).unwrap();
        instances[0].0.record(other).unwrap();
        for (recorder, alerts) in &instances {
            recorder.shutdown().await;
            assert_eq!(alerts.stats().raised, 0, "[{}] three of five", test.backend);
        }
        let alert_events = ActivityFilter::new().action(ALERT_ACTION.parse().unwrap());
        assert!(store.counts(&alert_events).await.unwrap().is_empty());

        let check = StoreCount::for_rule(&rule()).unwrap();
        assert_eq!(
            check.count(&store, "ada", now).await.unwrap(),
            6,
            "[{}]",
            test.backend
        );
        assert!(check.reached(&store, "ada", now).await.unwrap());
        assert!(!check.reached(&store, "bob", now).await.unwrap());
    })
    .await;
}
