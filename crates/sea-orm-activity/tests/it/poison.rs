//! A poisoned event, one the database refuses for its values, among good
//! ones: set aside, kept in the dead-letter file and reported; every other
//! event written once.

use std::time::Duration;

use sea_orm::{ConnectionTrait, EntityTrait, PaginatorTrait, Statement};
use tower_activity::spool::Spool;
use tower_activity::{ActivityEvent, ActivitySink, ActivityStore, REJECTED_ACTION, Recorder};

use sea_orm_activity::entity::Entity;

use crate::events::{self, varied};
use crate::support::{Backend, TestDb, each_backend};

/// Makes the table refuse events whose resource id is `refused`: a check
/// constraint, or on SQLite (which cannot add one to a table) a trigger.
pub(crate) async fn refuse_resource_id(db: &TestDb, refused: &str) {
    let sql = match db.backend {
        Backend::Sqlite => format!(
            "CREATE TRIGGER no_refused BEFORE INSERT ON activity_log WHEN NEW.resource_id = '{refused}' \
             BEGIN SELECT RAISE(ABORT, 'resource id refused'); END"
        ),
        _ => format!("ALTER TABLE activity_log ADD CONSTRAINT no_refused CHECK (resource_id <> '{refused}')"),
    };
    db.execute(&sql).await;
}

#[tokio::test]
async fn the_store_says_a_refused_value_is_permanent() {
    each_backend(async |db| {
        refuse_resource_id(db, "refused").await;
        let mut event = varied(1);
        event.resource_id = Some("refused".into());
        let error = db.store().write_batch(&[event]).await.unwrap_err();
        assert!(error.is_permanent(), "[{}] {error:?}", db.backend);
    })
    .await;
}

#[tokio::test]
async fn a_poisoned_event_among_ten_thousand_is_set_aside_and_reported() {
    let mut events: Vec<ActivityEvent> = (0..10_000).map(varied).collect();
    events[6_789].resource_id = Some("refused".into());
    let poisoned = events[6_789].id;
    each_backend(async |db| {
        refuse_resource_id(db, "refused").await;
        let dir = tempfile::tempdir().unwrap();
        let recorder = Recorder::builder(db.store())
            .spool(Spool::open(dir.path()).unwrap())
            .retry_backoff(Duration::from_millis(5), Duration::from_millis(50))
            .spawn();
        for event in &events {
            recorder
                .record_wait(event.clone(), Duration::from_secs(60))
                .await
                .unwrap();
        }
        let report = recorder.shutdown().await;
        let stats = recorder.stats();
        let backend = db.backend;
        assert_eq!(
            (stats.rejected, report.dropped, report.lost),
            (1, 0, 0),
            "[{backend}]"
        );

        let rows = Entity::find().count(&db.db).await.unwrap();
        let distinct = distinct_ids(db).await;
        let reports: Vec<ActivityEvent> = events::all(db)
            .await
            .into_iter()
            .filter(|event| event.action.as_str() == REJECTED_ACTION)
            .collect();
        assert_eq!(reports.len(), 1, "[{backend}] one report");
        let details = reports[0].details.as_ref().unwrap().to_value();
        assert_eq!(details["count"], 1, "[{backend}]");
        let reason = details["reason"].as_str().unwrap();
        assert!(reason.contains("refused"), "[{backend}] {reason}");
        assert_eq!(rows, 9_999 + 1, "[{backend}] every good event and the report");
        assert_eq!(distinct, rows, "[{backend}] no event twice");
        assert!(db.store().get(poisoned).await.unwrap().is_none());

        let dead_letter = std::fs::read_to_string(dir.path().join("rejected.jsonl")).unwrap();
        let lines: Vec<serde_json::Value> = dead_letter
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(lines.len(), 1, "[{backend}]");
        assert_eq!(lines[0]["event"]["id"], poisoned.to_string(), "[{backend}]");
    })
    .await;
}

/// `count(distinct id)` of the table.
pub(crate) async fn distinct_ids(db: &TestDb) -> u64 {
    let backend = db.db.get_database_backend();
    let row = db
        .db
        .query_one_raw(Statement::from_string(
            backend,
            "SELECT COUNT(DISTINCT id) AS n FROM activity_log",
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "n").unwrap() as u64
}
