//! The migration, in an application's migrator and standalone.

use sea_orm::{ConnectionTrait, EntityTrait, PaginatorTrait, Statement};
use sea_orm_migration::prelude::*;

use sea_orm_activity::{ActivityMigrator, AddFilterIndexes, CreateActivityLog, MIGRATIONS_TABLE};

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
            [CreateActivityLog::NAME, AddFilterIndexes::NAME]
        );
        // The standalone migrator keeps its own record and finds the table there.
        ActivityMigrator::up(&db.db, None).await.unwrap();
        assert_eq!(
            applied(&db.db, MIGRATIONS_TABLE).await,
            [CreateActivityLog::NAME, AddFilterIndexes::NAME]
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
