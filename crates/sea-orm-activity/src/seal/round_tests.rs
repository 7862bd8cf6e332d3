//! A sealing round beside a rewrite of the log under way, on PostgreSQL:
//! the round waits for the rewrite to commit, then seals what it wrote.

use std::time::Duration;

use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};
use tower_activity::{Action, ActivityEvent, Actor};

use crate::rewrite_lock;
use crate::sink::insert_events;
use crate::support::{Backend, TestDb, on_backend};
use crate::{Sealer, VerifyOptions};

#[tokio::test]
async fn a_round_waits_for_a_rewrite_under_way_and_seals_what_it_wrote() {
    on_backend(Backend::Postgres, true, &async |db: &TestDb| {
        let event = ActivityEvent::builder(Action::Update)
            .actor(Actor::user("u_1").with_label("Ada"))
            .build()
            .unwrap();
        insert_events(&db.db, std::slice::from_ref(&event)).await.unwrap();
        // An anonymization's chunk under way: the lock taken, the row
        // rewritten, not yet committed.
        let rewrite = db.db.begin().await.unwrap();
        rewrite_lock::shared(&rewrite).await.unwrap();
        rewrite
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "UPDATE activity_log SET actor_label = NULL WHERE id = $1",
                [event.id.into()],
            ))
            .await
            .unwrap();
        let store = db.store();
        let sealing = tokio::spawn(async move { Sealer::new(store).seal_pending().await });
        // Commit once the round waits for the lock (a round that did not
        // wait would have sealed the row as it was, and the check below
        // would find it changed).
        for _ in 0..1_000 {
            if sealing.is_finished() || waiting_for_a_lock(db).await {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        rewrite.commit().await.unwrap();
        assert_eq!(sealing.await.unwrap().unwrap(), 1);
        let report = db.store().verify(&VerifyOptions::new()).await.unwrap();
        assert!(report.is_intact(), "{report}");
    })
    .await;
}

/// Whether a session of `db`'s database waits for an advisory lock.
async fn waiting_for_a_lock(db: &TestDb) -> bool {
    let row = db
        .db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted \
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        ))
        .await
        .unwrap();
    row.and_then(|row| row.try_get_by_index::<i64>(0).ok())
        .is_some_and(|waiting| waiting > 0)
}
