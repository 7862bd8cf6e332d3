//! The filtered keyset pages and the retention scan read through the indexes
//! made for them: checked with `EXPLAIN` on PostgreSQL over a table analyzed
//! with enough rows for the planner to choose.

use chrono::{TimeDelta, Utc};
use sea_orm::{ConnectionTrait, DbBackend, QueryTrait, Statement, TransactionTrait};
use tower_activity::{ActivityEvent, ActivityFilter, Actor, Order};

use crate::filter;
use crate::sink::insert_events;
use crate::support::{Backend, TestDb, on_backend};

/// The plan PostgreSQL chooses for `statement`, with sequential scans
/// discouraged so that a small test table behaves as a large one would.
async fn plan(db: &TestDb, statement: Statement) -> String {
    let txn = db.db.begin().await.unwrap();
    txn.execute_unprepared("SET LOCAL enable_seqscan = off")
        .await
        .unwrap();
    let explain = Statement::from_sql_and_values(
        DbBackend::Postgres,
        format!("EXPLAIN {}", statement.sql),
        statement.values.map(|values| values.0).unwrap_or_default(),
    );
    let rows = txn.query_all_raw(explain).await.unwrap();
    txn.rollback().await.unwrap();
    rows.iter()
        .map(|row| row.try_get_by_index::<String>(0).unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn filtered_pages_and_retention_use_their_indexes() {
    on_backend(Backend::Postgres, true, &async |db: &TestDb| {
        let now = Utc::now();
        let events: Vec<ActivityEvent> = (0..20_000)
            .map(|i| {
                let mut event = ActivityEvent::builder("invoice.sent")
                    .tenant(format!("tenant_{}", i % 200))
                    .actor(Actor::user(format!("u_{}", i % 1_000)))
                    .resource(["invoice", "user", "note"][i % 3], format!("r_{}", i % 5_000))
                    .request_id(format!("req_{i}"))
                    .ip(std::net::IpAddr::from([
                        10,
                        0,
                        (i / 256 % 256) as u8,
                        (i % 256) as u8,
                    ]))
                    .build()
                    .unwrap();
                event.occurred_at = now - TimeDelta::minutes(i as i64 * 30);
                event
            })
            .collect();
        for chunk in events.chunks(5_000) {
            insert_events(&db.db, chunk).await.unwrap();
        }
        db.execute("ANALYZE activity_log").await;

        let after = Some(events[10_000].id);
        let pages = [
            (
                ActivityFilter::new().tenant("tenant_7"),
                "ix_activity_log_tenant_id",
            ),
            (ActivityFilter::new().actor("u_70"), "ix_activity_log_actor_id"),
            (
                ActivityFilter::new().resource("note", "r_77"),
                "ix_activity_log_resource",
            ),
            (
                ActivityFilter::new().resource_type("note").tenant("tenant_7"),
                "ix_activity_log_tenant_id",
            ),
            (
                ActivityFilter::new().request_id("req_77"),
                "ix_activity_log_request_id",
            ),
            (
                ActivityFilter::new().ip(std::net::IpAddr::from([10, 0, 7, 7])),
                "ix_activity_log_ip",
            ),
        ];
        for (filter, index) in pages {
            for order in [Order::NewestFirst, Order::OldestFirst] {
                let statement =
                    filter::page(&filter, DbBackend::Postgres, order, after, 51).build(DbBackend::Postgres);
                let plan = plan(db, statement).await;
                assert!(
                    plan.contains(index),
                    "{filter:?} {order:?} should use {index}:\n{plan}"
                );
                assert!(!plan.contains("Seq Scan"), "{plan}");
            }
        }

        let policy = crate::RetentionPolicy::new(std::time::Duration::from_secs(365 * 86_400)).keep(
            "auth".parse().unwrap(),
            std::time::Duration::from_secs(400 * 86_400),
        );
        for (_, governed, _) in policy.rules() {
            let older = sea_orm::Condition::all()
                .add(governed)
                .add(sea_orm::ColumnTrait::lt(
                    &crate::entity::Column::OccurredAt,
                    now - TimeDelta::days(365),
                ));
            let plan = plan(db, filter::oldest(older, 1_000).build(DbBackend::Postgres)).await;
            assert!(plan.contains("ix_activity_log_occurred_at"), "{plan}");
        }
    })
    .await;
}
