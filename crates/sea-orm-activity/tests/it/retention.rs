//! Retention: pruning by age with per-action overrides, and the periodic job.

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use tower_activity::{ActivityEvent, ActivityFilter, ActivityStore};
use uuid::Uuid;

use sea_orm_activity::{DEFAULT_RULE, PRUNED_ACTION, RetentionJob, RetentionPolicy};

use crate::events::{self, at, days_before};
use crate::support::each_backend;

const DAY: Duration = Duration::from_secs(86_400);

fn ids(events: &[ActivityEvent]) -> Vec<Uuid> {
    events.iter().map(|event| event.id).collect()
}

/// The stored events, without the prune records.
async fn remaining(db: &crate::support::TestDb) -> Vec<ActivityEvent> {
    events::all(db)
        .await
        .into_iter()
        .filter(|event| event.action.as_str() != PRUNED_ACTION)
        .collect()
}

/// The ids of the stored entries, without the prune records, in order; read
/// without turning rows into events.
async fn remaining_ids(db: &crate::support::TestDb) -> Vec<Uuid> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
    use sea_orm_activity::entity::{Column, Entity};
    Entity::find()
        .select_only()
        .column(Column::Id)
        .filter(Column::Action.ne(PRUNED_ACTION))
        .order_by_asc(Column::Id)
        .into_tuple()
        .all(&db.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn prune_deletes_exactly_the_entries_older_than_the_cutoff() {
    // At the precision times are stored with, so the boundary is exact.
    let now = ActivityEvent::now();
    let cutoff = days_before(now, 90);
    let micro = TimeDelta::microseconds(1);
    let mut events = vec![
        at("create", cutoff - micro),
        at("create", cutoff),
        at("create", cutoff + micro),
        at("update", days_before(now, 400)),
        at("update", now),
    ];
    events.extend((0..20).map(|i| at("read", days_before(now, 91 + i))));
    events.extend((0..5).map(|i| at("read", days_before(now, 89 - i))));
    let (older, kept): (Vec<_>, Vec<_>) = events
        .iter()
        .cloned()
        .partition(|event| event.occurred_at < cutoff);
    assert_eq!(older.len(), 22);
    each_backend(async |db| {
        events::write(db, &events).await;
        let store = db.store().chunk_size(3);
        let mut progress = Vec::new();
        let report = store
            .prune_with_progress(&RetentionPolicy::new(90 * DAY), now, |pruned| {
                progress.push(pruned)
            })
            .await
            .unwrap();
        assert_eq!(report.pruned, 22);
        assert_eq!(report.by_rule.get(DEFAULT_RULE), Some(&22));
        assert_eq!(progress.last(), Some(&22));
        assert!(progress.len() >= 8, "deleted in chunks of 3: {progress:?}");
        let mut left = ids(&remaining(db).await);
        left.sort();
        let mut expected = ids(&kept);
        expected.sort();
        assert_eq!(left, expected);

        let records = store
            .count(&ActivityFilter::new().action(PRUNED_ACTION.parse().unwrap()))
            .await
            .unwrap();
        assert_eq!(records, 1);
        let record = events::all(db)
            .await
            .into_iter()
            .find(|event| event.action.as_str() == PRUNED_ACTION)
            .unwrap();
        assert_eq!(record.details.unwrap().to_value()["count"], 22);
    })
    .await;
}

#[tokio::test]
async fn prune_respects_per_action_overrides() {
    let now = Utc::now();
    let policy = RetentionPolicy::new(30 * DAY)
        .keep("auth.*".parse().unwrap(), 365 * DAY)
        .keep("auth.session".parse().unwrap(), 2 * DAY)
        .keep("read".parse().unwrap(), 7 * DAY);
    let actions = [
        "create",
        "read",
        "auth.login.failed",
        "auth.logout",
        "auth.session.refreshed",
        "authz.checked",
        "billing.invoice.sent",
    ];
    let ages = [1, 3, 8, 29, 31, 100, 364, 366];
    let events: Vec<ActivityEvent> = actions
        .iter()
        .flat_map(|action| ages.iter().map(move |days| at(action, days_before(now, *days))))
        .collect();
    let kept: Vec<Uuid> = events
        .iter()
        .filter(|event| {
            let max_age = TimeDelta::from_std(policy.max_age(event.action.as_str())).unwrap();
            event.occurred_at >= now - max_age
        })
        .map(|event| event.id)
        .collect();
    each_backend(async |db| {
        events::write(db, &events).await;
        let report = db.store().chunk_size(5).prune(&policy, now).await.unwrap();
        assert_eq!(report.pruned as usize, events.len() - kept.len());
        let by_rule: Vec<(&str, u64)> = report
            .by_rule
            .iter()
            .map(|(rule, n)| (rule.as_str(), *n))
            .collect();
        assert_eq!(
            by_rule,
            [("*", 12), ("auth", 2), ("auth.session", 7), ("read", 6)]
        );
        let mut left = ids(&remaining(db).await);
        left.sort();
        let mut expected = kept.clone();
        expected.sort();
        assert_eq!(left, expected);
    })
    .await;
}

#[tokio::test]
async fn inserts_keep_flowing_during_a_large_prune() {
    let now = Utc::now();
    let old: Vec<ActivityEvent> = (0..3_000)
        .map(|i| at("read", days_before(now, 100 + i % 50)))
        .collect();
    each_backend(async |db| {
        events::write(db, &old).await;
        let store = db.store().chunk_size(100);
        let writer = async {
            let mut written = Vec::new();
            for _ in 0..20 {
                let batch: Vec<ActivityEvent> = (0..10).map(|_| at("create", Utc::now())).collect();
                events::write(db, &batch).await;
                written.extend(batch);
                tokio::task::yield_now().await;
            }
            written
        };
        let policy = RetentionPolicy::new(90 * DAY);
        let (report, written) = tokio::join!(store.prune(&policy, now), writer);
        assert_eq!(report.unwrap().pruned, 3_000);
        let mut left = ids(&remaining(db).await);
        left.sort();
        let mut expected = ids(&written);
        expected.sort();
        assert_eq!(left, expected);
    })
    .await;
}

#[tokio::test]
async fn prune_pauses_between_chunks() {
    let now = Utc::now();
    let old: Vec<ActivityEvent> = (0..8).map(|i| at("read", days_before(now, 100 + i))).collect();
    let pause = Duration::from_millis(60);
    each_backend(async |db| {
        events::write(db, &old).await;
        let store = db.store().chunk_size(3).chunk_pause(pause);
        let mut progress = Vec::new();
        let mut paused = Vec::new();
        let mut last = std::time::Instant::now();
        let report = store
            .prune_with_progress(&RetentionPolicy::new(90 * DAY), now, |pruned| {
                paused.push(last.elapsed());
                last = std::time::Instant::now();
                progress.push(pruned);
            })
            .await
            .unwrap();
        assert_eq!(report.pruned, 8);
        assert_eq!(progress, [3, 6, 8]);
        // Each chunk after the first waits for the pause after the one before.
        assert!(
            paused[1..].iter().all(|gap| *gap >= pause),
            "gaps between chunks: {paused:?}"
        );
        assert!(remaining(db).await.is_empty());
    })
    .await;
}

#[tokio::test]
async fn the_retention_job_prunes_periodically_and_stops_on_shutdown() {
    let now = Utc::now();
    each_backend(async |db| {
        let store = db.store();
        events::write(db, &[at("create", days_before(now, 40)), at("create", now)]).await;
        let job = RetentionJob::new(store.clone(), RetentionPolicy::new(30 * DAY))
            .interval(Duration::from_millis(20))
            .spawn();
        let records = ActivityFilter::new().action(PRUNED_ACTION.parse().unwrap());
        // Wait for two runs: the first prunes the old entry, the second
        // finds nothing more.
        tokio::time::timeout(Duration::from_secs(60), async {
            while store.count(&records).await.unwrap() < 2 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .expect("the job ran twice");
        tokio::time::timeout(Duration::from_secs(60), job.shutdown())
            .await
            .expect("the job stops on shutdown");

        let left = remaining(db).await;
        assert_eq!(left.len(), 1);
        assert!(left[0].occurred_at > days_before(now, 1));
        let page = store
            .list(
                &tower_activity::ActivityQuery::new(records.clone())
                    .order(tower_activity::Order::OldestFirst),
            )
            .await
            .unwrap();
        let counts: Vec<_> = page
            .events
            .iter()
            .map(|event| event.details.as_ref().unwrap().to_value()["count"].clone())
            .collect();
        assert_eq!(counts[0], 1);
        assert!(counts[1..].iter().all(|count| *count == 0), "{counts:?}");
        let runs = store.count(&records).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(
            store.count(&records).await.unwrap(),
            runs,
            "no run after shutdown"
        );
    })
    .await;
}

#[tokio::test]
async fn an_age_reaching_before_the_earliest_storable_time_prunes_nothing() {
    let now = Utc::now();
    // MariaDB stores no earlier time through sqlx's UTC times.
    let seventies = chrono::DateTime::parse_from_rfc3339("1971-06-01T00:00:00Z")
        .unwrap()
        .to_utc();
    let events = [
        at("debug.trace", days_before(now, 8)),
        at("debug.trace", days_before(now, 1)),
        at("create", seventies),
    ];
    each_backend(async |db| {
        events::write(db, &events).await;
        let store = db.store();
        // Kept forever, except debug entries.
        let forever = RetentionPolicy::new(Duration::MAX).keep("debug".parse().unwrap(), 7 * DAY);
        let report = store.prune(&forever, now).await.unwrap();
        assert_eq!(report.pruned, 1);
        assert_eq!(report.by_rule.get(DEFAULT_RULE), Some(&0));
        assert_eq!(report.by_rule.get("debug"), Some(&1));
        // Two thousand years reach before the year 1000 too.
        let ancient = RetentionPolicy::new(2_000 * 365 * DAY);
        assert_eq!(store.prune(&ancient, now).await.unwrap().pruned, 0);
        // Five hundred years do not, and nothing is that old.
        let centuries = RetentionPolicy::new(500 * 365 * DAY);
        assert_eq!(store.prune(&centuries, now).await.unwrap().pruned, 0);
        assert_eq!(remaining_ids(db).await, [events[1].id, events[2].id]);
        // Fifty years reach past the entry from 1971.
        let decades = RetentionPolicy::new(50 * 365 * DAY);
        assert_eq!(store.prune(&decades, now).await.unwrap().pruned, 1);
        assert_eq!(remaining_ids(db).await, [events[1].id]);
    })
    .await;
}

#[tokio::test]
async fn overrides_match_action_names_exactly_and_case_sensitively_on_every_backend() {
    let now = Utc::now();
    let old = days_before(now, 100);
    let events = [
        at("auth.login.failed", old),
        at("auth.logout", old),
        at("authx.y", old),
        at("auth_z.login", old),
        at("create", old),
    ];
    each_backend(async |db| {
        events::write(db, &events).await;
        // Written by hand or by another program: a name in another case.
        let mut shouting = at("create", old);
        shouting.request_id = Some("shouting".into());
        events::write(db, std::slice::from_ref(&shouting)).await;
        db.execute("UPDATE activity_log SET action = 'AUTH.login.failed' WHERE request_id = 'shouting'")
            .await;
        let policy = RetentionPolicy::new(30 * DAY).keep("auth".parse().unwrap(), 365 * DAY);
        let report = db.store().prune(&policy, now).await.unwrap();
        assert_eq!(report.by_rule.get("auth"), Some(&0));
        assert_eq!(report.by_rule.get(DEFAULT_RULE), Some(&4));
        assert_eq!(remaining_ids(db).await, [events[0].id, events[1].id]);
    })
    .await;
}
