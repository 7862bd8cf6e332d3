//! The schema: the migrations that create and extend the `activity_log`
//! table and its indexes, one file each, and a standalone migrator for
//! applications that have none.

mod add_category;
mod add_filter_indexes;
mod add_seals;
mod create_activity_log;

use sea_orm::sea_query::{Alias, Index, IndexCreateStatement};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use sea_orm_migration::SchemaManager;
use sea_orm_migration::prelude::{DbErr, DynIden, IntoIden, MigrationTrait, MigratorTrait};

pub use self::add_category::AddCategory;
pub use self::add_filter_indexes::AddFilterIndexes;
pub use self::add_seals::AddSeals;
pub use self::create_activity_log::CreateActivityLog;
use crate::entity::{Column, Entity};

/// The name of the table where [`ActivityMigrator`] records the migrations
/// it has applied, apart from an application's own `seaql_migrations`.
pub const MIGRATIONS_TABLE: &str = "activity_log_migrations";

/// Every migration of this crate, in order: add them to your own `Migrator`.
///
/// Later versions of the crate append to this list, so extending your list
/// with it keeps the table up to date.
///
/// ```
/// use sea_orm_migration::prelude::*;
///
/// struct Migrator;
///
/// impl MigratorTrait for Migrator {
///     fn migrations() -> Vec<Box<dyn MigrationTrait>> {
///         let mut migrations: Vec<Box<dyn MigrationTrait>> = vec![/* your own migrations */];
///         migrations.extend(sea_orm_activity::migrations());
///         migrations
///     }
/// }
/// # assert_eq!(Migrator::migrations().len(), 4);
/// ```
pub fn migrations() -> Vec<Box<dyn MigrationTrait>> {
    vec![
        Box::new(CreateActivityLog),
        Box::new(AddCategory),
        Box::new(AddFilterIndexes),
        Box::new(AddSeals),
    ]
}

/// Applies [`migrations`] and records them in its own table,
/// [`MIGRATIONS_TABLE`], for applications that do not use sea-orm migrations
/// themselves (the `activity-log migrate` command runs it).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), sea_orm::DbErr> {
/// use sea_orm_activity::ActivityMigrator;
/// use sea_orm_migration::MigratorTrait;
///
/// let db = sea_orm::Database::connect("sqlite::memory:").await?;
/// ActivityMigrator::up(&db, None).await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct ActivityMigrator;

impl MigratorTrait for ActivityMigrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        migrations()
    }

    fn migration_table_name() -> DynIden {
        Alias::new(MIGRATIONS_TABLE).into_iden()
    }
}

/// The index `name` on `columns` of the table.
fn index(name: &str, columns: &[Column]) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(Entity);
    for column in columns {
        index.col(*column);
    }
    index
}

/// Whether the table has the index `name` (for MySQL, which has no
/// `CREATE INDEX IF NOT EXISTS`).
async fn has_index(manager: &SchemaManager<'_>, name: &str) -> Result<bool, DbErr> {
    let query = Statement::from_sql_and_values(
        DbBackend::MySql,
        "SELECT 1 FROM information_schema.STATISTICS \
         WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND INDEX_NAME = ? LIMIT 1",
        ["activity_log".into(), name.into()],
    );
    Ok(manager.get_connection().query_one_raw(query).await?.is_some())
}

/// Creates the index `name` on `columns` unless the table has it already.
async fn create_index_if_missing(
    manager: &SchemaManager<'_>,
    name: &str,
    columns: &[Column],
) -> Result<(), DbErr> {
    let mut index = index(name, columns);
    if manager.get_database_backend() != DbBackend::MySql {
        manager.create_index(index.if_not_exists().take()).await
    } else if has_index(manager, name).await? {
        Ok(())
    } else {
        manager.create_index(index).await
    }
}

/// Drops the index `name` if the table has it.
async fn drop_index_if_present(manager: &SchemaManager<'_>, name: &str) -> Result<(), DbErr> {
    let mut drop = Index::drop();
    drop.name(name);
    if manager.get_database_backend() == DbBackend::MySql {
        if !has_index(manager, name).await? {
            return Ok(());
        }
        drop.table(Entity);
    } else {
        drop.if_exists();
    }
    manager.drop_index(drop).await
}
