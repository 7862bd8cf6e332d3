//! The migration, in an application's migrator and standalone.

use sea_orm::{ConnectionTrait, EntityTrait, PaginatorTrait, Statement};
use sea_orm_migration::prelude::*;

use sea_orm_activity::entity::{Column, Entity};
use sea_orm_activity::{
    ActivityMigrator, AddCategory, AddFilterIndexes, AddSeals, CreateActivityLog, MIGRATIONS_TABLE,
};
use tower_activity::{Action, ActivityEvent, ActivityFilter, ActivityQuery, ActivityStore};

use crate::support::Backend;

use crate::events::{self, varied};
use crate::support::each_empty_backend;

struct AppMigrator;

impl MigratorTrait for AppMigrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        sea_orm_activity::migrations()
    }
}

async fn applied(db: &sea_orm::DatabaseConnection, table: &str) -> Vec<String> {
    let sql = format!("SELECT version FROM {table}");
    db.query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .into_iter()
        .map(|row| row.try_get_by_index(0).unwrap())
        .collect()
}

#[tokio::test]
async fn the_migration_runs_in_an_application_migrator_and_standalone() {
    each_empty_backend(async |db| {
        AppMigrator::up(&db.db, None).await.unwrap();
        assert_eq!(
            applied(&db.db, "seaql_migrations").await,
            [
                CreateActivityLog::NAME,
                AddCategory::NAME,
                AddFilterIndexes::NAME,
                AddSeals::NAME
            ]
        );
        // The standalone migrator keeps its own record and finds the table there.
        ActivityMigrator::up(&db.db, None).await.unwrap();
        assert_eq!(
            applied(&db.db, MIGRATIONS_TABLE).await,
            [
                CreateActivityLog::NAME,
                AddCategory::NAME,
                AddFilterIndexes::NAME,
                AddSeals::NAME
            ]
        );
        events::write(db, &[varied(1)]).await;
        assert_eq!(
            sea_orm_activity::entity::Entity::find()
                .count(&db.db)
                .await
                .unwrap(),
            1
        );
        ActivityMigrator::down(&db.db, None).await.unwrap();
        let gone = sea_orm_activity::entity::Entity::find().count(&db.db).await;
        assert!(gone.is_err(), "the table is dropped");
    })
    .await;
}

/// The standalone migrator of the first version, which had only
/// `CreateActivityLog`.
struct FirstVersionMigrator;

impl MigratorTrait for FirstVersionMigrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(CreateActivityLog)]
    }

    fn migration_table_name() -> DynIden {
        Alias::new(MIGRATIONS_TABLE).into_iden()
    }
}

#[tokio::test]
async fn a_table_of_the_first_version_gains_the_category_and_keeps_its_rows() {
    each_empty_backend(async |db| {
        FirstVersionMigrator::up(&db.db, None).await.unwrap();
        // Rows written by the first version, which knew no category.
        let old =
            [Action::Create, Action::Delete].map(|action| ActivityEvent::builder(action).build().unwrap());
        for event in &old {
            let at = match db.backend {
                Backend::MySql => sea_orm::Value::from(event.occurred_at.naive_utc()),
                _ => sea_orm::Value::from(event.occurred_at),
            };
            let insert = Query::insert()
                .into_table(Entity)
                .columns([Column::Id, Column::OccurredAt, Column::Action, Column::Outcome])
                .values_panic([
                    event.id.into(),
                    at.into(),
                    event.action.as_str().into(),
                    "success".into(),
                ])
                .to_owned();
            db.db.execute(&insert).await.unwrap();
        }

        ActivityMigrator::up(&db.db, None).await.unwrap();
        assert_eq!(
            applied(&db.db, MIGRATIONS_TABLE).await,
            [
                CreateActivityLog::NAME,
                AddCategory::NAME,
                AddFilterIndexes::NAME,
                AddSeals::NAME
            ]
        );
        // Run again through an application's migrator: nothing is added twice.
        AppMigrator::up(&db.db, None).await.unwrap();

        let store = db.store();
        let listed = store
            .list(&ActivityQuery::new(ActivityFilter::new()))
            .await
            .unwrap();
        assert_eq!(listed.events.len(), 2);
        assert!(listed.events.iter().all(|event| event.category.is_none()));
        let new = ActivityEvent::builder("auth.login.failed")
            .category("auth")
            .build()
            .unwrap();
        events::write(db, std::slice::from_ref(&new)).await;
        let auth = store
            .list(&ActivityQuery::new(ActivityFilter::new().category("auth")))
            .await
            .unwrap();
        assert_eq!(auth.events, [new]);

        // Down removes the column again, leaving the first version's table.
        AddCategory.down(&SchemaManager::new(&db.db)).await.unwrap();
        let category = || {
            let sql = "SELECT category FROM activity_log";
            db.db
                .query_all_raw(Statement::from_string(db.db.get_database_backend(), sql))
        };
        assert!(category().await.is_err(), "the column is gone");
        AddCategory.up(&SchemaManager::new(&db.db)).await.unwrap();
        assert_eq!(category().await.unwrap().len(), 3);
    })
    .await;
}
